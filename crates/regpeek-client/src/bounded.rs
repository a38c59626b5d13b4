//! Reading the user's files with a size bound: a credentials file, a CA bundle or a
//! list of references that is a device (`/dev/zero`) or simply huge ends with a
//! clear error instead of taking all memory.

use std::io::Read;
use std::path::Path;

/// The most any configuration file (credentials, registries.conf, daemon.json,
/// certificates, keys) may hold.
pub(crate) const MAX_CONFIG: u64 = 4 << 20;

/// At most `limit` bytes of `input`; more is an `InvalidData` error that says so.
pub fn read_capped(input: impl Read, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    input
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {}", human(limit)),
        ));
    }
    Ok(bytes)
}

/// The file at `path`, at most `limit` bytes. Pipes (`--authfile <(…)`) and devices
/// are read too, within the same bound.
pub fn read(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    read_capped(std::fs::File::open(path)?, limit)
}

/// [`read`], as UTF-8 text.
pub fn read_text(path: &Path, limit: u64) -> std::io::Result<String> {
    String::from_utf8(read(path, limit)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}

fn human(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_kinds_are_bounded() {
        let err = read_capped(std::io::repeat(0), MAX_CONFIG).unwrap_err();
        assert_eq!(err.to_string(), "larger than 4 MiB");
        assert_eq!(read_capped(&b"ok"[..], 2).unwrap(), b"ok");
        let err = read(Path::new("/dev/zero"), MAX_CONFIG).unwrap_err();
        assert_eq!(err.to_string(), "larger than 4 MiB");
        let err = read(Path::new("/nonexistent/x"), MAX_CONFIG).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }
}
