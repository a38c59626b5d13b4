#![no_main]
//! References: parse, normalise, and every accepted reference can start a flow.
use libfuzzer_sys::fuzz_target;
use regpeek_proto::{Action, Flow, Goal, Options, Reference, TokenCache};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(r) = Reference::parse(s) else {
        return;
    };
    // Normalised forms parse back to the same normal form.
    let again = Reference::parse(&r.to_string()).expect("the canonical form parses");
    assert_eq!(again.to_string(), r.to_string());
    let familiar = Reference::parse(&r.familiar()).expect("the familiar form parses");
    assert_eq!(familiar.to_string(), r.to_string());
    // Whatever parses can be requested: the first action is a request, never a panic.
    let mut flow = Flow::new(r, Options::new(Goal::Digest(None)), TokenCache::default());
    match flow.poll_action(regpeek_fuzz::start()) {
        Action::Send(_) => {}
        other => panic!("a parsed reference could not be requested: {other:?}"),
    }
});
