#![no_main]
//! Manifests and indexes under every content type, and platform selection.
use libfuzzer_sys::fuzz_target;
use regpeek_proto::manifest::media;

const TYPES: &[Option<&str>] = &[
    None,
    Some(media::OCI_MANIFEST),
    Some(media::OCI_INDEX),
    Some(media::DOCKER_MANIFEST),
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
