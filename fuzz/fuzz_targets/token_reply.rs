#![no_main]
//! Token replies, and caching them at any time.
use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (clock, body) = data.split_at(data.len().min(8));
    let mut secs = [0u8; 8];
    secs[..clock.len()].copy_from_slice(clock);
    // Any representable caller clock, up to the far future.
    let now = SystemTime::UNIX_EPOCH
        .checked_add(Duration::from_secs(u64::from_le_bytes(secs) >> 16))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    if let Some(token) = regpeek_proto::fuzzing::token_reply(body, now) {
        http::HeaderValue::from_str(&format!("Bearer {token}"))
            .expect("an accepted token fits in a header");
    }
});
