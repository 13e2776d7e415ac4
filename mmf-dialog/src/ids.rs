//! The seed's resource identifiers (mmf1.rc), as `res/dialog.rc` defines them.
#![cfg_attr(not(windows), allow(dead_code))] // only the Windows program and the test use them

/// The dialog template.
pub const IDD_DIALOG1: u16 = 101;
/// The icon.
pub const IDI_ICON1: u16 = 102;
/// "Store Data".
pub const IDC_BUTTON1: i32 = 1000;
/// "Retrieve Data".
pub const IDC_BUTTON2: i32 = 1001;
/// The edit box.
pub const IDC_EDIT1: i32 = 1002;

#[cfg(test)]
mod tests {
    use super::*;

    /// `res/dialog.rc` defines the same numbers.
    #[test]
    fn the_resource_script_uses_the_same_identifiers() {
        let rc = include_str!("../res/dialog.rc");
        let defined = |name: &str| -> i64 {
            rc.lines()
                .find_map(|l| {
                    let mut words = l.split_whitespace();
                    (words.next() == Some("#define") && words.next() == Some(name))
                        .then(|| words.next().expect("a value").parse().expect("a number"))
                })
                .unwrap_or_else(|| panic!("{name} is not defined in dialog.rc"))
        };
        assert_eq!(defined("IDD_DIALOG1"), i64::from(IDD_DIALOG1));
        assert_eq!(defined("IDI_ICON1"), i64::from(IDI_ICON1));
        assert_eq!(defined("IDC_BUTTON1"), i64::from(IDC_BUTTON1));
        assert_eq!(defined("IDC_BUTTON2"), i64::from(IDC_BUTTON2));
        assert_eq!(defined("IDC_EDIT1"), i64::from(IDC_EDIT1));
    }
}
