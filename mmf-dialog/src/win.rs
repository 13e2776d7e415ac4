//! The Win32 dialog: the template `IDD_DIALOG1` from `res/dialog.rc` run by `DialogBoxParamW`,
//! whose dialog manager gives the keyboard handling (Tab, the Alt+S / Alt+R / Alt+X mnemonics,
//! Esc as IDCANCEL), and a dialog procedure that does what mmf1.asm's `DlgProc` does, with the
//! object work in [`crate::seed`].
//!
//! # Safety
//!
//! Every `unsafe` block is a user32/kernel32 call on the dialog window (valid from WM_INITDIALOG
//! until EndDialog returns), its controls (children of it, looked up by id), or NUL-terminated
//! UTF-16 strings and buffers that live across the call.
#![allow(unsafe_code)]

use crate::ids::{IDC_BUTTON1, IDC_BUTTON2, IDC_EDIT1, IDD_DIALOG1, IDI_ICON1};
use crate::seed::{self, Seed};
use std::cell::RefCell;
use std::process::ExitCode;
use std::ptr::{null, null_mut};
use windows_sys::Win32::Foundation::{FALSE, HWND, LPARAM, RECT, TRUE, WPARAM};
use windows_sys::Win32::System::LibraryLoader::GetModuleHandleW;
use windows_sys::Win32::UI::Controls::EM_LIMITTEXT;
use windows_sys::Win32::UI::Input::KeyboardAndMouse::EnableWindow;
use windows_sys::Win32::UI::WindowsAndMessaging::{
    BN_CLICKED, DialogBoxParamW, EndDialog, GetDlgItem, GetDlgItemTextW, GetWindowRect,
    GetWindowTextLengthW, ICON_BIG, ICON_SMALL, IDCANCEL, LoadIconW, MB_ICONERROR,
    MB_ICONINFORMATION, MB_ICONWARNING, MB_OK, MESSAGEBOX_STYLE, MessageBoxW, SPI_GETWORKAREA,
    SWP_NOSIZE, SWP_NOZORDER, SendDlgItemMessageW, SendMessageW, SetDlgItemTextW, SetWindowPos,
    SystemParametersInfoW, WM_COMMAND, WM_INITDIALOG, WM_NEXTDLGCTL, WM_SETICON,
};

const CAPTION: &str = "MMF Sharing Data";

thread_local! {
    /// The instance's object. The dialog runs on the main thread only; a handler takes what it
    /// needs and lets go before it shows a message box (whose message loop may call back in).
    static SEED: RefCell<Option<Seed>> = const { RefCell::new(None) };
}

/// NUL-terminated UTF-16.
fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

/// `MAKEINTRESOURCEW`.
fn resource(id: u16) -> *const u16 {
    usize::from(id) as *const u16
}

fn message(owner: HWND, text: &str, icon: MESSAGEBOX_STYLE) {
    let (text, caption) = (wide(text), wide(CAPTION));
    // SAFETY: both strings are NUL-terminated and live across the call; `owner` is the dialog
    // or null.
    unsafe { MessageBoxW(owner, text.as_ptr(), caption.as_ptr(), MB_OK | icon) };
}

