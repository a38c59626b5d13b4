//! RFC 3339 timestamps, read without a clock (jiff does the parsing and the checked
//! arithmetic, so no offset or date can overflow).

use std::time::{Duration, SystemTime};

/// Parses an RFC 3339 timestamp (`2024-01-02T03:04:05.5+02:00`); `None` when it is
/// malformed, out of range, or before 1970.
pub(crate) fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let ts: jiff::Timestamp = s.trim().parse().ok()?;
    let secs = u64::try_from(ts.as_second()).ok()?;
    let nanos = u32::try_from(ts.subsec_nanosecond()).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let secs = |s: &str| {
            parse_rfc3339(s).map(|t| t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs())
        };
        assert_eq!(secs("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(secs("2024-01-02T03:04:05Z"), Some(1_704_164_645));
        assert_eq!(secs("2024-01-02T03:04:05.123456789Z"), Some(1_704_164_645));
        assert_eq!(secs("2024-01-02T05:04:05+02:00"), Some(1_704_164_645));
        assert_eq!(secs("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(secs("2024-13-02T03:04:05Z"), None);
        assert_eq!(secs("2024-01-02 03:04"), None);
        assert_eq!(secs("1969-12-31T23:59:59Z"), None);
        assert_eq!(secs("2024-01-02T03:04:05."), None);
        assert_eq!(secs("garbage-garbage-garbage"), None);
        // Found by fuzzing: absurd offsets once overflowed the hand-written reader.
        assert_eq!(secs("2024-01-02T03:04:05+9999999999999999:00"), None);
        assert_eq!(secs("9999-12-31T23:59:59-99:59"), None);
        assert_eq!(secs("+999999-01-01T00:00:00Z"), None);
    }
}
