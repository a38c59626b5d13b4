//! Bearer and Basic auth, redirects, identity tokens, refusals, digests that do not match, retries.

use super::*;

pub(super) fn scenarios(out: &mut Vec<(&'static str, Scenario)>) {
    let rich = image::rich();
    let m_url = format!("{REG}/v2/team/app/manifests/v1");
    let c_url = format!("{REG}/v2/team/app/blobs/{}", rich.config.digest);
    let bearer1 = "Bearer anon-token-1";

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
}
