#![no_main]
//! A `Flow` driven by an arbitrary script of responses and transport failures: it must
//! end (no hang), never panic, and only send absolute requests.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| regpeek_fuzz::drive(data));
