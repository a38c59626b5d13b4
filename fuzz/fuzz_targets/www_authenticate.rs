#![no_main]
//! `WWW-Authenticate`: challenges, and realms checked against registries.
use libfuzzer_sys::fuzz_target;
use regpeek_proto::fuzzing::challenges;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let values: Vec<&str> = s.split('\n').collect();
    for registry in ["https://reg.example", "http://127.0.0.1:5000"] {
        let registry = url::Url::parse(registry).unwrap();
        for realm in challenges(&values, &registry) {
            // An accepted realm is a valid request URI.
            http::Uri::try_from(realm.as_str()).expect("realm is a valid URI");
        }
    }
});
