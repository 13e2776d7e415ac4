//! Who holds which object: the `flock`s listed in `/proc/locks`.

/// The flocks in `/proc/locks`: (pid, device major, device minor, inode), one entry per lock (per
/// open file description).
///
/// The kernel produces `/proc/locks` under its lock-table lock, but one `read` may stop early
/// (at a page, or when the reader should yield), and the next `read` walks the table again from
/// the position where the previous one stopped. Locks taken or dropped by other processes in
/// between shift the table, so a lock can appear twice or not at all: with two processes
/// locking in a loop, more than half of such multi-read passes were wrong in our measurements,
/// while every pass delivered by a single `read` was right. So the file is read until one `read`
/// returns it whole. When the table is too large for that (more than about 80 locks on the whole
/// machine) or never settles, the last pass is used with duplicate entries of one process
/// merged: counts are then approximate.
pub(super) fn flock_holders() -> Vec<(u32, u64, u64, u64)> {
    let mut last = String::new();
    for _ in 0..64 {
        match read_locks() {
            Some((text, true)) => return parse_flocks(&text),
            Some((text, false)) => last = text,
            None => return Vec::new(),
        }
    }
    let mut out = parse_flocks(&last);
    out.sort_unstable();
    out.dedup();
    out
}

/// Reads `/proc/locks`; the flag says whether one `read` returned all of it.
fn read_locks() -> Option<(String, bool)> {
    use std::io::Read;
    let mut f = std::fs::File::open("/proc/locks").ok()?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut len = 0;
    let mut reads = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match f.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => {
                len += n;
                reads += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    buf.truncate(len);
    Some((String::from_utf8(buf).ok()?, reads <= 1))
}

fn parse_flocks(text: &str) -> Vec<(u32, u64, u64, u64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        // "1: FLOCK  ADVISORY  READ  1234 00:1a:5678 0 EOF"; waiters have "->" after the number.
        if f.len() < 6 || f[1] != "FLOCK" {
            continue;
        }
        let pid = f[4].parse::<u32>().unwrap_or(0);
        let parts: Vec<&str> = f[5].split(':').collect();
        if parts.len() != 3 {
            continue;
        }
        if let (Ok(maj), Ok(min), Ok(ino)) = (
            u64::from_str_radix(parts[0], 16),
            u64::from_str_radix(parts[1], 16),
            parts[2].parse::<u64>(),
        ) {
            out.push((pid, maj, min, ino));
        }
    }
    out
}

pub(super) fn dev_major_minor(dev: u64) -> (u64, u64) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major, minor)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::parse_flocks;

    #[test]
    fn flocks_are_read_from_proc_locks_lines() {
        let text = "1: POSIX  ADVISORY  WRITE 10 fd:00:77 0 EOF\n\
                    2: FLOCK  ADVISORY  READ 1234 00:1b:5678 0 EOF\n\
                    2: -> FLOCK  ADVISORY  WRITE 99 00:1b:5678 0 EOF\n\
                    3: FLOCK  ADVISORY  WRITE 42 fd:01:9 0 EOF\n\
                    garbage\n";
        assert_eq!(
            parse_flocks(text),
            vec![(1234, 0, 0x1b, 5678), (42, 0xfd, 1, 9)],
            "POSIX locks and waiters are not holders"
        );
    }
}
