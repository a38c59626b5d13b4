#![no_main]
//! Image configs, and the other JSON a registry sends (error bodies, listing pages),
//! and platform strings.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    regpeek_proto::fuzzing::json(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = regpeek_proto::Platform::parse(s, "amd64");
    }
});
