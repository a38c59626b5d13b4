//! `cargo xtask model`: writes the hand-modelled fixtures (`fixtures/model-*`).
//!
//! These cover what the local lab cannot show yet (bearer and Basic auth, CDN redirects,
//! Docker Hub's hosts and quirks) and hostile registries. Every exchange is written
//! here by hand after docs/protocol.md; the bodies are the lab's deterministic images, so
//! their digests are real.

use std::path::Path;

use anyhow::{Context, Result};
use regpeek_lab::image::{self, Image};
use regpeek_replay::MANIFEST_ACCEPT as ACCEPT;
use regpeek_replay::fixture::{Exchange, Reply, Request, Scenario};

fn req(method: &str, url: &str, headers: &[(&str, &str)]) -> Request {
    Request {
        method: method.into(),
        url: url.into(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
    }
}

fn manifest_req(url: &str, auth: Option<&str>) -> Request {
    let mut h = vec![("accept", ACCEPT)];
    if let Some(a) = auth {
        h.push(("authorization", a));
    }
    req("GET", url, &h)
}

fn blob_req(url: &str, auth: Option<&str>) -> Request {
    match auth {
        Some(a) => req("GET", url, &[("authorization", a)]),
        None => req("GET", url, &[]),
    }
}

fn resp(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    Reply::Response {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        body: body.to_vec(),
    }
}

fn ex(request: Request, reply: Reply) -> Exchange {
    Exchange { request, reply }
}

fn ok_manifest(img: &Image) -> Reply {
    resp(
        200,
        &[
            ("content-type", &img.manifest.media_type),
            ("docker-content-digest", &img.manifest.digest),
        ],
        &img.manifest.bytes,
    )
}

fn ok_blob(img: &Image) -> Reply {
    resp(
        200,
        &[("content-type", "application/octet-stream")],
        &img.config.bytes,
    )
}

fn unauthorized(challenge: &str) -> Reply {
    resp(
        401,
        &[("content-type", "application/json"), ("www-authenticate", challenge)],
        br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}"#,
    )
}

fn token(body: &str) -> Reply {
    resp(
        200,
        &[("content-type", "application/json")],
        body.as_bytes(),
    )
}

fn scenario(settings: &[(&str, &str)], exchanges: Vec<Exchange>) -> Scenario {
    let mut s: Vec<(String, String)> = settings
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    s.push((
        "source".into(),
        "modelled by hand after docs/protocol.md (xtask/src/model.rs); bodies are the lab's images"
            .into(),
    ));
    Scenario {
        settings: s,
        exchanges,
    }
}

const REG: &str = "https://registry.example";
const REALM: &str = r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:team/app:pull""#;
const TOKEN_URL: &str = "https://auth.example/token?service=registry.example&scope=repository%3Ateam%2Fapp%3Apull&client_id=regpeek";

