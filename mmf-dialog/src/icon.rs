//! The dialog's icon, drawn in code so that the repository holds no binary file: a blue tile with
//! two overlapping white pages (two views of one object), as a 32 × 32, 32-bit `.ico`. build.rs
//! writes it into the build directory, where the dialog resource (`res/dialog.rc`) names it.

/// Width and height in pixels.
const SIDE: usize = 32;

/// The colour (blue, green, red, alpha) of the pixel at column `x`, row `y` (row 0 at the top).
fn pixel(x: usize, y: usize) -> [u8; 4] {
    const CLEAR: [u8; 4] = [0, 0, 0, 0];
    const TILE: [u8; 4] = [0x8b, 0x5f, 0x1f, 0xff];
    const EDGE: [u8; 4] = [0x40, 0x2a, 0x0d, 0xff];
    const PAGE: [u8; 4] = [0xff, 0xff, 0xff, 0xff];
    let inside = |x0: usize, y0: usize, x1: usize, y1: usize| {
        (x0..=x1).contains(&x) && (y0..=y1).contains(&y)
    };
    let border = |x0: usize, y0: usize, x1: usize, y1: usize| {
        inside(x0, y0, x1, y1) && (x == x0 || x == x1 || y == y0 || y == y1)
    };
    // The front page, then the back page, then the tile with its corners cut.
    if border(13, 12, 26, 28) {
        EDGE
    } else if inside(13, 12, 26, 28) {
        PAGE
    } else if border(6, 4, 19, 20) {
        EDGE
    } else if inside(6, 4, 19, 20) {
        PAGE
    } else if inside(1, 1, 30, 30) && !((x == 1 || x == 30) && (y == 1 || y == 30)) {
        TILE
    } else {
        CLEAR
    }
}

/// The `.ico` file: the directory, one entry, and a bottom-up BGRA bitmap followed by its
/// (all-zero: the alpha channel decides) AND mask.
pub fn ico() -> Vec<u8> {
    let pixels = SIDE * SIDE * 4;
    let mask = SIDE * SIDE.div_ceil(32) * 4; // one bit per pixel, rows padded to 32 bits
    let image = 40 + pixels + mask;
    let mut out = Vec::with_capacity(22 + image);
    // ICONDIR: reserved, type 1 (icon), one image.
    for v in [0u16, 1, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    // ICONDIRENTRY: width, height, no palette, reserved, 1 plane, 32 bits, size, offset.
    out.extend_from_slice(&[SIDE as u8, SIDE as u8, 0, 0]);
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&32u16.to_le_bytes());
    out.extend_from_slice(&(image as u32).to_le_bytes());
    out.extend_from_slice(&22u32.to_le_bytes());
    // BITMAPINFOHEADER; the height counts the image and its mask.
    out.extend_from_slice(&40u32.to_le_bytes());
    out.extend_from_slice(&(SIDE as i32).to_le_bytes());
    out.extend_from_slice(&(2 * SIDE as i32).to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&32u16.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // BI_RGB
    out.extend_from_slice(&((pixels + mask) as u32).to_le_bytes());
    out.extend_from_slice(&[0; 16]); // resolution, palette sizes
    for y in (0..SIDE).rev() {
        for x in 0..SIDE {
            out.extend_from_slice(&pixel(x, y));
        }
    }
    out.resize(out.len() + mask, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_icon_is_one_32_by_32_image_of_the_size_its_header_states() {
        let ico = ico();
        assert_eq!(&ico[..6], &[0, 0, 1, 0, 1, 0]);
        assert_eq!((ico[6], ico[7]), (32, 32));
        let size = u32::from_le_bytes(ico[14..18].try_into().unwrap()) as usize;
        let offset = u32::from_le_bytes(ico[18..22].try_into().unwrap()) as usize;
        assert_eq!(offset + size, ico.len());
        assert_eq!(ico.len(), 22 + 40 + 32 * 32 * 4 + 32 * 4);
        // The corners are transparent, the middle of the front page is opaque white.
        assert_eq!(pixel(0, 0)[3], 0);
        assert_eq!(pixel(20, 20), [0xff; 4]);
    }
}