pub fn main() -> ExitCode {
    let name = match seed::parse_args(std::env::args().skip(1)) {
        Ok(Some(name)) => name,
        Ok(None) => {
            message(null_mut(), seed::USAGE, MB_ICONINFORMATION);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            message(null_mut(), &format!("{e}\n\n{}", seed::USAGE), MB_ICONERROR);
            return ExitCode::from(2);
        }
    };
    // `initdlg`'s OpenFileMapping, before the window exists, so that a bad name is reported
    // instead of a dialog that cannot work.
    match Seed::start(&name) {
        Ok(s) => SEED.with(|cell| *cell.borrow_mut() = Some(s)),
        Err(e) => {
            message(null_mut(), &format!("mmf-dialog: {e}"), MB_ICONERROR);
            return ExitCode::from(if e.kind() == mmf::ErrorKind::InvalidName {
                2
            } else {
                1
            });
        }
    }
    // SAFETY: a null module name asks for this executable's own handle.
    let instance = unsafe { GetModuleHandleW(null()) };
    // SAFETY: the template is a resource of this executable; `dialog_proc` has the DLGPROC
    // signature.
    let ended = unsafe {
        DialogBoxParamW(
            instance,
            resource(IDD_DIALOG1),
            null_mut(),
            Some(dialog_proc),
            0,
        )
    };
    // Exit: unmap the view and close the handle (the seed's `destroy`), so the object goes with
    // the last instance.
    drop(SEED.with(|cell| cell.borrow_mut().take()));
    if ended == -1 {
        let e = std::io::Error::last_os_error();
        message(
            null_mut(),
            &format!("mmf-dialog: cannot open the dialog: {e}"),
            MB_ICONERROR,
        );
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// `DlgProc`.
unsafe extern "system" fn dialog_proc(dlg: HWND, msg: u32, wparam: WPARAM, _: LPARAM) -> isize {
    match msg {
        WM_INITDIALOG => {
            init(dlg);
            FALSE as isize // the focus is set in `init`
        }
        WM_COMMAND => {
            let (id, code) = ((wparam & 0xffff) as i32, ((wparam >> 16) & 0xffff) as u32);
            match id {
                IDC_BUTTON1 if code == BN_CLICKED => store(dlg),
                IDC_BUTTON2 if code == BN_CLICKED => retrieve(dlg),
                // Exit, Esc and the window's close box.
                IDCANCEL => {
                    // SAFETY: `dlg` is the dialog, ended once.
                    unsafe { EndDialog(dlg, 0) };
                }
                _ => return FALSE as isize,
            }
            TRUE as isize
        }
        _ => FALSE as isize,
    }
}

fn item(dlg: HWND, id: i32) -> HWND {
    // SAFETY: `dlg` is the dialog; an unknown id gives null.
    unsafe { GetDlgItem(dlg, id) }
}

/// Store enabled and Retrieve disabled, or the reverse.
fn enable_store(dlg: HWND, store: bool) {
    // SAFETY: the buttons are the dialog's children.
    unsafe {
        EnableWindow(item(dlg, IDC_BUTTON1), i32::from(store));
        EnableWindow(item(dlg, IDC_BUTTON2), i32::from(!store));
    }
}

/// Gives the edit box the focus, the dialog way (the default-button state follows).
fn focus_edit(dlg: HWND) {
    // SAFETY: `dlg` is the dialog; WM_NEXTDLGCTL with lParam TRUE takes a control handle.
    unsafe {
        SendMessageW(
            dlg,
            WM_NEXTDLGCTL,
            item(dlg, IDC_EDIT1) as WPARAM,
            TRUE as LPARAM,
        )
    };
}

/// `initdlg`: the icon, the edit box's limit, the buttons as the start-up check decided, the
/// window centred on the screen's work area, and the focus in the edit box.
fn init(dlg: HWND) {
    // SAFETY: the icon is a resource of this executable; WM_SETICON takes an icon handle.
    unsafe {
        let icon = LoadIconW(GetModuleHandleW(null()), resource(IDI_ICON1));
        SendMessageW(dlg, WM_SETICON, ICON_BIG as WPARAM, icon as LPARAM);
        SendMessageW(dlg, WM_SETICON, ICON_SMALL as WPARAM, icon as LPARAM);
        SendDlgItemMessageW(dlg, IDC_EDIT1, EM_LIMITTEXT, seed::MAX_CHARS, 0);
    }
    let existed = SEED.with(|cell| cell.borrow().as_ref().is_some_and(Seed::existed_at_start));
    enable_store(dlg, !existed);
    let mut window = RECT {
        left: 0,
        top: 0,
        right: 0,
        bottom: 0,
    };
    let mut area = window;
    // SAFETY: both RECTs are writable and live across the calls; SPI_GETWORKAREA writes a RECT.
    let known = unsafe {
        GetWindowRect(dlg, &mut window) != 0
            && SystemParametersInfoW(SPI_GETWORKAREA, 0, (&mut area as *mut RECT).cast(), 0) != 0
    };
    if known {
        let (w, h) = (window.right - window.left, window.bottom - window.top);
        let x = area.left + (area.right - area.left - w) / 2;
        let y = area.top + (area.bottom - area.top - h) / 2;
        // SAFETY: `dlg` is the dialog; only its position changes.
        unsafe { SetWindowPos(dlg, null_mut(), x, y, 0, 0, SWP_NOSIZE | SWP_NOZORDER) };
    }
    focus_edit(dlg);
}

/// The edit box's text.
fn edit_text(dlg: HWND) -> String {
    let edit = item(dlg, IDC_EDIT1);
    // SAFETY: `edit` is the dialog's edit box.
    let len = unsafe { GetWindowTextLengthW(edit) }.max(0) as usize;
    let mut buf = vec![0u16; len + 1];
    // SAFETY: `buf` holds `buf.len()` UTF-16 units, the count passed.
    let got = unsafe { GetDlgItemTextW(dlg, IDC_EDIT1, buf.as_mut_ptr(), buf.len() as i32) };
    String::from_utf16_lossy(&buf[..(got as usize).min(len)])
}

fn set_edit_text(dlg: HWND, text: &str) {
    let text = wide(text);
    // SAFETY: `text` is NUL-terminated and lives across the call.
    unsafe { SetDlgItemTextW(dlg, IDC_EDIT1, text.as_ptr()) };
}

/// Store Data (`map`): nothing for an empty edit box, as in the seed; else the text into the
/// object, Store disabled, Retrieve enabled, and "Open a new instance now!" in the edit box.
fn store(dlg: HWND) {
    let text = edit_text(dlg);
    if text.is_empty() {
        return;
    }
    let done = SEED.with(|cell| cell.borrow_mut().as_mut().map(|s| s.store(&text)));
    match done {
        Some(Ok(stored)) => {
            enable_store(dlg, false);
            set_edit_text(dlg, seed::NEW_INSTANCE);
            focus_edit(dlg);
            if stored.cut {
                message(
                    dlg,
                    &format!(
                        "The text is longer than the object holds; its first {} bytes (UTF-8) \
                         were stored.",
                        stored.bytes
                    ),
                    MB_ICONWARNING,
                );
            }
        }
        Some(Err(e)) => message(dlg, &format!("Store Data failed: {e}"), MB_ICONERROR),
        None => {}
    }
}

/// Retrieve Data (`retrieve`): the object's text into the edit box.
fn retrieve(dlg: HWND) {
    let got = SEED.with(|cell| cell.borrow_mut().as_mut().map(Seed::retrieve));
    match got {
        Some(Ok(text)) => {
            set_edit_text(dlg, &text);
            focus_edit(dlg);
        }
        Some(Err(e)) => message(dlg, &format!("Retrieve Data failed: {e}"), MB_ICONERROR),
        None => {}
    }
}
