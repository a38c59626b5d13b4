#![no_main]
//! `Link` headers: a next page is a valid request URI on some origin.
use libfuzzer_sys::fuzz_target;
use regpeek_proto::list::next_link;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let current = url::Url::parse("https://reg.example:5000/v2/a/tags/list?n=2").unwrap();
    if let Ok(Some(next)) = next_link(s.split('\n'), &current) {
        http::Uri::try_from(next.as_str()).expect("a next link is a valid URI");
    }
});
