//! A copy-on-write view (`FILE_MAP_COPY`, `MAP_PRIVATE`): writes stay private to the view, and
//! the object, other views and other processes keep the original bytes.
//!
//! Run: `cargo run -p mmf --example copy_on_write`

use mmf::Mapping;
use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let object = Mapping::anonymous(4096)?;
    let shared = object.map_mut()?;
    shared.write_at(0, b"original")?;

    let private = object.map_copy()?;
    private.write_at(0, b"scratch!")?;

    println!(
        "private view: {}",
        String::from_utf8_lossy(&private.read_vec(0, 8)?)
    );
    println!(
        "shared view:  {}",
        String::from_utf8_lossy(&shared.read_vec(0, 8)?)
    );
    assert_eq!(shared.read_vec(0, 8)?, b"original");
    assert_eq!(object.map()?.read_vec(0, 8)?, b"original");
    Ok(())
}