fn scenarios() -> Vec<(&'static str, Scenario)> {
    let rich = image::rich();
    let multi = image::multi();
    let amd64 = &multi.children[1];
    let m_url = format!("{REG}/v2/team/app/manifests/v1");
    let c_url = format!("{REG}/v2/team/app/blobs/{}", rich.config.digest);
    let bearer1 = "Bearer anon-token-1";
    let mut out = Vec::new();

    out.push(("model-bearer-anonymous", scenario(
        &[("reference", "registry.example/team/app:v1"), ("goal", "inspect"),
          ("description", "anonymous bearer: 401 challenge, anonymous token, retry with the token; no /v2/ ping")],
        vec![
            ex(manifest_req(&m_url, None), unauthorized(REALM)),
            ex(req("GET", TOKEN_URL, &[]), token(r#"{"token":"anon-token-1","expires_in":300,"issued_at":"2025-12-31T23:59:00Z"}"#)),
            ex(manifest_req(&m_url, Some(bearer1)), ok_manifest(&rich)),
            ex(blob_req(&c_url, Some(bearer1)), ok_blob(&rich)),
        ],
    )));

    out.push(("model-bearer-credentials", scenario(
        &[("reference", "registry.example/team/app:v1"), ("goal", "inspect"), ("credentials", "alice:<redacted>"),
          ("description", "bearer with credentials: Basic goes to the realm only; access_token wins over token")],
        vec![
            ex(manifest_req(&m_url, None), unauthorized(REALM)),
            ex(req("GET", TOKEN_URL, &[("authorization", "Basic <redacted>")]),
               token(r#"{"token":"legacy-field","access_token":"user-token-1","expires_in":60}"#)),
            ex(manifest_req(&m_url, Some("Bearer user-token-1")), ok_manifest(&rich)),
            ex(blob_req(&c_url, Some("Bearer user-token-1")), ok_blob(&rich)),
        ],
    )));

    out.push((
        "model-bearer-bad-credentials",
        scenario(
            &[
                ("reference", "registry.example/team/app:v1"),
                ("goal", "inspect"),
                ("credentials", "alice:<redacted>"),
                (
                    "description",
                    "the token server refuses the credentials: one clear error, no retry loop",
                ),
            ],
            vec![
                ex(manifest_req(&m_url, None), unauthorized(REALM)),
                ex(
                    req("GET", TOKEN_URL, &[("authorization", "Basic <redacted>")]),
                    resp(
                        401,
                        &[("content-type", "application/json")],
                        br#"{"details":"incorrect username or password"}"#,
                    ),
                ),
            ],
        ),
    ));

    let basic = r#"Basic realm="Registry Realm""#;
    out.push(("model-basic", scenario(
        &[("reference", "registry.example/team/app:v1"), ("goal", "inspect"), ("credentials", "alice:<redacted>"),
          ("description", "Basic challenge: retry with credentials, then send them on every request to that host")],
        vec![
            ex(manifest_req(&m_url, None), unauthorized(basic)),
            ex(manifest_req(&m_url, Some("Basic <redacted>")), ok_manifest(&rich)),
            ex(blob_req(&c_url, Some("Basic <redacted>")), ok_blob(&rich)),
        ],
    )));

    out.push((
        "model-basic-no-credentials",
        scenario(
            &[
                ("reference", "registry.example/team/app:v1"),
                ("goal", "inspect"),
                (
                    "description",
                    "Basic challenge and no credentials: authentication required",
                ),
            ],
            vec![ex(manifest_req(&m_url, None), unauthorized(basic))],
        ),
    ));

    out.push((
        "model-basic-wrong-password",
        scenario(
            &[
                ("reference", "registry.example/team/app:v1"),
                ("goal", "inspect"),
                ("credentials", "alice:<redacted>"),
                (
                    "description",
                    "Basic credentials refused: one retry, then a clear error",
                ),
            ],
            vec![
                ex(manifest_req(&m_url, None), unauthorized(basic)),
                ex(
                    manifest_req(&m_url, Some("Basic <redacted>")),
                    unauthorized(basic),
                ),
            ],
        ),
    ));

    let cdn = format!(
        "https://cdn.example/blobs/{}?X-Signature=not-a-real-signature&expires=1",
        rich.config.digest
    );
    out.push((
        "model-redirect-cdn",
        scenario(
            &[
                ("reference", "registry.example/team/app:v1"),
                ("goal", "inspect"),
                (
                    "description",
                    "config blob redirected (307) to a CDN host: the token must not follow",
                ),
            ],
            vec![
                ex(manifest_req(&m_url, None), unauthorized(REALM)),
                ex(
                    req("GET", TOKEN_URL, &[]),
                    token(r#"{"token":"anon-token-1"}"#),
                ),
                ex(manifest_req(&m_url, Some(bearer1)), ok_manifest(&rich)),
                ex(
                    blob_req(&c_url, Some(bearer1)),
                    resp(307, &[("location", &cdn)], b""),
                ),
                ex(blob_req(&cdn, None), ok_blob(&rich)),
            ],
        ),
    ));

    let rel = format!("/v2/team/app/blobs/{}?hop=2", rich.config.digest);
    let rel_url = format!("{REG}{rel}");
    out.push((
        "model-redirect-same-host-relative",
        scenario(
            &[
                ("reference", "registry.example/team/app:v1"),
                ("goal", "inspect"),
                (
                    "description",
                    "relative Location on the same origin: followed, the token stays",
                ),
            ],
            vec![
                ex(manifest_req(&m_url, None), unauthorized(REALM)),
                ex(
                    req("GET", TOKEN_URL, &[]),
                    token(r#"{"token":"anon-token-1"}"#),
                ),
                ex(manifest_req(&m_url, Some(bearer1)), ok_manifest(&rich)),
                ex(
                    blob_req(&c_url, Some(bearer1)),
                    resp(302, &[("location", &rel)], b""),
                ),
                ex(blob_req(&rel_url, Some(bearer1)), ok_blob(&rich)),
            ],
        ),
    ));

    let frag = format!(
        "https://cdn.example/b/{}?sig=x#fragment-part",
        rich.config.digest
    );
    let unfrag = format!("https://cdn.example/b/{}?sig=x", rich.config.digest);
    out.push(("model-redirect-fragment", scenario(
        &[("reference", "registry.example/team/app:v1"), ("goal", "inspect"),
          ("description", "a Location with a fragment: followed without it (fragments never go on the wire)")],
        vec![
            ex(manifest_req(&m_url, None), ok_manifest(&rich)),
            ex(blob_req(&c_url, None), resp(302, &[("location", &frag)], b"")),
            ex(blob_req(&unfrag, None), ok_blob(&rich)),
        ],
    )));

    let plain = format!("http://cdn.example/blobs/{}", rich.config.digest);
    out.push((
        "model-redirect-https-to-http",
        scenario(
            &[
                ("reference", "registry.example/team/app:v1"),
                ("goal", "inspect"),
                (
                    "description",
                    "a redirect from https to plain http is refused",
                ),
            ],
            vec![
                ex(manifest_req(&m_url, None), ok_manifest(&rich)),
                ex(
                    blob_req(&c_url, None),
                    resp(307, &[("location", &plain)], b""),
                ),
            ],
        ),
    ));

    let mut loop_ex = vec![ex(manifest_req(&m_url, None), ok_manifest(&rich))];
    let mut from = c_url.clone();
    for hop in 1..=6 {
        let to = format!("https://cdn{hop}.example/b");
        loop_ex.push(ex(
            blob_req(&from, None),
            resp(307, &[("location", &to)], b""),
        ));
        from = to;
    }
    out.push((
        "model-redirect-loop",
        scenario(
            &[
                ("reference", "registry.example/team/app:v1"),
                ("goal", "inspect"),
                ("description", "endless redirects stop after 5 hops"),
            ],
            loop_ex,
        ),
    ));

    out.push(("model-identity-token-get-fallback", scenario(
        &[("reference", "registry.example/team/app:v1"), ("goal", "manifest"), ("identity-token", "bob:<redacted>"),
          ("description", "identity token: the realm answers the OAuth2 POST with 405, so the GET flow follows with Basic user:token")],
        vec![
            ex(manifest_req(&m_url, None), unauthorized(REALM)),
            ex(req("POST", "https://auth.example/token", &[("content-type", "application/x-www-form-urlencoded")]), resp(405, &[], b"")),
            ex(req("GET", TOKEN_URL, &[("authorization", "Basic <redacted>")]), token(r#"{"token":"user-token-1"}"#)),
            ex(manifest_req(&m_url, Some("Bearer user-token-1")), ok_manifest(&rich)),
        ],
    )));

    out.push(("model-denied-403", scenario(
        &[("reference", "registry.example/team/app:v1"), ("goal", "inspect"),
          ("description", "the registry answers 403 DENIED after a token: access denied")],
        vec![
            ex(manifest_req(&m_url, None), unauthorized(REALM)),
            ex(req("GET", TOKEN_URL, &[]), token(r#"{"token":"anon-token-1"}"#)),
            ex(manifest_req(&m_url, Some(bearer1)), resp(403, &[("content-type", "application/json")],
               br#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#)),
        ],
    )));

    let scoped = r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:team/app:pull,push",error="insufficient_scope""#;
    let token2 = "https://auth.example/token?service=registry.example&scope=repository%3Ateam%2Fapp%3Apull%2Cpush&client_id=regpeek";
    out.push(("model-insufficient-scope", scenario(
        &[("reference", "registry.example/team/app:v1"), ("goal", "manifest"),
          ("description", "insufficient_scope naming a new scope: one more token with the new scope first, once")],
        vec![
            ex(manifest_req(&m_url, None), unauthorized(REALM)),
            ex(req("GET", TOKEN_URL, &[]), token(r#"{"token":"anon-token-1"}"#)),
            ex(manifest_req(&m_url, Some(bearer1)), unauthorized(scoped)),
            ex(req("GET", token2, &[]), token(r#"{"token":"anon-token-2"}"#)),
            ex(manifest_req(&m_url, Some("Bearer anon-token-2")), ok_manifest(&rich)),
        ],
    )));

    out.push(("model-no-challenge-ping", scenario(
        &[("reference", "registry.example/team/app:v1"), ("goal", "manifest"),
          ("description", "a 401 without WWW-Authenticate (GCR-style): ping /v2/ once to learn the challenge")],
        vec![
            ex(manifest_req(&m_url, None), resp(401, &[], b"")),
            ex(req("GET", &format!("{REG}/v2/"), &[]), unauthorized(REALM)),
            ex(req("GET", TOKEN_URL, &[]), token(r#"{"token":"anon-token-1"}"#)),
            ex(manifest_req(&m_url, Some(bearer1)), ok_manifest(&rich)),
        ],
    )));

    let wrong = format!("sha256:{}", "0".repeat(64));
    out.push((
        "model-digest-mismatch",
        scenario(
            &[
                ("reference", "registry.example/team/app:v1"),
                ("goal", "manifest"),
                (
                    "description",
                    "the manifest bytes do not hash to Docker-Content-Digest: rejected",
                ),
            ],
            vec![ex(
                manifest_req(&m_url, None),
                resp(
                    200,
                    &[
                        ("content-type", &rich.manifest.media_type),
                        ("docker-content-digest", &wrong),
                    ],
                    &rich.manifest.bytes,
                ),
            )],
        ),
    ));

    let mut tampered = rich.config.bytes.clone();
    tampered[10] ^= 1;
    out.push((
        "model-config-tampered",
        scenario(
            &[
                ("reference", "registry.example/team/app:v1"),
                ("goal", "inspect"),
                (
                    "description",
                    "a config blob that does not match its descriptor digest: rejected",
                ),
            ],
            vec![
                ex(manifest_req(&m_url, None), ok_manifest(&rich)),
                ex(blob_req(&c_url, None), resp(200, &[], &tampered)),
            ],
        ),
    ));

    out.push((
        "model-not-json",
        scenario(
            &[
                ("reference", "registry.example/team/app:v1"),
                ("goal", "inspect"),
                (
                    "description",
                    "a proxy's HTML page where a manifest should be: a clear error",
                ),
            ],
            vec![ex(
                manifest_req(&m_url, None),
                resp(
                    200,
                    &[("content-type", "text/html")],
                    b"<html><body>Welcome to nginx!</body></html>",
                ),
            )],
        ),
    ));

    let head = || req("HEAD", &m_url, &[("accept", ACCEPT)]);
    let ok_head = || {
        resp(
            200,
            &[
                ("content-type", &rich.manifest.media_type),
                ("docker-content-digest", &rich.manifest.digest),
            ],
            b"",
        )
    };
    out.push((
        "model-rate-limited-retry",
        scenario(
            &[
                ("reference", "registry.example/team/app:v1"),
                ("goal", "digest"),
                (
                    "description",
                    "429 with Retry-After 2: wait 2 s, retry, succeed; the Warning is kept",
                ),
            ],
            vec![
                ex(
                    head(),
                    resp(
                        429,
                        &[("retry-after", "2"), ("warning", r#"299 - "slow down""#)],
                        b"",
                    ),
                ),
                ex(head(), ok_head()),
            ],
        ),
    ));
    out.push((
        "model-retry-after-date",
        scenario(
            &[
                ("reference", "registry.example/team/app:v1"),
                ("goal", "digest"),
                (
                    "description",
                    "503 with Retry-After as an HTTP-date, measured against the response's Date",
                ),
            ],
            vec![
                ex(
                    head(),
                    resp(
                        503,
                        &[
                            ("date", "Thu, 01 Jan 2026 00:00:00 GMT"),
                            ("retry-after", "Thu, 01 Jan 2026 00:00:05 GMT"),
                        ],
                        b"",
                    ),
                ),
                ex(head(), ok_head()),
            ],
        ),
    ));
    out.push((
        "model-retry-backoff-gives-up",
        scenario(
            &[
                ("reference", "registry.example/team/app:v1"),
                ("goal", "digest"),
                (
                    "description",
                    "502 without Retry-After: backoff 0.5 s, 1 s, 2 s, then the error",
                ),
            ],
            vec![
                ex(head(), resp(502, &[], b"")),
                ex(head(), resp(502, &[], b"")),
                ex(head(), resp(502, &[], b"")),
                ex(head(), resp(502, &[], b"")),
            ],
        ),
    ));
    out.push(("model-dockerhub-pull-limit", scenario(
        &[("reference", "nginx"), ("goal", "digest"),
          ("description", "Docker Hub's pull limit: a 429 asking for hours is reported at once, with ratelimit-remaining, never waited on")],
        vec![
            ex(req("HEAD", "https://registry-1.docker.io/v2/library/nginx/manifests/latest", &[("accept", ACCEPT)]),
               resp(429, &[("retry-after", "21600"), ("ratelimit-limit", "100;w=21600"), ("ratelimit-remaining", "0;w=21600")], b"")),
        ],
    )));

    out.push((
        "model-html-500",
        scenario(
            &[
                ("reference", "registry.example/team/app:v1"),
                ("goal", "inspect"),
                (
                    "description",
                    "a 500 with an HTML body: the status is reported (500 is not retried)",
                ),
            ],
            vec![ex(
                manifest_req(&m_url, None),
                resp(
                    500,
                    &[("content-type", "text/html")],
                    b"<html>Internal Server Error</html>",
                ),
            )],
        ),
    ));

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

    // --- Adversity: deadlines, retries, hostile URLs and token replies (issue 7) ---
    let head = || req("HEAD", &m_url, &[("accept", ACCEPT)]);
    let fail = |kind: &str, message: &str| Reply::Failure {
        kind: kind.into(),
        message: message.into(),
    };
    out.push(("model-retry-after-past-deadline", scenario(
        &[("reference", "registry.example/team/app:v1"), ("goal", "digest"), ("deadline", "8"),
          ("description", "with 8 s left, a first 503 asking for 5 s is waited on; a second asking for 5 s more would pass the deadline, so it is reported at once")],
        vec![
            ex(head(), resp(503, &[("retry-after", "5")], b"")),
            ex(head(), resp(503, &[("retry-after", "5")], b"")),
        ],
    )));
    out.push(("model-reset-retried", scenario(
        &[("reference", "registry.example/team/app:v1"), ("goal", "inspect"), ("seed", "7"),
          ("description", "a refused connection and a reset while reading the body: GETs are tried again after a jittered backoff")],
        vec![
            ex(manifest_req(&m_url, None), fail("connect", "cannot connect: Connection refused (os error 111)")),
            ex(manifest_req(&m_url, None), ok_manifest(&rich)),
            ex(blob_req(&c_url, None), fail("reset", "connection closed while reading the body")),
            ex(blob_req(&c_url, None), ok_blob(&rich)),
        ],
    )));
    out.push((
        "model-reset-gives-up",
        scenario(
            &[
                ("reference", "registry.example/team/app:v1"),
                ("goal", "digest"),
                (
                    "description",
                    "a registry that keeps resetting: three retries, then the transport error",
                ),
            ],
            // The first try and three retries, each reset.
            (0..4)
                .map(|_| {
                    ex(
                        head(),
                        fail(
                            "reset",
                            "connection reset or closed: Connection reset by peer (os error 104)",
                        ),
                    )
                })
                .collect(),
        ),
    ));
    out.push(("model-timeout-not-retried", scenario(
        &[("reference", "registry.example/team/app:v1"), ("goal", "inspect"),
          ("description", "a timeout reading the body ends the flow with a typed timeout naming the stage; timeouts are not retried")],
        vec![
            ex(manifest_req(&m_url, None), ok_manifest(&rich)),
            ex(blob_req(&c_url, None), fail("timeout-body", "timed out reading the body")),
        ],
    )));
    out.push((
        "model-token-5xx-retried",
        scenario(
            &[
                ("reference", "registry.example/team/app:v1"),
                ("goal", "inspect"),
                (
                    "description",
                    "the token server answers 503 once: the token GET is retried",
                ),
            ],
            vec![
                ex(manifest_req(&m_url, None), unauthorized(REALM)),
                ex(req("GET", TOKEN_URL, &[]), resp(503, &[], b"busy")),
                ex(
                    req("GET", TOKEN_URL, &[]),
                    token(r#"{"token":"anon-token-1","expires_in":300}"#),
                ),
                ex(manifest_req(&m_url, Some(bearer1)), ok_manifest(&rich)),
                ex(blob_req(&c_url, Some(bearer1)), ok_blob(&rich)),
            ],
        ),
    ));
    out.push((
        "model-token-post-5xx-not-retried",
        scenario(
            &[
                ("reference", "registry.example/team/app:v1"),
                ("goal", "digest"),
                ("identity-token", "alice:<redacted>"),
                (
                    "description",
                    "the OAuth2 POST is never retried: a 502 from the token server is reported",
                ),
            ],
            vec![
                ex(head(), unauthorized(REALM)),
                ex(
                    req(
                        "POST",
                        "https://auth.example/token",
                        &[("content-type", "application/x-www-form-urlencoded")],
                    ),
                    resp(502, &[], b""),
                ),
            ],
        ),
    ));
    out.push(("model-token-expires-overflow", scenario(
        &[("reference", "registry.example/team/app:v1"), ("goal", "digest"),
          ("description", "a token reply with expires_in = u64::MAX and an absurd issued_at: no overflow, the token is used (its lifetime capped at a day)")],
        vec![
            ex(head(), unauthorized(REALM)),
            ex(req("GET", TOKEN_URL, &[]), token(r#"{"token":"anon-token-1","expires_in":18446744073709551615,"issued_at":"2024-01-02T03:04:05+9999999999999999:00"}"#)),
            ex(req("HEAD", &m_url, &[("accept", ACCEPT), ("authorization", bearer1)]), ok_manifest(&rich)),
        ],
    )));
    out.push(("model-realm-not-a-uri", scenario(
        &[("reference", "registry.example/team/app:v1"), ("goal", "digest"),
          ("description", "a realm the URL parser accepts but an HTTP request URI cannot hold: a clear error, never a panic")],
        vec![
            ex(head(), unauthorized(r#"Bearer realm="http://auth.`x/token",service="registry.example""#)),
        ],
    )));
    let tags = format!("{REG}/v2/team/app/tags/list");
    out.push(("model-link-stays-on-origin", scenario(
        &[("reference", "registry.example/team/app"), ("goal", "tags"),
          ("description", "a Link whose path starts with `//` stays on the registry's origin (it once escaped to other.host)")],
        vec![
            ex(req("GET", &tags, &[("accept", "application/json")]),
               resp(200, &[("content-type", "application/json"), ("link", r#"</.//other.host:5000/v2/x/tags/list?last=b>; rel="next""#)], br#"{"name":"team/app","tags":["a","b"]}"#)),
            ex(req("GET", "https://registry.example//other.host:5000/v2/x/tags/list?last=b", &[("accept", "application/json")]),
               resp(200, &[("content-type", "application/json")], br#"{"name":"team/app","tags":["c"]}"#)),
        ],
    )));
    out.push(("model-redirect-not-a-uri", scenario(
        &[("reference", "registry.example/team/app:v1"), ("goal", "inspect"),
          ("description", "a Location the URL parser accepts but an HTTP request URI cannot hold: refused, never a panic")],
        vec![
            ex(manifest_req(&m_url, None), ok_manifest(&rich)),
            ex(blob_req(&c_url, None), resp(307, &[("location", "http://cdn.`x/blob")], b"")),
        ],
    )));

    // --- Registry quirks: one modelled scenario each (docs/protocol.md §11 and the issue
    // that asked for them; the cited behaviour is in each description) ---
    let index_headers = [
        ("content-type", multi.index.media_type.as_str()),
        ("docker-content-digest", multi.index.digest.as_str()),
    ];
    let gh = "https://ghcr.io/v2/org/app";
    let gh_token = "https://ghcr.io/token?service=ghcr.io&scope=repository%3Aorg%2Fapp%3Apull&client_id=regpeek";
    out.push(("model-quirk-ghcr-anonymous-index", scenario(
        &[("reference", "ghcr.io/org/app:1.0"), ("goal", "inspect"),
          ("description", "GHCR: a public image still needs an anonymous bearer token (challenge, then a token without credentials); it answers MANIFEST_UNKNOWN unless Accept names the OCI index type, which the full Accept list always does (docs/protocol.md §11)")],
        vec![
            ex(manifest_req(&format!("{gh}/manifests/1.0"), None), unauthorized(r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:org/app:pull""#)),
            ex(req("GET", gh_token, &[]), token(r#"{"token":"ghcr-anon"}"#)),
            ex(manifest_req(&format!("{gh}/manifests/1.0"), Some("Bearer ghcr-anon")), resp(200, &index_headers, &multi.index.bytes)),
            ex(manifest_req(&format!("{gh}/manifests/{}", amd64.manifest.digest), Some("Bearer ghcr-anon")), ok_manifest(amd64)),
            ex(blob_req(&format!("{gh}/blobs/{}", amd64.config.digest), Some("Bearer ghcr-anon")), ok_blob(amd64)),
        ],
    )));
    let ar = "https://us-docker.pkg.dev/v2/proj/repo/app";
    out.push(("model-quirk-artifact-registry-no-challenge", scenario(
        &[("reference", "us-docker.pkg.dev/proj/repo/app:v1"), ("goal", "digest"),
          ("description", "GCR / Artifact Registry: a 401 on the manifest without WWW-Authenticate; one GET /v2/ learns the challenge, then the usual token exchange (docs/protocol.md §11)")],
        vec![
            ex(req("HEAD", &format!("{ar}/manifests/v1"), &[("accept", ACCEPT)]), resp(401, &[("content-type", "application/json")], br#"{"errors":[{"code":"UNAUTHORIZED","message":"Unauthorized access."}]}"#)),
            ex(req("GET", "https://us-docker.pkg.dev/v2/", &[]), unauthorized(r#"Bearer realm="https://us-docker.pkg.dev/v2/token",service="us-docker.pkg.dev""#)),
            ex(req("GET", "https://us-docker.pkg.dev/v2/token?service=us-docker.pkg.dev&scope=repository%3Aproj%2Frepo%2Fapp%3Apull&client_id=regpeek", &[]), token(r#"{"token":"ar-anon","expires_in":3600}"#)),
            ex(req("HEAD", &format!("{ar}/manifests/v1"), &[("accept", ACCEPT), ("authorization", "Bearer ar-anon")]), ok_manifest(&rich)),
        ],
    )));
    let ecr = "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/v2/team/app";
    let s3 = "https://prod-us-east-1-starport-layer-bucket.s3.us-east-1.amazonaws.com/a1b2/config?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=3600&X-Amz-Signature=0123abcd";
    out.push(("model-quirk-ecr-basic", scenario(
        &[("reference", "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:v1"), ("goal", "inspect"), ("credentials", "AWS:<redacted>"),
          ("description", "ECR (private): a Basic challenge, credentials (usually from the ecr-login helper) as Basic; blobs come from a signed S3 URL that never sees Authorization (docs/protocol.md §11)")],
        vec![
            ex(manifest_req(&format!("{ecr}/manifests/v1"), None), unauthorized(r#"Basic realm="https://123456789012.dkr.ecr.us-east-1.amazonaws.com/",service="ecr.amazonaws.com""#)),
            ex(manifest_req(&format!("{ecr}/manifests/v1"), Some("Basic <redacted>")), ok_manifest(&rich)),
            ex(blob_req(&format!("{ecr}/blobs/{}", rich.config.digest), Some("Basic <redacted>")), resp(307, &[("location", s3)], b"")),
            ex(blob_req(s3, None), ok_blob(&rich)),
        ],
    )));
    let acr = "https://myreg.azurecr.io/v2/app";
    out.push(("model-quirk-acr-refresh-token", scenario(
        &[("reference", "myreg.azurecr.io/app:v1"), ("goal", "digest"), ("identity-token", "00000000-0000-0000-0000-000000000000:<redacted>"),
          ("description", "ACR: realm https://<name>.azurecr.io/oauth2/token; an Entra ID login stores a refresh (identity) token for user 00000000-…, exchanged with the OAuth2 POST flow for an access token (docs/protocol.md §11)")],
        vec![
            ex(req("HEAD", &format!("{acr}/manifests/v1"), &[("accept", ACCEPT)]), unauthorized(r#"Bearer realm="https://myreg.azurecr.io/oauth2/token",service="myreg.azurecr.io",scope="repository:app:pull""#)),
            ex(req("POST", "https://myreg.azurecr.io/oauth2/token", &[("content-type", "application/x-www-form-urlencoded")]), token(r#"{"access_token":"acr-access","refresh_token":"<scrubbed-refresh-token>"}"#)),
            ex(req("HEAD", &format!("{acr}/manifests/v1"), &[("accept", ACCEPT), ("authorization", "Bearer acr-access")]), ok_manifest(&rich)),
        ],
    )));
    let quay_token =
        "https://quay.io/v2/auth?service=quay.io&scope=registry%3Acatalog%3A*&client_id=regpeek";
    out.push(("model-quirk-quay-catalog-auth", scenario(
        &[("reference", "quay.io"), ("goal", "catalog"), ("credentials", "org+robot:<redacted>"),
          ("description", "Quay: _catalog needs authentication (a token for registry:catalog:*) and pages with an opaque next_page cursor in Link [unverified: docs/protocol.md is silent on Quay's catalog]")],
        vec![
            ex(req("GET", "https://quay.io/v2/_catalog", &[("accept", "application/json")]), unauthorized(r#"Bearer realm="https://quay.io/v2/auth",service="quay.io",scope="registry:catalog:*""#)),
            ex(req("GET", quay_token, &[("authorization", "Basic <redacted>")]), token(r#"{"token":"quay-catalog"}"#)),
            ex(req("GET", "https://quay.io/v2/_catalog", &[("accept", "application/json"), ("authorization", "Bearer quay-catalog")]),
               resp(200, &[("content-type", "application/json"), ("link", r#"</v2/_catalog?n=2&next_page=gAAAAABl>; rel="next""#)], br#"{"repositories":["org/a","org/b"]}"#)),
            ex(req("GET", "https://quay.io/v2/_catalog?n=2&next_page=gAAAAABl", &[("accept", "application/json"), ("authorization", "Bearer quay-catalog")]),
               resp(200, &[("content-type", "application/json")], br#"{"repositories":["org/c"]}"#)),
        ],
    )));
    out.push(("model-quirk-quay-no-latest", scenario(
        &[("reference", "quay.io/org/app"), ("goal", "digest"),
          ("description", "Quay: a repository may have no latest tag, so a bare name fails; a HEAD 404 has no body, so the flow asks once more with GET for the error code (MANIFEST_UNKNOWN), and the error says latest was assumed (docs/protocol.md §11)")],
        vec![
            ex(req("HEAD", "https://quay.io/v2/org/app/manifests/latest", &[("accept", ACCEPT)]), resp(404, &[], b"")),
            ex(manifest_req("https://quay.io/v2/org/app/manifests/latest", None), resp(404, &[("content-type", "application/json")], br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#)),
        ],
    )));
    let harbor_token = "https://harbor.example/service/token?service=harbor-registry&scope=repository%3Aproj%2Fapp%3Apull&client_id=regpeek";
    out.push(("model-quirk-harbor-robot-paging", scenario(
        &[("reference", "harbor.example/proj/app"), ("goal", "tags"), ("credentials", "robot$proj+ci:<redacted>"),
          ("description", "Harbor: a project-scoped robot account (robot$proj+ci) as Basic to the token service, then tag pages joined by Link [unverified: docs/protocol.md is silent on Harbor]")],
        vec![
            ex(req("GET", "https://harbor.example/v2/proj/app/tags/list", &[("accept", "application/json")]), unauthorized(r#"Bearer realm="https://harbor.example/service/token",service="harbor-registry",scope="repository:proj/app:pull""#)),
            ex(req("GET", harbor_token, &[("authorization", "Basic <redacted>")]), token(r#"{"token":"harbor-robot","expires_in":1800}"#)),
            ex(req("GET", "https://harbor.example/v2/proj/app/tags/list", &[("accept", "application/json"), ("authorization", "Bearer harbor-robot")]),
               resp(200, &[("content-type", "application/json"), ("link", r#"</v2/proj/app/tags/list?last=1.1&n=2>; rel="next""#)], br#"{"name":"proj/app","tags":["1.0","1.1"]}"#)),
            ex(req("GET", "https://harbor.example/v2/proj/app/tags/list?last=1.1&n=2", &[("accept", "application/json"), ("authorization", "Bearer harbor-robot")]),
               resp(200, &[("content-type", "application/json")], br#"{"name":"proj/app","tags":["2.0"]}"#)),
        ],
    )));
    out.push(("model-quirk-artifactory-port-tags", scenario(
        &[("reference", "artifactory.example:8443/app"), ("goal", "tags"),
          ("description", "Artifactory: one port per Docker repository (the port is part of the registry), and tag lists that hold digests as tags; they stay strings (docs/protocol.md §11; ports per repository [unverified])")],
        vec![
            ex(req("GET", "https://artifactory.example:8443/v2/app/tags/list", &[("accept", "application/json")]),
               resp(200, &[("content-type", "application/json")], br#"{"name":"app","tags":["1.0","sha256:21215374aadba6f8d7cb1f265b29c9eac176a4a0bbcf7221987b80417e3c10e4","latest"]}"#)),
        ],
    )));
    out.push(("model-quirk-nexus-null-tags", scenario(
        &[("reference", "nexus.example:8082/team/app"), ("goal", "tags"),
          ("description", "Nexus: a connector port per repository, and tag lists with null entries, which are skipped (docs/protocol.md §11)")],
        vec![
            ex(req("GET", "https://nexus.example:8082/v2/team/app/tags/list", &[("accept", "application/json")]),
               resp(200, &[("content-type", "application/json")], br#"{"name":"team/app","tags":["1.0",null,"2.0"]}"#)),
        ],
    )));
    let hub_head = "https://registry-1.docker.io/v2/library/nginx/manifests/1.27";
    out.push(("model-quirk-dockerhub-head-ratelimit", scenario(
        &[("reference", "nginx:1.27"), ("goal", "digest"),
          ("description", "Docker Hub: digest uses HEAD, which is not counted as a pull; the token is for the library/ scope; ratelimit-limit and ratelimit-remaining come on the HEAD (docs/protocol.md §9)")],
        vec![
            ex(req("HEAD", hub_head, &[("accept", ACCEPT)]), unauthorized(r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#)),
            ex(req("GET", "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Fnginx%3Apull&client_id=regpeek", &[]), token(r#"{"token":"hub-anon","expires_in":300}"#)),
            ex(req("HEAD", hub_head, &[("accept", ACCEPT), ("authorization", "Bearer hub-anon")]),
               resp(200, &[("content-type", multi.index.media_type.as_str()), ("docker-content-digest", multi.index.digest.as_str()), ("ratelimit-limit", "100;w=21600"), ("ratelimit-remaining", "97;w=21600")], b"")),
        ],
    )));

    // --- Referrers API (OCI 1.1); distribution 2.8 has none, so the lab cannot show it ---
    let sig_type = "application/vnd.dev.cosign.artifact.sig.v1+json";
    let sbom_type = "application/spdx+json";
    let page1 = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{a}","size":600,"artifactType":"{sig_type}","annotations":{{"org.opencontainers.image.created":"2026-01-01T00:00:00Z"}}}}]}}"#,
        a = "a".repeat(64)
    );
    let page2 = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{b}","size":700,"artifactType":"{sbom_type}"}}]}}"#,
        b = "b".repeat(64)
    );
    let referrers_url = format!("{REG}/v2/team/app/referrers/{}", rich.manifest.digest);
    let oci_index = [("accept", "application/vnd.oci.image.index.v1+json")];
    let index_type = [("content-type", "application/vnd.oci.image.index.v1+json")];
    out.push(("model-referrers-api-pages", scenario(
        &[("reference", "registry.example/team/app:v1"), ("goal", "referrers"),
          ("description", "the OCI 1.1 referrers API: an index of referrers, paged with Link (OCI distribution spec 1.1)")],
        vec![
            ex(manifest_req(&m_url, None), ok_manifest(&rich)),
            ex(req("GET", &referrers_url, &oci_index),
               resp(200, &[index_type[0], ("link", &format!(r#"<{referrers_url}?last=a>; rel="next""#))], page1.as_bytes())),
            ex(req("GET", &format!("{referrers_url}?last=a"), &oci_index), resp(200, &index_type, page2.as_bytes())),
        ],
    )));
    out.push(("model-referrers-api-filtered", scenario(
        &[("reference", "registry.example/team/app:v1"), ("goal", "referrers"), ("artifact-type", sbom_type),
          ("description", "artifactType filtering: asked of the registry, and applied again by the client when the registry ignores it (no OCI-Filters-Applied)")],
        vec![
            ex(manifest_req(&m_url, None), ok_manifest(&rich)),
            ex(req("GET", &format!("{referrers_url}?artifactType=application%2Fspdx%2Bjson"), &oci_index),
               resp(200, &index_type, format!(
                   r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{},{}]}}"#,
                   &page1[page1.find("[{").unwrap() + 1..page1.rfind("]}").unwrap()],
                   &page2[page2.find("[{").unwrap() + 1..page2.rfind("]}").unwrap()]
               ).as_bytes())),
        ],
    )));

    // --- Warm runs (issue 9): what a caller keeps across runs ---
    out.push(("model-warm-known-challenge", scenario(
        &[("reference", "registry.example/team/app:v1"), ("goal", "inspect"), ("learnt-from", "model-bearer-anonymous"),
          ("description", "the challenge was learnt by an earlier run (its token has expired): the token is fetched before the first request, no 401 round trip")],
        vec![
            ex(req("GET", TOKEN_URL, &[]), token(r#"{"token":"anon-token-2","expires_in":300}"#)),
            ex(manifest_req(&m_url, Some("Bearer anon-token-2")), ok_manifest(&rich)),
            ex(blob_req(&c_url, Some("Bearer anon-token-2")), ok_blob(&rich)),
        ],
    )));
    out.push(("model-warm-head-revalidation", scenario(
        &[("reference", "registry.example/team/app:v1"), ("goal", "inspect"), ("known-from", "model-bearer-anonymous"),
          ("description", "a warm cache holds the manifest and config: the tag is revalidated with one HEAD, everything else comes from the cache")],
        vec![
            ex(req("HEAD", &m_url, &[("accept", ACCEPT)]),
               resp(200, &[("content-type", rich.manifest.media_type.as_str()), ("docker-content-digest", rich.manifest.digest.as_str())], b"")),
        ],
    )));
    out.push(("model-warm-tag-moved", scenario(
        &[("reference", "registry.example/team/app:v1"), ("goal", "inspect"), ("known-from", "model-bearer-anonymous"),
          ("description", "a warm cache, but the tag moved: the HEAD names another digest, so the new manifest and its config are fetched (a moved tag is never answered from the cache)")],
        vec![
            ex(req("HEAD", &m_url, &[("accept", ACCEPT)]),
               resp(200, &[("content-type", amd64.manifest.media_type.as_str()), ("docker-content-digest", amd64.manifest.digest.as_str())], b"")),
            ex(manifest_req(&m_url, None), ok_manifest(amd64)),
            ex(blob_req(&format!("{REG}/v2/team/app/blobs/{}", amd64.config.digest), None), ok_blob(amd64)),
        ],
    )));
    out.push((
        "model-warm-pinned",
        scenario(
            &[
                (
                    "reference",
                    &format!("registry.example/team/app@{}", rich.manifest.digest),
                ),
                ("goal", "inspect"),
                ("known-from", "model-bearer-anonymous"),
                (
                    "description",
                    "a digest-pinned reference the cache holds: no request at all",
                ),
            ],
            vec![],
        ),
    ));

    out
}

pub fn model() -> Result<()> {
    for (name, s) in scenarios() {
        regpeek_replay::replay_in(&s, Path::new("fixtures"))
            .with_context(|| format!("{name}: the model does not replay"))?;
        let dir = Path::new("fixtures").join(name);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("exchanges.http"), s.render()?)?;
        eprintln!("xtask: wrote {}", dir.join("exchanges.http").display());
    }
    Ok(())
}
