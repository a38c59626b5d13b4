//! Docker Hub: its hosts, realm, scope and CDN (docs/protocol.md §1.3, §9).

use super::*;

pub(super) fn scenarios(out: &mut Vec<(&'static str, Scenario)>) {
    let multi = image::multi();
    let amd64 = &multi.children[1];
    // Docker Hub: `docker` means docker.io/library/docker; the API host, the realm and
    // the scope all follow from that (docs/protocol.md §1.3, §9).
    let hub = "https://registry-1.docker.io/v2/library/docker";
    let hub_realm = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/docker:pull""#;
    let hub_token = "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Fdocker%3Apull&client_id=regpeek";
    let hub_cdn = format!(
        "https://production.cloudflare.docker.com/registry-v2/docker/registry/v2/blobs/sha256/{}/data?verify=1767225600-not-a-signature",
        &amd64.config.digest[7..]
    );
    let hub_bearer = "Bearer hub-anon-token";
    let rl = [
        ("ratelimit-limit", "100;w=21600"),
        ("ratelimit-remaining", "97;w=21600"),
    ];
    let mut index_headers = vec![
        ("content-type", multi.index.media_type.as_str()),
        ("docker-content-digest", multi.index.digest.as_str()),
    ];
    index_headers.extend(rl);
    out.push(("model-dockerhub-library", scenario(
        &[("reference", "docker"), ("goal", "inspect"),
          ("description", "Docker Hub official image: library/ scope, registry-1.docker.io, auth.docker.io realm, 307 to the CDN without the token")],
        vec![
            ex(manifest_req(&format!("{hub}/manifests/latest"), None), unauthorized(hub_realm)),
            ex(req("GET", hub_token, &[]), token(r#"{"token":"hub-anon-token","access_token":"hub-anon-token","expires_in":300,"issued_at":"2025-12-31T23:59:30.123456789Z"}"#)),
            ex(manifest_req(&format!("{hub}/manifests/latest"), Some(hub_bearer)), resp(200, &index_headers, &multi.index.bytes)),
            ex(manifest_req(&format!("{hub}/manifests/{}", amd64.manifest.digest), Some(hub_bearer)), ok_manifest(amd64)),
            ex(blob_req(&format!("{hub}/blobs/{}", amd64.config.digest), Some(hub_bearer)), resp(307, &[("location", &hub_cdn)], b"")),
            ex(blob_req(&hub_cdn, None), ok_blob(amd64)),
        ],
    )));

    let missing = "https://registry-1.docker.io/v2/library/no-such-image-xyz";
    let missing_realm = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/no-such-image-xyz:pull""#;
    let missing_token = "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Fno-such-image-xyz%3Apull&client_id=regpeek";
    let hub_insufficient = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/no-such-image-xyz:pull",error="insufficient_scope""#;
    out.push(("model-dockerhub-missing", scenario(
        &[("reference", "no-such-image-xyz"), ("goal", "inspect"),
          ("description", "Docker Hub answers the same 401 for missing and private repositories: 'not found or access denied', after one token")],
        vec![
            ex(manifest_req(&format!("{missing}/manifests/latest"), None), unauthorized(missing_realm)),
            ex(req("GET", missing_token, &[]), token(r#"{"token":"hub-anon-token"}"#)),
            ex(manifest_req(&format!("{missing}/manifests/latest"), Some(hub_bearer)), unauthorized(hub_insufficient)),
        ],
    )));
}

/// Recordings of whole command lines against a modelled Docker Hub, replayed through
/// the CLI by the live tests (`fixtures/cli/*`): not core fixtures, so not replayed
/// by `tests/replay.rs`.
pub(super) fn recordings(out: &mut Vec<(&'static str, Scenario)>) {
    let rich = image::rich();
    let mut exchanges = Vec::new();
    // Every manifest GET answered spends a pull: ratelimit-remaining counts down, and
    // a HEAD states it without spending (docs/protocol.md §9).
    let mut left = 10;
    for name in ["a", "b", "c", "d"] {
        let api = format!("https://registry-1.docker.io/v2/library/{name}");
        let realm = format!(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/{name}:pull""#
        );
        let token_url = format!(
            "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2F{name}%3Apull&client_id=regpeek"
        );
        let bearer = format!("Bearer hub-{name}");
        exchanges.push(ex(
            manifest_req(&format!("{api}/manifests/latest"), None),
            unauthorized(&realm),
        ));
        exchanges.push(ex(
            req("GET", &token_url, &[]),
            token(&format!(r#"{{"token":"hub-{name}"}}"#)),
        ));
        let remaining = format!("{left};w=21600");
        left -= 1;
        exchanges.push(ex(
            manifest_req(&format!("{api}/manifests/latest"), Some(&bearer)),
            resp(
                200,
                &[
                    ("content-type", rich.manifest.media_type.as_str()),
                    ("docker-content-digest", rich.manifest.digest.as_str()),
                    ("ratelimit-limit", "100;w=21600"),
                    ("ratelimit-remaining", remaining.as_str()),
                ],
                &rich.manifest.bytes,
            ),
        ));
        exchanges.push(ex(
            blob_req(
                &format!("{api}/blobs/{}", rich.config.digest),
                Some(&bearer),
            ),
            ok_blob(&rich),
        ));
    }
    out.push(("hub-pull-budget", scenario(
        &[("argv", r#"["inspect","--pull-budget","3","a","b","c","d"]"#),
          ("inputs", "[]"),
          ("input-names", "[]"),
          ("registry-credentials", r#"{"docker.io":"anonymous"}"#),
          ("description", "Docker Hub modelled: four images, a pull budget of three: the fourth manifest GET is never sent; ratelimit-remaining counts down on each answer (docs/protocol.md §9)")],
        exchanges,
    )));
}

/// `platforms` on a modelled Docker Hub: the index and one manifest a platform, each
/// a pull (`fixtures/cli/hub-platforms`).
pub(super) fn platforms_recording(out: &mut Vec<(&'static str, Scenario)>) {
    let multi = image::multi();
    let api = "https://registry-1.docker.io/v2/library/multi";
    let realm = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/multi:pull""#;
    let token_url = "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Fmulti%3Apull&client_id=regpeek";
    let bearer = "Bearer hub-multi";
    let left = |n: u32| format!("{n};w=21600");
    let index_left = left(99);
    let index_headers = [
        ("content-type", multi.index.media_type.as_str()),
        ("docker-content-digest", multi.index.digest.as_str()),
        ("ratelimit-remaining", index_left.as_str()),
    ];
    let mut exchanges = vec![
        ex(
            manifest_req(&format!("{api}/manifests/latest"), None),
            unauthorized(realm),
        ),
        ex(
            req("GET", token_url, &[]),
            token(r#"{"token":"hub-multi"}"#),
        ),
        ex(
            manifest_req(&format!("{api}/manifests/latest"), Some(bearer)),
            resp(200, &index_headers, &multi.index.bytes),
        ),
    ];
    for (n, child) in multi.children.iter().skip(1).enumerate() {
        let remaining = left(98 - n as u32);
        exchanges.push(ex(
            manifest_req(
                &format!("{api}/manifests/{}", child.manifest.digest),
                Some(bearer),
            ),
            resp(
                200,
                &[
                    ("content-type", child.manifest.media_type.as_str()),
                    ("docker-content-digest", child.manifest.digest.as_str()),
                    ("ratelimit-remaining", remaining.as_str()),
                ],
                &child.manifest.bytes,
            ),
        ));
        exchanges.push(ex(
            blob_req(
                &format!("{api}/blobs/{}", child.config.digest),
                Some(bearer),
            ),
            ok_blob(child),
        ));
    }
    out.push(("hub-platforms", scenario(
        &[("argv", r#"["platforms","multi"]"#),
          ("inputs", "[]"),
          ("input-names", "[]"),
          ("registry-credentials", r#"{"docker.io":"anonymous"}"#),
          ("description", "Docker Hub modelled: platforms of a three-platform index is four pulls (the index, then each platform's manifest), said on stderr (docs/protocol.md §9)")],
        exchanges,
    )));
}
