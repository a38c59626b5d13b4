#![no_main]
//! Token replies, and caching them at any time.
use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use regpeek_proto::TokenCache;
use regpeek_proto::auth::{Scope, TokenKey, parse_token_reply};

fuzz_target!(|data: &[u8]| {
    let (clock, body) = data.split_at(data.len().min(8));
    let Ok(reply) = parse_token_reply(body) else {
        return;
    };
    let mut secs = [0u8; 8];
    secs[..clock.len()].copy_from_slice(clock);
    // Any representable caller clock, up to the far future.
    let now = SystemTime::UNIX_EPOCH
        .checked_add(Duration::from_secs(u64::from_le_bytes(secs) >> 16))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut cache = TokenCache::new();
    let key = TokenKey {
        realm: "https://auth.example/token".into(),
        service: "s".into(),
        scopes: vec!["repository:a:pull".into()],
        identity: String::new(),
    };
    let scope = Scope::pull("a");
    cache.insert(key.clone(), "reg", &[scope.clone()], &reply, now);
    let _ = cache.get(&key, now);
    let _ = cache.find("reg", "", &scope, now);
    http::HeaderValue::from_str(&format!("Bearer {}", reply.token.expose()))
        .expect("an accepted token fits in a header");
});
