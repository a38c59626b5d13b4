#![no_main]
//! `Link` headers: a next page is a valid request URI on some origin.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let current = url::Url::parse("https://reg.example:5000/v2/a/tags/list?n=2").unwrap();
    let values: Vec<&str> = s.split('\n').collect();
    if let Ok(Some(next)) = regpeek_proto::fuzzing::next_link(&values, &current) {
        http::Uri::try_from(next.as_str()).expect("a next link is a valid URI");
    }
});
