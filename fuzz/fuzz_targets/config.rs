#![no_main]
//! Image configs, and registry error bodies and listing pages (other JSON the
//! registry sends).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = regpeek_proto::config::parse_config(data);
    let _ = regpeek_proto::parse_registry_errors(data);
    let _ = regpeek_proto::list::parse_page(data, "tags");
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = regpeek_proto::Platform::parse(s, "amd64");
    }
});
