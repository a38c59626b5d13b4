#![no_main]
//! Manifests and indexes under every content type, and platform selection.
use libfuzzer_sys::fuzz_target;
use regpeek_proto::Platform;
use regpeek_proto::manifest::{Manifest, media, parse_manifest};
use regpeek_proto::platform::{offered, select};

const TYPES: &[Option<&str>] = &[
    None,
    Some(media::OCI_MANIFEST),
    Some(media::OCI_INDEX),
    Some(media::DOCKER_MANIFEST),
    Some(media::DOCKER_LIST),
    Some(media::SCHEMA1_SIGNED),
    Some("application/json"),
    Some("text/plain; charset=utf-8"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&t, body)) = data.split_first() else {
        return;
    };
    let ctype = TYPES[usize::from(t) % TYPES.len()];
    if let Ok(Manifest::Index(index)) = parse_manifest(ctype, body) {
        let _ = offered(&index.manifests);
        for p in [
            "linux/amd64",
            "linux/arm/v7",
            "linux/arm64/v8",
            "windows/amd64",
        ] {
            let wanted = Platform::parse(p, "amd64").unwrap();
            let _ = select(&index.manifests, &wanted);
        }
    }
});
