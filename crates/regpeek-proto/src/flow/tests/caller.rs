//! What a caller keeps across flows and runs: learnt challenges, tokens, plain http on
//! loopback, known content, and what they must never answer for.

use std::time::Duration;

use super::*;
use crate::error::RegistryCode;
use crate::error::TransportErrorKind as K;

// --- What a caller keeps across flows and runs -------------------------------------

#[test]
fn a_learnt_challenge_gets_the_token_before_the_first_request() {
    let r = first_run_with_token("t");
    // Through the JSON a caller writes to disk, tokens dropped: the challenge stays.
    let json = r.flow.tokens.to_json(t0());
    assert!(json.contains("auth.example"), "{json}");
    let mut tokens = TokenCache::from_json(&json);
    tokens.entries.clear();
    let flow = Flow::new(
        Reference::parse("registry.example/team/other:v1").unwrap(),
        Options::new(Goal::Manifest(None)),
        tokens,
    );
    let mut r = Run::with(flow);
    // The first request is the token request: no 401 round trip.
    assert!(r.send().1.starts_with("https://auth.example/token?"));
}

#[test]
fn a_cached_token_the_registry_rejects_is_dropped_and_fetched_again_once() {
    // A first run learns the challenge and a token, kept as a caller keeps them.
    let r = first_run_with_token("old");
    let json = r.flow.tokens.to_json(t0());
    let rejected = response(
        401,
        &[(
            "www-authenticate",
            r#"Bearer realm="https://auth.example/token",service="registry.example",error="invalid_token""#,
        )],
        b"",
    );
    // The next run sends the cached token; the registry (its key rotated) rejects it.
    let flow = Flow::new(
        Reference::parse("registry.example/team/app:v1").unwrap(),
        Options::new(Goal::Manifest(None)),
        TokenCache::from_json(&json),
    );
    let mut r = Run::with(flow);
    let (_, auth) = send_auth(&mut r);
    assert_eq!(auth.as_deref(), Some("Bearer old"));
    r.respond(rejected.clone());
    // Dropped, and fetched again: once.
    let (url, _) = send_auth(&mut r);
    assert!(url.starts_with("https://auth.example/token?"), "{url}");
    r.respond(response(200, &[], br#"{"token":"new","expires_in":300}"#));
    let (_, auth) = send_auth(&mut r);
    assert_eq!(auth.as_deref(), Some("Bearer new"));
    r.respond(manifest_ok());
    r.done().unwrap();
    let json = r.flow.tokens.to_json(t0());
    assert!(json.contains("new") && !json.contains("\"old\""), "{json}");
    // A fresh token rejected as well is an error, not a loop.
    let flow = Flow::new(
        Reference::parse("registry.example/team/app:v1").unwrap(),
        Options::new(Goal::Manifest(None)),
        TokenCache::from_json(&json),
    );
    let mut r = Run::with(flow);
    send_auth(&mut r);
    r.respond(rejected.clone());
    send_auth(&mut r);
    r.respond(response(200, &[], br#"{"token":"newer","expires_in":300}"#));
    send_auth(&mut r);
    r.respond(rejected);
    assert!(matches!(r.done(), Err(Error::TokenRejected { .. })));
}

#[test]
fn a_loopback_host_known_to_speak_plain_http_is_not_probed_again() {
    let mut r = Run::new("localhost:5000/app:v1", Options::new(Goal::Manifest(None)));
    r.send();
    r.fail(K::Tls);
    r.send();
    r.respond(manifest_ok());
    r.done().unwrap();
    let tokens = TokenCache::from_json(&r.flow.tokens.to_json(t0()));
    let flow = Flow::new(
        Reference::parse("localhost:5000/app:v2").unwrap(),
        Options::new(Goal::Manifest(None)),
        tokens,
    );
    let mut r = Run::with(flow);
    assert_eq!(r.send().1, "http://localhost:5000/v2/app/manifests/v2");
}

#[test]
fn tokens_survive_json_and_never_hold_a_password() {
    let mut options = Options::new(Goal::Manifest(None));
    options.credentials = Some(Credentials::basic("alice", "s3cret-password"));
    let mut r = at_token_request(options);
    r.respond(response(200, &[], br#"{"token":"tok-1","expires_in":300}"#));
    let json = r.flow.tokens.to_json(t0());
    assert!(json.contains("tok-1"), "{json}");
    assert!(!json.contains("s3cret-password"), "{json}");
    assert!(!json.contains("alice"), "the identity is hashed: {json}");
    assert_eq!(TokenCache::from_json(&json).len(), 1);
    assert_eq!(TokenCache::from_json("garbage").len(), 0);
    // Expired tokens are not written.
    assert!(
        !r.flow
            .tokens
            .to_json(t0() + Duration::from_secs(3600))
            .contains("tok-1")
    );
}

#[test]
fn known_content_saves_requests() {
    let digest = Digest::sha256(MANIFEST);
    // Pinned by digest: no request at all.
    let mut options = Options::new(Goal::Manifest(None));
    options.known = known_manifest();
    let mut r = Run::new(&format!("registry.example/team/app@{digest}"), options);
    let i = r.done().unwrap().into_image().unwrap();
    assert_eq!(i.digest, digest);
    assert_eq!(i.raw.as_deref(), Some(MANIFEST));

    // By tag: one HEAD; the tag still points there, so nothing else.
    let mut options = Options::new(Goal::Manifest(None));
    options.known = known_manifest();
    let mut r = Run::new("registry.example/team/app:v1", options);
    assert_eq!(r.send().0, "HEAD");
    let ctype = "application/vnd.oci.image.manifest.v1+json";
    r.respond(response(
        200,
        &[
            ("content-type", ctype),
            ("docker-content-digest", &digest.to_string()),
        ],
        b"",
    ));
    assert_eq!(r.done().unwrap().into_image().unwrap().digest, digest);

    // The tag moved: the manifest is fetched.
    let mut options = Options::new(Goal::Manifest(None));
    options.known = known_manifest();
    let mut r = Run::new("registry.example/team/app:v1", options);
    r.send();
    let other = format!("sha256:{}", "1".repeat(64));
    r.respond(response(
        200,
        &[("content-type", ctype), ("docker-content-digest", &other)],
        b"",
    ));
    assert_eq!(r.send().0, "GET");
}

/// Held content the caller never saw this repository serve: a pinned digest is
/// fetched (the repository may not have it), and a tag is fetched with no HEAD first
/// (which would only add a round trip); what lies below comes from the lookup.
#[test]
fn content_held_from_elsewhere_serves_only_below_the_top() {
    let digest = Digest::sha256(MANIFEST);
    let config = Digest::sha256(b"{}");
    let held = Known::from_map(
        [
            (digest.clone(), MANIFEST.to_vec()),
            (config.clone(), b"{}".to_vec()),
        ]
        .into(),
    );
    let mut options = Options::new(Goal::Manifest(None));
    options.known = held.clone();
    let mut r = Run::new(&format!("registry.example/other/app@{digest}"), options);
    assert_eq!(r.send().0, "GET", "a digest from another repository");

    let mut options = Options::new(Goal::Inspect(Platform::new("linux", "amd64", None)));
    options.known = held;
    let mut r = Run::new("registry.example/team/app:v1", options);
    assert_eq!(r.send().0, "GET", "no HEAD for a tag never seen");
    r.respond(manifest_ok());
    let i = r.done().unwrap().into_image().unwrap();
    assert_eq!(
        i.config.unwrap().digest,
        config,
        "the config from the lookup"
    );
}

#[test]
fn corrupt_known_content_is_never_trusted() {
    let digest = Digest::sha256(MANIFEST);
    let mut options = Options::new(Goal::Manifest(None));
    options.known = Known::from_map([(digest.clone(), b"{\"truncated".to_vec())].into());
    options.known.resolved = Some(digest.clone());
    let mut r = Run::new(&format!("registry.example/team/app@{digest}"), options);
    assert_eq!(r.send().0, "GET", "a corrupt entry is fetched again");
}

#[test]
fn offline_answers_from_known_content_or_says_what_is_missing() {
    let digest = Digest::sha256(MANIFEST);
    let mut options = Options::new(Goal::Inspect(Platform::new("linux", "amd64", None)));
    options.known = known_manifest();
    options.offline = true;
    let mut r = Run::new(&format!("registry.example/team/app@{digest}"), options);
    match r.done() {
        Err(Error::Offline {
            subject: Subject::ConfigBlob(d),
        }) => assert!(d.starts_with("sha256:44136fa3")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_token_server_with_a_slow_clock_does_not_loop() {
    // issued_at an hour ago with expires_in 300: by our clock already expired. The
    // token is used anyway (a minute at least) instead of being asked for again.
    let mut r = at_token_request(Options::new(Goal::Manifest(None)));
    r.respond(response(
        200,
        &[],
        br#"{"token":"t","expires_in":300,"issued_at":"2025-12-31T23:00:00Z"}"#,
    ));
    let (_, url) = r.send();
    assert!(
        url.contains("/manifests/"),
        "asked for another token: {url}"
    );
}

/// A registry or proxy that does not answer HEAD (405, 501) is asked with GET, and the
/// digest is the hash of what it serves; after a 429 it is not (a GET is a pull on
/// Docker Hub).
#[test]
fn a_head_the_registry_refuses_is_asked_again_with_get() {
    for status in [405, 501, 404] {
        let mut r = Run::new(
            "registry.example/team/app:v1",
            Options::new(Goal::Digest(None)),
        );
        assert_eq!(r.send().0, "HEAD");
        r.respond(response(status, &[], b""));
        assert_eq!(r.send().0, "GET", "after HEAD {status}");
        r.respond(manifest_ok());
        let i = r.done().unwrap().into_image().unwrap();
        assert_eq!(i.digest, Digest::sha256(MANIFEST), "after HEAD {status}");
    }
    let mut r = Run::new(
        "registry.example/team/app:v1",
        Options::new(Goal::Digest(None)),
    );
    r.send();
    r.respond(response(429, &[("retry-after", "21600")], b""));
    assert!(
        matches!(r.done(), Err(Error::RateLimited { .. })),
        "no GET after a pull limit"
    );
}

#[test]
fn a_login_is_checked_by_the_registry_never_by_a_cached_token() {
    // The same user and password again: still a token request, which proves them.
    let mut r = after_a_good_run(Goal::Login, "alice", "good");
    assert!(r.send().1.starts_with("https://auth.example/token?"));
    // A wrong password: a token request, refused, and the login fails.
    let mut r = after_a_good_run(Goal::Login, "alice", "WRONG");
    let (url, auth) = send_auth(&mut r);
    assert!(url.starts_with("https://auth.example/token?"), "{url}");
    assert!(auth.is_some_and(|a| a.starts_with("Basic ")));
    r.respond(response(401, &[], b""));
    assert!(
        matches!(r.done(), Err(Error::BadCredentials { .. })),
        "a refused password is never a successful login"
    );
}

#[test]
fn a_token_fetched_with_other_credentials_never_answers_for_these() {
    // The cached token was fetched with alice's good password: the flow with a
    // wrong one asks the token server again instead of sending it.
    let mut r = after_a_good_run(Goal::Manifest(None), "alice", "WRONG");
    let (url, auth) = send_auth(&mut r);
    assert!(url.starts_with("https://auth.example/token?"), "{url}");
    assert_ne!(auth.as_deref(), Some("Bearer alice-tok"));
    // Another user's flow does not get it either.
    let mut r = after_a_good_run(Goal::Manifest(None), "bob", "good");
    assert!(r.send().1.starts_with("https://auth.example/token?"));
}

#[test]
fn the_digest_of_a_digest_seen_here_needs_no_request_even_offline() {
    let digest = Digest::sha256(MANIFEST);
    for offline in [false, true] {
        let mut options = Options::new(Goal::Digest(None));
        options.known = Known::lookup(|_| None);
        options.known.resolved = Some(digest.clone());
        options.offline = offline;
        let mut r = Run::new(&format!("registry.example/team/app@{digest}"), options);
        let i = r.done().unwrap().into_image().unwrap();
        assert_eq!(i.digest, digest);
    }
    // Not seen here: asked (offline: refused, naming what is missing).
    let mut options = Options::new(Goal::Digest(None));
    options.offline = true;
    let mut r = Run::new(&format!("registry.example/team/app@{digest}"), options);
    assert!(matches!(r.done(), Err(Error::Offline { .. })));
}

#[test]
fn a_single_platform_image_says_its_platform_and_whether_it_was_asked_for() {
    const CONFIG: &[u8] = br#"{"architecture":"amd64","os":"linux"}"#;
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[]}}"#,
        Digest::sha256(CONFIG),
        CONFIG.len()
    );
    let run = |asked: &str| {
        let goal = Goal::Inspect(Platform::parse(asked, "amd64").unwrap());
        let mut r = Run::new("registry.example/team/app:v1", Options::new(goal));
        r.send();
        r.respond(response(
            200,
            &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
            manifest.as_bytes(),
        ));
        r.send();
        r.respond(response(200, &[], CONFIG));
        r.done().unwrap().into_image().unwrap()
    };
    let i = run("linux/arm64");
    assert_eq!(i.platform, Some(Platform::new("linux", "amd64", None)));
    assert_eq!(
        i.platform_matched,
        Some(false),
        "arm64 was asked, amd64 came"
    );
    assert_eq!(i.platforms, [Platform::new("linux", "amd64", None)]);
    assert_eq!(run("linux/amd64").platform_matched, Some(true));
}

#[test]
fn platforms_match_as_containerd_does() {
    let p = |s: &str| Platform::parse(s, "amd64").unwrap();
    assert!(p("linux/arm").matches(&Platform::new("linux", "arm", Some("v7"))));
    assert!(p("linux/arm/v7").matches(&Platform::new("linux", "arm", None)));
    assert!(p("linux/arm64").matches(&Platform::new("linux", "aarch64", None)));
    assert!(
        p("linux/arm64").matches(&p("linux/arm/v7")),
        "arm64 runs arm/v7"
    );
    assert!(!p("linux/arm/v7").matches(&p("linux/arm64")));
    assert!(!p("linux/amd64").matches(&p("windows/amd64")));
    assert!(!p("linux/arm/v6").matches(&p("linux/arm/v7")));
}

#[test]
fn an_anonymous_refusal_keeps_what_the_registry_said() {
    let mut r = at_token_request(Options::new(Goal::Manifest(None)));
    r.respond(response(200, &[], br#"{"token":"anon","expires_in":300}"#));
    r.send();
    r.respond(response(
        401,
        &[(
            "www-authenticate",
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:team/app:pull",error="insufficient_scope""#,
        )],
        br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
    ));
    match r.done() {
        Err(Error::Denied {
            code,
            message,
            anonymous,
            ..
        }) => {
            assert_eq!(code, Some(RegistryCode::Unauthorized));
            assert_eq!(RegistryCode::Unauthorized.to_string(), "UNAUTHORIZED");
            assert_eq!(
                RegistryCode::parse("X_CUSTOM"),
                RegistryCode::Other("X_CUSTOM".into())
            );
            assert_eq!(message.as_deref(), Some("authentication required"));
            assert!(anonymous, "no credentials were given: it needs some");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn drivers_can_keep_their_error_signal_a_large_body_and_do_without_tls() {
    #[derive(Debug)]
    struct Mine;
    impl std::fmt::Display for Mine {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("my driver's own words")
        }
    }
    impl std::error::Error for Mine {}
    // The driver's error comes back attached, and as the source.
    let mut r = Run::new("registry.example/a:v1", Options::new(Goal::Manifest(None)));
    r.send();
    r.flow
        .handle_transport_error_with(r.now, TransportErrorKind::Resolve, Mine);
    let e = r.done().unwrap_err();
    let Error::Transport {
        source: Some(s), ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert!(s.downcast_ref::<Mine>().is_some());
    assert_eq!(
        std::error::Error::source(&e)
            .map(|s| s.to_string())
            .as_deref(),
        Some("my driver's own words")
    );
    // Too large, without the bytes.
    let mut r = Run::new("registry.example/a:v1", Options::new(Goal::Manifest(None)));
    r.send();
    r.fail(TransportErrorKind::TooLarge);
    assert!(
        matches!(r.done(), Err(Error::BodyTooLarge { limit, .. }) if limit == Limits::default().manifest)
    );
    // No TLS: a loopback registry is spoken to over http at once; https is refused
    // before it is handed out.
    let mut o = Options::new(Goal::Manifest(None));
    o.tls = false;
    let mut r = Run::new("localhost:5000/a:v1", o.clone());
    assert_eq!(r.send().1, "http://localhost:5000/v2/a/manifests/v1");
    let mut r = Run::new("registry.example/a:v1", o);
    assert!(matches!(
        r.done(),
        Err(Error::Transport {
            kind: TransportErrorKind::NoTls,
            ..
        })
    ));
}

#[test]
fn the_client_id_and_user_agent_are_the_callers() {
    let mut o = Options::new(Goal::Manifest(None));
    o.client_id = "my-tool".into();
    o.user_agent = Some("my-tool/1.0".into());
    let mut r = Run::new("registry.example/team/app:v1", o);
    let agent = |r: &mut Run| match r.poll() {
        Action::Send(t) => (
            t.request.uri().to_string(),
            t.request.headers()[http::header::USER_AGENT]
                .to_str()
                .unwrap()
                .to_owned(),
        ),
        other => panic!("{other:?}"),
    };
    assert_eq!(agent(&mut r).1, "my-tool/1.0");
    r.respond(bearer_401());
    let (url, ua) = agent(&mut r);
    assert!(url.contains("client_id=my-tool"), "{url}");
    assert_eq!(ua, "my-tool/1.0");
}

#[test]
fn mirrors_stand_in_for_pulls_only() {
    for goal in [Goal::Digest(None), Goal::Manifest(None)] {
        assert!(goal.uses_mirrors());
        let mut r = Run::new("nginx:1", with_mirror(goal, "http://127.0.0.1:5001/"));
        assert!(r.send().1.starts_with("http://127.0.0.1:5001/"));
    }
    let referrers = Goal::Referrers {
        platform: None,
        artifact_type: None,
    };
    for goal in [
        referrers,
        Goal::Tags {
            limit: None,
            page_size: None,
        },
    ] {
        assert!(!goal.uses_mirrors());
        let mut r = Run::new(
            "nginx:1",
            with_mirror(goal.clone(), "http://127.0.0.1:5001/"),
        );
        let url = r.send().1;
        assert!(
            url.starts_with("https://registry-1.docker.io/"),
            "{goal:?}: {url}"
        );
    }
}

#[test]
fn an_attestation_says_which_image_it_is_about() {
    let parsed = crate::manifest::parse_manifest(
        Some(crate::manifest::media::OCI_INDEX),
        br#"{"schemaVersion":2,"manifests":[
        {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":1,"platform":{"architecture":"amd64","os":"linux"}},
        {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","size":1,"platform":{"architecture":"unknown","os":"unknown"},
         "annotations":{"vnd.docker.reference.type":"attestation-manifest","vnd.docker.reference.digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}}]}"#,
    )
    .unwrap();
    let crate::manifest::Manifest::Index(index) = parsed else {
        panic!("an index")
    };
    assert_eq!(index.manifests[0].attests(), None);
    assert_eq!(
        index.manifests[1].attests(),
        Some("sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
    );
}
