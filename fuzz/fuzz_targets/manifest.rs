#![no_main]
//! Manifests and indexes under every content type, and platform selection.
use libfuzzer_sys::fuzz_target;

const TYPES: &[Option<&str>] = &[
    None,
    Some("application/vnd.oci.image.manifest.v1+json"),
    Some("application/vnd.oci.image.index.v1+json"),
    Some("application/vnd.docker.distribution.manifest.v2+json"),
    Some("application/vnd.docker.distribution.manifest.list.v2+json"),
    Some("application/vnd.docker.distribution.manifest.v1+prettyjws"),
    Some("application/json"),
    Some("text/plain; charset=utf-8"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&t, body)) = data.split_first() else {
        return;
    };
    regpeek_proto::fuzzing::manifest(TYPES[usize::from(t) % TYPES.len()], body);
});
