//! Adversity: deadlines, retries, hostile URLs and token replies.

use super::*;

pub(super) fn scenarios(out: &mut Vec<(&'static str, Scenario)>) {
    let rich = image::rich();
    let m_url = format!("{REG}/v2/team/app/manifests/v1");
    let c_url = format!("{REG}/v2/team/app/blobs/{}", rich.config.digest);
    let bearer1 = "Bearer anon-token-1";
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
}
