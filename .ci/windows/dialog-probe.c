/*
 * The GUI test's eyes on the Windows side (.ci/windows/dialog.sh), built with mingw-w64:
 *
 *   dialog-probe read NAME     the seed's own calls: OpenFileMappingA(FILE_MAP_ALL_ACCESS, TRUE,
 *                              NAME), MapViewOfFile of 1000h bytes; prints the text up to its NUL.
 *                              Exit 0; 3 if the object does not exist (error 2), 1 otherwise.
 *   dialog-probe windows       one line per visible "MMF Sharing Data" dialog window:
 *                              hwnd=.. centred=0|1 store=0|1 retrieve=0|1 focus=edit|store|
 *                              retrieve|exit|other|none limit=N x=.. y=.. text=THE EDIT BOX'S TEXT
 *   dialog-probe move HWND X Y moves a window (to put the two instances side by side for the
 *                              screenshot; the test itself uses the keyboard only).
 *
 * The window state is read across processes the documented ways: IsWindowEnabled, GetWindowRect,
 * GetGUIThreadInfo (the focus of the window's thread), and WM_GETTEXT / EM_GETLIMITTEXT sent to
 * the edit box (the system copies WM_GETTEXT's text between processes).
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDC_BUTTON1 1000 /* Store Data */
#define IDC_BUTTON2 1001 /* Retrieve Data */
#define IDC_EDIT1 1002

static int read_object(const char *name)
{
    HANDLE mapping = OpenFileMappingA(FILE_MAP_ALL_ACCESS, TRUE, name);
    if (mapping == NULL) {
        DWORD e = GetLastError();
        printf("OpenFileMappingA(%s) failed: error %lu\n", name, (unsigned long)e);
        return e == ERROR_FILE_NOT_FOUND ? 3 : 1;
    }
    const char *text = MapViewOfFile(mapping, FILE_MAP_ALL_ACCESS, 0, 0, 0x1000);
    if (text == NULL) {
        printf("MapViewOfFile(%s) failed: error %lu\n", name, (unsigned long)GetLastError());
        CloseHandle(mapping);
        return 1;
    }
    printf("%.*s\n", (int)strnlen(text, 0x1000), text);
    UnmapViewOfFile(text);
    CloseHandle(mapping);
    return 0;
}

static const char *focus_name(HWND dlg, HWND focus)
{
    if (focus == NULL)
        return "none";
    if (focus == GetDlgItem(dlg, IDC_EDIT1))
        return "edit";
    if (focus == GetDlgItem(dlg, IDC_BUTTON1))
        return "store";
    if (focus == GetDlgItem(dlg, IDC_BUTTON2))
        return "retrieve";
    if (focus == GetDlgItem(dlg, IDCANCEL))
        return "exit";
    return "other";
}

static BOOL CALLBACK one_window(HWND w, LPARAM unused)
{
    char title[64], cls[16];
    (void)unused;
    if (!IsWindowVisible(w) || !GetClassNameA(w, cls, sizeof cls) || strcmp(cls, "#32770") != 0)
        return TRUE;
    if (!GetWindowTextA(w, title, sizeof title) || strcmp(title, "MMF Sharing Data") != 0)
        return TRUE;
    RECT r, area;
    GetWindowRect(w, &r);
    SystemParametersInfoA(SPI_GETWORKAREA, 0, &area, 0);
    long dx = (r.left + r.right) / 2 - (area.left + area.right) / 2;
    long dy = (r.top + r.bottom) / 2 - (area.top + area.bottom) / 2;
    int centred = labs(dx) <= 1 && labs(dy) <= 1;

    GUITHREADINFO gui;
    memset(&gui, 0, sizeof gui);
    gui.cbSize = sizeof gui;
    DWORD thread = GetWindowThreadProcessId(w, NULL);
    HWND focus = GetGUIThreadInfo(thread, &gui) ? gui.hwndFocus : NULL;

    HWND edit = GetDlgItem(w, IDC_EDIT1);
    static char text[8192];
    DWORD_PTR got = 0, limit = 0;
    text[0] = 0;
    if (!SendMessageTimeoutA(edit, WM_GETTEXT, sizeof text, (LPARAM)text, SMTO_ABORTIFHUNG, 5000,
                             &got))
        strcpy(text, "<no answer>");
    SendMessageTimeoutA(edit, EM_GETLIMITTEXT, 0, 0, SMTO_ABORTIFHUNG, 5000, &limit);
    printf("hwnd=%p centred=%d store=%d retrieve=%d focus=%s limit=%lu x=%ld y=%ld text=%s\n",
           (void *)w, centred, IsWindowEnabled(GetDlgItem(w, IDC_BUTTON1)) ? 1 : 0,
           IsWindowEnabled(GetDlgItem(w, IDC_BUTTON2)) ? 1 : 0, focus_name(w, focus),
           (unsigned long)limit, r.left, r.top, text);
    return TRUE;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "read") == 0)
        return read_object(argv[2]);
    if (argc == 2 && strcmp(argv[1], "windows") == 0) {
        EnumWindows(one_window, 0);
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "move") == 0) {
        HWND w = (HWND)(ULONG_PTR)strtoull(argv[2], NULL, 16);
        return SetWindowPos(w, NULL, atoi(argv[3]), atoi(argv[4]), 0, 0,
                            SWP_NOSIZE | SWP_NOZORDER | SWP_NOACTIVATE)
                   ? 0
                   : 1;
    }
    fprintf(stderr, "usage: dialog-probe read NAME | windows | move HWND X Y\n");
    return 2;
}
