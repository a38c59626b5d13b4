#![no_main]
//! `Retry-After` (seconds or HTTP-date against `Date`) and RFC 3339 timestamps.
use libfuzzer_sys::fuzz_target;
use regpeek_proto::fuzzing::{parse_rfc3339, retry_after};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_rfc3339(s);
    let (a, b) = s
        .split_once('\n')
        .unwrap_or((s, "Sun, 06 Nov 1994 08:49:37 GMT"));
    let mut h = http::HeaderMap::new();
    if let (Ok(a), Ok(b)) = (
        http::HeaderValue::from_str(a),
        http::HeaderValue::from_str(b),
    ) {
        h.insert(http::header::RETRY_AFTER, a);
        h.insert(http::header::DATE, b);
        let _ = retry_after(&h);
    }
});
