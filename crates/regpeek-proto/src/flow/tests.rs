//! Unit tests of the flow itself: the state graph in the docs against the states, a
//! walk through every state, deadlines, mirrors, the loopback rule, login, misuse.
//! (Whole exchanges are covered by the replayed fixtures in `tests/replay.rs`.)

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use super::*;
use crate::error::RegistryCode;
use crate::error::TransportErrorKind as K;

const MANIFEST: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600)
}

fn response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> http::Response<Vec<u8>> {
    let mut b = http::Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(body.to_vec()).unwrap()
}

fn manifest_ok() -> http::Response<Vec<u8>> {
    response(
        200,
        &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
        MANIFEST,
    )
}

/// A flow under test, with a clock and the states it went through.
struct Run {
    flow: Flow,
    now: SystemTime,
    visited: BTreeSet<&'static str>,
}

impl Run {
    fn new(reference: &str, options: Options) -> Run {
        let flow = Flow::new(
            Reference::parse(reference).unwrap(),
            options,
            TokenCache::default(),
        );
        Run::with(flow)
    }

    fn with(flow: Flow) -> Run {
        let mut run = Run {
            flow,
            now: t0(),
            visited: BTreeSet::new(),
        };
        run.visit();
        run
    }

    fn visit(&mut self) {
        self.visited.insert(self.flow.state.wait.name());
    }

    fn poll(&mut self) -> Action {
        let a = self.flow.poll_action(self.now);
        self.visit();
        a
    }

    /// Polls, expecting a request; returns its method and URL.
    fn send(&mut self) -> (String, String) {
        match self.poll() {
            Action::Send(t) => (t.request.method().to_string(), t.request.uri().to_string()),
            other => panic!("expected a request, got {other:?}"),
        }
    }

    fn respond(&mut self, r: http::Response<Vec<u8>>) {
        self.flow.handle_response(self.now, r);
        self.visit();
    }

    fn fail(&mut self, kind: TransportErrorKind) {
        self.flow.handle_transport_error(self.now, kind);
        self.visit();
    }

    fn done(&mut self) -> Result<Outcome, Error> {
        match self.poll() {
            Action::Done(r) => r,
            other => panic!("expected the end, got {other:?}"),
        }
    }
}

/// The backticked names in the state columns (first and third) of the graph's table.
fn graph_states() -> BTreeSet<String> {
    let graph = include_str!("graph.md");
    let mut names = BTreeSet::new();
    for row in graph.lines().filter(|l| l.starts_with("| ")) {
        let cols: Vec<&str> = row.split('|').map(str::trim).collect();
        for col in [cols.get(1), cols.get(3)].into_iter().flatten() {
            for part in col.split('`').skip(1).step_by(2) {
                names.insert(part.to_owned());
            }
        }
    }
    names.remove("state");
    names
}

#[test]
fn the_graph_names_every_state_and_nothing_else() {
    let documented = graph_states();
    let real: BTreeSet<String> = Wait::NAMES.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(documented, real, "graph.md and Wait disagree");
}

#[test]
fn a_walk_visits_every_state_in_the_graph() {
    let mut visited = BTreeSet::new();

    // Bearer: Start → Resource → (401) Token → (200) Resource → Done.
    let mut r = Run::new(
        "registry.example/team/app:v1",
        Options::new(Goal::Manifest(None)),
    );
    assert_eq!(
        r.send().1,
        "https://registry.example/v2/team/app/manifests/v1"
    );
    r.respond(response(
        401,
        &[(
            "www-authenticate",
            r#"Bearer realm="https://auth.example/token",service="registry.example""#,
        )],
        b"",
    ));
    assert!(r.send().1.starts_with("https://auth.example/token?"));
    r.respond(response(200, &[], br#"{"token":"t"}"#));
    r.send();
    r.respond(manifest_ok());
    r.done().unwrap().into_image().unwrap();
    visited.extend(r.visited);

    // A bare 401: Resource → Ping; then a 503 → Backoff → Resource.
    let mut r = Run::new(
        "registry.example/team/app:v1",
        Options::new(Goal::Manifest(None)),
    );
    r.send();
    r.respond(response(401, &[], b""));
    assert_eq!(r.send().1, "https://registry.example/v2/");
    r.respond(response(401, &[("www-authenticate", "Basic realm=x")], b""));
    // No credentials for Basic: the flow says so.
    assert!(matches!(r.done(), Err(Error::AuthRequired { .. })));
    visited.extend(r.visited);

    let mut r = Run::new(
        "registry.example/team/app:v1",
        Options::new(Goal::Manifest(None)),
    );
    r.send();
    r.respond(response(503, &[("retry-after", "2")], b""));
    assert!(matches!(r.poll(), Action::Wait(_)));
    r.now += Duration::from_secs(2);
    r.send();
    r.respond(manifest_ok());
    r.done().unwrap();
    visited.extend(r.visited);

    let want: BTreeSet<&str> = Wait::NAMES.into_iter().collect();
    assert_eq!(visited, want);
}

#[test]
fn the_deadline_ends_the_flow_before_the_next_request() {
    let mut options = Options::new(Goal::Manifest(None));
    options.deadline = Some(t0() + Duration::from_secs(5));
    let mut r = Run::new("registry.example/team/app:v1", options);
    r.send();
    r.now += Duration::from_secs(6);
    r.respond(response(
        401,
        &[(
            "www-authenticate",
            r#"Bearer realm="https://auth.example/token""#,
        )],
        b"",
    ));
    match r.done() {
        Err(Error::Timeout {
            peer: Peer::TokenServer,
            stage: TimeoutStage::Connect,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_request_carries_the_deadline() {
    let mut options = Options::new(Goal::Manifest(None));
    let deadline = t0() + Duration::from_secs(30);
    options.deadline = Some(deadline);
    let mut r = Run::new("registry.example/team/app:v1", options);
    match r.poll() {
        Action::Send(t) => {
            assert_eq!(t.deadline, Some(deadline));
            assert_eq!(t.time_left(t0()), Some(Duration::from_secs(30)));
            assert_eq!(
                t.time_left(deadline + Duration::from_secs(1)),
                Some(Duration::ZERO)
            );
        }
        other => panic!("{other:?}"),
    }
}

/// Options for `goal` with one Docker Hub mirror, without credentials.
fn with_mirror(goal: Goal, mirror: &str) -> Options {
    let mut options = Options::new(goal);
    options.mirrors = vec![Mirror {
        url: Url::parse(mirror).unwrap(),
        credentials: None,
    }];
    options
}

#[test]
fn a_failing_mirror_falls_back_to_the_registry() {
    let options = with_mirror(Goal::Manifest(None), "http://127.0.0.1:5001/");
    let mut r = Run::new("nginx:1", options);
    assert_eq!(
        r.send().1,
        "http://127.0.0.1:5001/v2/library/nginx/manifests/1"
    );
    r.respond(response(500, &[], b""));
    assert_eq!(
        r.send().1,
        "https://registry-1.docker.io/v2/library/nginx/manifests/1"
    );
    r.respond(manifest_ok());
    let i = r.done().unwrap().into_image().unwrap();
    assert_eq!(i.mirror, None);
    assert_eq!(i.skipped_mirrors.len(), 1);
    assert!(matches!(
        i.skipped_mirrors[0].1,
        Error::Registry { status: 500, .. }
    ));
}

#[test]
fn a_mirror_a_driver_without_tls_cannot_reach_is_passed_over() {
    // An https mirror refused before it is asked (no TLS in the driver) is a failure
    // on that mirror like any other: the next endpoint is tried.
    let mut options = with_mirror(Goal::Manifest(None), "https://mirror.example/");
    options.mirrors.push(Mirror {
        url: Url::parse("http://127.0.0.1:5001/").unwrap(),
        credentials: None,
    });
    options.tls = false;
    let mut r = Run::new("nginx:1", options);
    assert_eq!(
        r.send().1,
        "http://127.0.0.1:5001/v2/library/nginx/manifests/1"
    );
    r.respond(manifest_ok());
    let i = r.done().unwrap().into_image().unwrap();
    assert_eq!(i.skipped_mirrors.len(), 1);
    assert!(matches!(
        i.skipped_mirrors[0].1,
        Error::Transport {
            kind: TransportErrorKind::NoTls,
            ..
        }
    ));
    // With no endpoint left that it can reach, the flow ends saying so.
    let mut options = with_mirror(Goal::Manifest(None), "https://mirror.example/");
    options.tls = false;
    let mut r = Run::new("nginx:1", options);
    assert!(matches!(
        r.done(),
        Err(Error::Transport {
            kind: TransportErrorKind::NoTls,
            ..
        })
    ));
}

#[test]
fn a_mirror_that_answers_is_named() {
    let options = with_mirror(Goal::Manifest(None), "https://mirror.example/");
    let mirror = options.mirrors[0].url.clone();
    let mut r = Run::new("nginx:1", options);
    assert_eq!(
        r.send().1,
        "https://mirror.example/v2/library/nginx/manifests/1"
    );
    r.respond(manifest_ok());
    let i = r.done().unwrap().into_image().unwrap();
    assert_eq!(i.mirror, Some(mirror));
}

#[test]
fn mirrors_are_for_images_only() {
    let goal = Goal::Tags {
        limit: None,
        page_size: None,
    };
    let mut r = Run::new("nginx", with_mirror(goal, "https://mirror.example/"));
    assert_eq!(
        r.send().1,
        "https://registry-1.docker.io/v2/library/nginx/tags/list"
    );
}

#[test]
fn loopback_registries_fall_back_to_http_only_when_tls_is_not_spoken() {
    let mut r = Run::new("localhost:5000/app:v1", Options::new(Goal::Manifest(None)));
    assert_eq!(r.send().1, "https://localhost:5000/v2/app/manifests/v1");
    r.fail(K::Tls);
    assert_eq!(r.send().1, "http://localhost:5000/v2/app/manifests/v1");

    // An untrusted certificate is not a reason to speak plain http.
    let mut r = Run::new("localhost:5000/app:v1", Options::new(Goal::Manifest(None)));
    r.send();
    r.fail(K::Certificate);
    assert!(matches!(
        r.done(),
        Err(Error::Transport {
            kind: K::Certificate,
            ..
        })
    ));

    // Nor is any TLS failure on a registry that is not on loopback.
    let mut r = Run::new(
        "registry.example/app:v1",
        Options::new(Goal::Manifest(None)),
    );
    r.send();
    r.fail(K::Tls);
    assert!(matches!(
        r.done(),
        Err(Error::Transport { kind: K::Tls, .. })
    ));
}

#[test]
fn login_checks_the_registry_itself() {
    // A repository given with the login goal is dropped: the check is the registry's.
    let flow = Flow::new(
        Reference::parse("localhost:5000/team/app:v1").unwrap(),
        Options::new(Goal::Login),
        TokenCache::default(),
    );
    let mut r = Run::with(flow);
    assert_eq!(
        r.send(),
        ("GET".into(), "https://localhost:5000/v2/".into())
    );
    r.respond(response(200, &[], b"{}"));
    assert_eq!(
        r.done().unwrap(),
        Outcome::LoggedIn {
            authenticated: false
        }
    );
    // Docker Hub has no catalog: that flow ends before it sends anything.
    let hub = Reference::for_registry("index.docker.io").unwrap();
    let catalog = Goal::Catalog {
        limit: None,
        page_size: None,
    };
    let mut r = Run::with(Flow::new(hub, Options::new(catalog), TokenCache::default()));
    assert!(matches!(r.done(), Err(Error::Unsupported(_))));
}

#[test]
fn misuse_ends_the_flow() {
    let mut r = Run::new("registry.example/a:v1", Options::new(Goal::Manifest(None)));
    r.send();
    assert!(matches!(r.done(), Err(Error::Misuse(_))));
    assert!(matches!(r.done(), Err(Error::Misuse(_))));
    let mut r = Run::new("registry.example/a:v1", Options::new(Goal::Manifest(None)));
    r.respond(manifest_ok());
    assert!(matches!(r.done(), Err(Error::Misuse(_))));
}

#[test]
fn refused_connections_are_retried_then_reported() {
    let mut r = Run::new("registry.example/a:v1", Options::new(Goal::Manifest(None)));
    for _ in 0..MAX_RETRIES {
        r.send();
        r.fail(K::Connect);
        let Action::Wait(until) = r.poll() else {
            panic!("expected a wait")
        };
        assert!(until > r.now && until <= r.now + Duration::from_secs(2));
        r.now = until;
    }
    r.send();
    r.fail(K::Connect);
    assert!(matches!(
        r.done(),
        Err(Error::Transport {
            kind: K::Connect,
            peer: Peer::Registry,
            ..
        })
    ));
}

#[test]
fn a_wait_that_is_already_over_is_never_handed_out() {
    // Found by fuzzing: `Retry-After: 0`, then a poll a little later.
    let mut r = Run::new("registry.example/a:v1", Options::new(Goal::Manifest(None)));
    r.send();
    r.respond(response(503, &[("retry-after", "0")], b""));
    r.now += Duration::from_millis(10);
    match r.poll() {
        Action::Send(_) => {}
        other => panic!("expected the retry at once, got {other:?}"),
    }
}

// --- What a caller keeps across flows and runs -------------------------------------

fn bearer_401() -> http::Response<Vec<u8>> {
    response(
        401,
        &[(
            "www-authenticate",
            r#"Bearer realm="https://auth.example/token",service="registry.example""#,
        )],
        b"",
    )
}

/// A flow for `registry.example/team/app:v1` that met the Bearer challenge and has
/// just sent its token request.
fn at_token_request(options: Options) -> Run {
    let mut r = Run::new("registry.example/team/app:v1", options);
    r.send();
    r.respond(bearer_401());
    r.send();
    r
}

/// A flow for `registry.example/team/app:v1` that met the Bearer challenge, got
/// `token` and the manifest: what a caller then keeps is in its token cache.
fn first_run_with_token(token: &str) -> Run {
    let mut r = at_token_request(Options::new(Goal::Manifest(None)));
    let reply = format!(r#"{{"token":"{token}","expires_in":300}}"#);
    r.respond(response(200, &[], reply.as_bytes()));
    r.send();
    r.respond(manifest_ok());
    r.done().unwrap();
    r
}

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

/// The `Authorization` of the request the flow hands out next.
fn send_auth(r: &mut Run) -> (String, Option<String>) {
    match r.poll() {
        Action::Send(t) => (
            t.request.uri().to_string(),
            t.request
                .headers()
                .get(http::header::AUTHORIZATION)
                .map(|v| v.to_str().unwrap().to_owned()),
        ),
        other => panic!("expected a request, got {other:?}"),
    }
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
    assert!(TokenCache::from_json("garbage").is_empty());
    // Expired tokens are not written.
    assert!(
        !r.flow
            .tokens
            .to_json(t0() + Duration::from_secs(3600))
            .contains("tok-1")
    );
}

/// The manifest held, and seen as what the reference resolved to.
fn known_manifest() -> Known {
    let digest = Digest::sha256(MANIFEST);
    let mut known = Known::from_map([(digest.clone(), MANIFEST.to_vec())].into());
    known.resolved = Some(digest);
    known
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

/// A second flow towards a bearer registry for `goal`, with `user:password`, after a
/// first one for the same goal with `alice:good` got its token.
fn after_a_good_run(goal: Goal, user: &str, password: &str) -> Run {
    let flow = |credentials: Credentials, tokens: TokenCache| {
        let mut options = Options::new(goal.clone());
        options.credentials = Some(credentials);
        match goal {
            Goal::Login => Flow::new(
                Reference::for_registry("registry.example").unwrap(),
                options,
                tokens,
            ),
            _ => Flow::new(
                Reference::parse("registry.example/team/app:v1").unwrap(),
                options,
                tokens,
            ),
        }
    };
    let mut r = Run::with(flow(
        Credentials::basic("alice", "good"),
        TokenCache::default(),
    ));
    r.send();
    r.respond(bearer_401());
    r.send();
    r.respond(response(
        200,
        &[],
        br#"{"token":"alice-tok","expires_in":300}"#,
    ));
    let (_, auth) = send_auth(&mut r);
    assert_eq!(auth.as_deref(), Some("Bearer alice-tok"));
    r.respond(match goal {
        Goal::Login => response(200, &[], b"{}"),
        _ => manifest_ok(),
    });
    r.done().unwrap();
    let tokens = TokenCache::from_json(&r.flow.tokens.to_json(t0()));
    Run::with(flow(Credentials::basic(user, password), tokens))
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
    assert_eq!(i.platforms(), [Platform::new("linux", "amd64", None)]);
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

// --- The graph's rows, walked ------------------------------------------------------

/// What a transition's input was, in the words of the graph's table (recorded by
/// `Flow::step` in tests).
pub(super) struct Seen {
    input: &'static str,
    skipped: usize,
}

impl Seen {
    pub(super) fn of(state: &Wait, input: &Input, flow: &Flow) -> Seen {
        let challenge = |r: &http::Response<Vec<u8>>| {
            let v = r
                .headers()
                .get(http::header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_ascii_lowercase();
            if v.starts_with("bearer") {
                "401 Bearer"
            } else if v.starts_with("basic") {
                "401 Basic"
            } else {
                "401 without a challenge"
            }
        };
        let input = match (state, input) {
            (Wait::Done, _) => "anything",
            (Wait::Resource { .. }, Input::Response(r))
                if flow.via_location
                    && !r.status().is_success()
                    && !r.status().is_redirection() =>
            {
                "an error status, or refused or reset, at a blob's remembered location"
            }
            (Wait::Resource { .. }, Input::Failure(_)) if flow.via_location => {
                "an error status, or refused or reset, at a blob's remembered location"
            }
            (Wait::Backoff { .. }, Input::Poll) => "poll",
            (_, Input::Poll) => "poll",
            (Wait::Resource { .. }, Input::Response(r)) => match r.status().as_u16() {
                200..=299 => "2xx",
                300..=399 => "3xx",
                401 => challenge(r),
                400 | 403..=405 | 501 if matches!(flow.state.at.step, Step::Top { head: true }) => {
                    "400, 403, 404, 405, 501 to the top HEAD"
                }
                429 | 502..=504 => "429, 502, 503, 504",
                _ => "an error status",
            },
            (Wait::Token { post, .. }, Input::Response(r)) => match r.status().as_u16() {
                200 => "200",
                404 | 405 if *post => "404 or 405 to the POST",
                500..=599 => "5xx",
                _ => "an error status",
            },
            (Wait::Ping, Input::Response(r)) if r.status() == 401 => challenge(r),
            (_, Input::Response(_)) => "an error status",
            (_, Input::Failure(TransportErrorKind::Tls))
                if flow.security == Security::HttpsThenHttp =>
            {
                "loopback https, no TLS"
            }
            (_, Input::Failure(TransportErrorKind::Connect | TransportErrorKind::Reset)) => {
                "refused or reset"
            }
            (_, Input::Failure(_)) => "a transport failure",
        };
        Seen {
            input,
            skipped: flow.skipped.len(),
        }
    }

    /// The row this transition took: (from, input, to).
    pub(super) fn taken(
        self,
        from: &'static str,
        to: &Wait,
        action: &Action,
        skipped: usize,
    ) -> (&'static str, String, &'static str) {
        let input = match action {
            _ if from == "Done" => "anything",
            _ if skipped > self.skipped => "an error, on a mirror",
            Action::Done(Err(Error::Offline { .. })) => "offline",
            Action::Done(Err(Error::Transport {
                kind: TransportErrorKind::NoTls,
                ..
            })) => "no TLS in the driver",
            Action::Done(Err(Error::Timeout {
                stage: TimeoutStage::Connect,
                ..
            })) if self.input != "a transport failure" => "past the deadline",
            Action::Done(Err(_)) => "an error",
            Action::Wait(_) if from == "Start" => "poll during a registry's hold",
            _ if from == "Backoff" && to.name() == "Backoff" => "poll before its time",
            _ if from == "Backoff" => "poll at its time",
            _ => self.input,
        };
        (from, input.to_owned(), to.name())
    }
}

/// The rows of the graph's table: (from, input, to), backticks dropped.
fn graph_rows() -> BTreeSet<(String, String, String)> {
    include_str!("graph.md")
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| state") && !l.starts_with("|---"))
        .map(|row| {
            let cols: Vec<String> = row.split('|').map(|c| c.trim().replace('`', "")).collect();
            (cols[1].clone(), cols[2].clone(), cols[3].clone())
        })
        .collect()
}

/// Runs `script` on a fresh flow for `reference` with `options`; returns the rows
/// it took.
fn rows_of(
    reference: &str,
    options: Options,
    script: impl FnOnce(&mut Run),
) -> Vec<(&'static str, String, &'static str)> {
    let mut r = Run::new(reference, options);
    script(&mut r);
    r.flow.taken.clone()
}

#[test]
fn every_row_of_the_graph_is_taken_and_nothing_else() {
    let app = "registry.example/team/app:v1";
    let manifest = || Options::new(Goal::Manifest(None));
    let mut taken = Vec::new();
    let send = |r: &mut Run| {
        r.send();
    };
    // Bearer: a token after the 401, then the manifest; then the same flow again,
    // knowing the challenge (a token first) and done at once from known content.
    taken.extend(rows_of(app, manifest(), |r| {
        send(r);
        r.respond(bearer_401());
        send(r);
        r.respond(response(200, &[], br#"{"token":"t","expires_in":300}"#));
        send(r);
        r.respond(manifest_ok());
        r.done().unwrap();
        let _ = r.done();
    }));
    let r = first_run_with_token("t");
    let mut tokens = TokenCache::from_json(&r.flow.tokens.to_json(t0()));
    tokens.entries.clear();
    let mut r = Run::with(Flow::new(
        Reference::parse(app).unwrap(),
        manifest(),
        tokens,
    ));
    send(&mut r);
    taken.extend(r.flow.taken.clone());
    let digest = Digest::sha256(MANIFEST);
    let mut o = manifest();
    o.known = known_manifest();
    taken.extend(rows_of(
        &format!("registry.example/team/app@{digest}"),
        o,
        |r| {
            r.done().unwrap();
        },
    ));
    // An index: the platform's manifest by digest (2xx → Resource), a token for it
    // when the index came with a token it cannot reuse is covered by insufficient
    // scope below; a redirect on the config; Basic; a bare 401 and the ping.
    let mut o = Options::new(Goal::Inspect(Platform::new("linux", "amd64", None)));
    o.credentials = Some(Credentials::basic("u", "p"));
    taken.extend(rows_of(app, o, |r| {
        send(r);
        r.respond(response(401, &[("www-authenticate", "Basic realm=x")], b""));
        send(r);
        r.respond(manifest_ok());
        send(r);
        r.respond(response(
            307,
            &[("location", "https://cdn.example/blob")],
            b"",
        ));
        send(r);
        r.respond(response(200, &[], b"{}"));
        r.done().unwrap();
    }));
    let mut o = manifest();
    o.credentials = Some(Credentials::basic("u", "p"));
    taken.extend(rows_of(app, o, |r| {
        send(r);
        r.respond(response(401, &[], b""));
        send(r);
        r.respond(response(401, &[("www-authenticate", "Basic realm=x")], b""));
        send(r);
        r.respond(manifest_ok());
        r.done().unwrap();
    }));
    taken.extend(rows_of(app, manifest(), |r| {
        send(r);
        r.respond(response(401, &[], b""));
        send(r);
        r.respond(bearer_401());
        send(r);
        r.respond(response(200, &[], br#"{"token":"t"}"#));
        send(r);
        r.respond(manifest_ok());
        r.done().unwrap();
    }));
    // A 2xx whose next step needs a token: the token ran out while the manifest came.
    taken.extend(rows_of(
        app,
        Options::new(Goal::Inspect(Platform::new("linux", "amd64", None))),
        |r| {
            send(r);
            r.respond(bearer_401());
            send(r);
            r.respond(response(200, &[], br#"{"token":"t","expires_in":60}"#));
            send(r);
            r.now += Duration::from_secs(55);
            r.respond(manifest_ok());
            assert!(r.send().1.starts_with("https://auth.example/token?"));
            r.respond(response(200, &[], br#"{"token":"t2","expires_in":60}"#));
            send(r);
            r.respond(response(200, &[], b"{}"));
            r.done().unwrap();
        },
    ));
    // The top HEAD refused, then GET; 503 and backoff; refused connections and
    // backoff; a ping refused and retried; the token server's 5xx and its reset.
    taken.extend(rows_of(app, Options::new(Goal::Digest(None)), |r| {
        send(r);
        r.respond(response(405, &[], b""));
        send(r);
        r.respond(response(503, &[("retry-after", "2")], b""));
        assert!(matches!(r.poll(), Action::Wait(_)));
        // Polled again too early: still waiting.
        assert!(matches!(r.poll(), Action::Wait(_)));
        r.now += Duration::from_secs(2);
        send(r);
        r.fail(K::Reset);
        let _ = r.poll();
        r.now += Duration::from_secs(3);
        send(r);
        r.respond(manifest_ok());
        r.done().unwrap();
    }));
    taken.extend(rows_of(app, manifest(), |r| {
        send(r);
        r.respond(response(401, &[], b""));
        send(r);
        r.fail(K::Connect);
        r.now += Duration::from_secs(3);
        send(r);
        r.respond(bearer_401());
        send(r);
        r.respond(response(502, &[], b""));
        r.now += Duration::from_secs(3);
        send(r);
        r.fail(K::Reset);
        r.now += Duration::from_secs(5);
        send(r);
        r.respond(response(200, &[], br#"{"token":"t"}"#));
        send(r);
        r.respond(manifest_ok());
        r.done().unwrap();
    }));
    // The OAuth2 POST refused: the GET flow.
    let mut o = manifest();
    o.credentials = Some(Credentials::IdentityToken {
        username: None,
        token: crate::auth::Secret::from("refresh"),
    });
    taken.extend(rows_of(app, o, |r| {
        send(r);
        r.respond(bearer_401());
        send(r);
        r.respond(response(405, &[], b""));
        send(r);
        r.respond(response(200, &[], br#"{"token":"t"}"#));
        send(r);
        r.respond(manifest_ok());
        r.done().unwrap();
    }));
    // Loopback without TLS: the same step over http.
    taken.extend(rows_of("localhost:5000/app:v1", manifest(), |r| {
        send(r);
        r.fail(K::Tls);
        send(r);
        r.respond(manifest_ok());
        r.done().unwrap();
    }));
    // A mirror that fails: the registry itself; errors; the deadline; offline; a
    // driver without TLS.
    taken.extend(rows_of(
        "nginx:1",
        with_mirror(Goal::Manifest(None), "http://127.0.0.1:5001/"),
        |r| {
            send(r);
            r.respond(response(500, &[], b""));
            send(r);
        },
    ));
    // An https mirror a driver without TLS cannot reach: passed over at once.
    let mut o = with_mirror(Goal::Manifest(None), "https://mirror.example/");
    o.mirrors.push(Mirror {
        url: Url::parse("http://127.0.0.1:5001/").unwrap(),
        credentials: None,
    });
    o.tls = false;
    taken.extend(rows_of("nginx:1", o, |r| {
        send(r);
        r.respond(manifest_ok());
        r.done().unwrap();
    }));
    taken.extend(rows_of(app, manifest(), |r| {
        send(r);
        r.respond(response(404, &[], b""));
        let _ = r.done();
    }));
    let mut o = manifest();
    o.deadline = Some(t0());
    taken.extend(rows_of(app, o, |r| {
        let _ = r.done();
    }));
    let mut o = manifest();
    o.offline = true;
    taken.extend(rows_of(app, o, |r| {
        let _ = r.done();
    }));
    let mut o = manifest();
    o.tls = false;
    taken.extend(rows_of(app, o, |r| {
        let _ = r.done();
    }));
    // A registry's hold: waited out, then the request.
    let mut o = manifest();
    o.hold = Hold::of(&response(429, &[("retry-after", "2")], b""), t0());
    taken.extend(rows_of(app, o, |r| {
        assert!(matches!(r.poll(), Action::Wait(_)));
        r.now += Duration::from_secs(2);
        send(r);
    }));
    // A blob's remembered location that has expired: the registry instead.
    let mut o = Options::new(Goal::Blob(Digest::sha256(b"x")));
    o.location = Some("https://cdn.example/blob?sig=x".parse().unwrap());
    taken.extend(rows_of(app, o, |r| {
        r.send();
        r.respond(response(403, &[], b""));
        r.send();
        r.respond(response(200, &[], b""));
        let _ = r.done();
    }));

    let rows = graph_rows();
    let matches = |(from, input, to): &(&str, String, &str)| {
        rows.iter()
            .any(|(f, i, t)| (f == from || f == "any") && i == input && t == to)
    };
    let unknown: Vec<_> = taken.iter().filter(|t| !matches(t)).collect();
    assert!(
        unknown.is_empty(),
        "transitions the graph has no row for: {unknown:?}"
    );
    let untaken: Vec<_> = rows
        .iter()
        .filter(|(f, i, t)| {
            !taken
                .iter()
                .any(|(from, input, to)| (f == from || f == "any") && i == input && t == to)
        })
        .collect();
    assert!(untaken.is_empty(), "rows no walk took: {untaken:?}");
}

#[test]
fn offline_a_tag_is_the_digest_it_was_last_seen_at() {
    let digest = Digest::sha256(MANIFEST);
    let mut options = Options::new(Goal::Manifest(None));
    options.known = known_manifest();
    options.offline = true;
    let mut r = Run::new("registry.example/team/app:v1", options);
    let i = r.done().unwrap().into_image().unwrap();
    assert_eq!(i.digest, digest);
    assert_eq!(
        i.reference.digest(),
        Some(&digest),
        "the inspection names it"
    );
    assert_eq!(i.reference.tag(), Some("v1"));
    // Never seen: offline says what is missing.
    let mut options = Options::new(Goal::Manifest(None));
    options.offline = true;
    let mut r = Run::new("registry.example/team/app:v1", options);
    assert!(matches!(r.done(), Err(Error::Offline { .. })));
}

#[test]
fn a_429_is_a_hold_every_client_of_the_registry_obeys() {
    let now = t0();
    let hold = Hold::of(&response(429, &[("retry-after", "7")], b""), now).unwrap();
    assert_eq!(hold.until, now + Duration::from_secs(7));
    assert_eq!(hold.retry_after.as_deref(), Some("7"));
    assert!(hold.waitable(now, None));
    assert!(hold.waitable(now, Some(now + Duration::from_secs(8))));
    assert!(
        !hold.waitable(now, Some(now + Duration::from_secs(7))),
        "past the deadline"
    );
    // Unsaid: the flow's own first backoff; hours: not worth waiting for.
    let unsaid = Hold::of(&response(429, &[], b""), now).unwrap();
    assert_eq!(unsaid.until, now + Duration::from_millis(500));
    let hours = Hold::of(&response(429, &[("retry-after", "3600")], b""), now).unwrap();
    assert!(!hours.waitable(now, None));
    assert_eq!(
        Hold::of(&response(503, &[("retry-after", "7")], b""), now),
        None
    );

    // Handed to another flow: it sends nothing before the hold ends, then goes on.
    let mut options = Options::new(Goal::Manifest(None));
    options.hold = Some(hold.clone());
    let mut r = Run::new("registry.example/team/app:v1", options);
    let until = now + Duration::from_secs(7);
    assert!(matches!(r.poll(), Action::Wait(t) if t == until));
    r.now += Duration::from_secs(3);
    assert!(
        matches!(r.poll(), Action::Wait(t) if t == until),
        "polled early"
    );
    r.now += Duration::from_secs(4);
    assert_eq!(r.send().0, "GET");
    // A hold past the deadline, or past the 30 s the flow waits, ends it at once,
    // with the registry's Retry-After, and nothing sent.
    for (hold, deadline) in [(hold, Some(now + Duration::from_secs(5))), (hours, None)] {
        let mut options = Options::new(Goal::Manifest(None));
        options.hold = Some(hold.clone());
        options.deadline = deadline;
        let mut r = Run::new("registry.example/team/app:v1", options);
        match r.done() {
            Err(Error::RateLimited { retry_after, .. }) => {
                assert_eq!(retry_after, hold.retry_after)
            }
            other => panic!("expected a rate-limit error, got {other:?}"),
        }
    }
    // A hold already over is no hold.
    let mut options = Options::new(Goal::Manifest(None));
    options.hold = Hold::of(
        &response(429, &[("retry-after", "1")], b""),
        now - Duration::from_secs(5),
    );
    let mut r = Run::new("registry.example/team/app:v1", options);
    assert_eq!(r.send().0, "GET");
}

#[test]
fn a_pull_free_flow_never_gets_a_manifest() {
    let app = "registry.example/team/app:v1";
    let digest = Digest::sha256(MANIFEST);
    let pull_free = |platform: Option<Platform>| {
        let mut o = Options::new(Goal::Digest(platform));
        o.pull_free = true;
        o
    };
    // The digest from HEAD: one request.
    let mut r = Run::new(app, pull_free(None));
    assert_eq!(r.send().0, "HEAD");
    let d = digest.to_string();
    r.respond(response(200, &[("docker-content-digest", d.as_str())], b""));
    assert_eq!(r.done().unwrap().into_image().unwrap().digest, digest);
    // No digest on HEAD: an error, not the GET a plain Digest flow sends.
    let mut r = Run::new(app, pull_free(None));
    r.send();
    r.respond(response(
        200,
        &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
        b"",
    ));
    match r.done() {
        Err(Error::Unsupported(why)) => assert!(why.contains("counts as a pull"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // A HEAD refused: its status, without the GET that would fetch the error code.
    let mut r = Run::new(app, pull_free(None));
    r.send();
    r.respond(response(404, &[], b""));
    assert!(matches!(r.done(), Err(Error::Registry { status: 404, .. })));
    // A platform of an index is read from the index: not pull-free, unless known.
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{d}","size":{},"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
        MANIFEST.len()
    );
    let index_digest = Digest::sha256(index.as_bytes());
    let id = index_digest.to_string();
    let index_head = || {
        response(
            200,
            &[
                ("docker-content-digest", id.as_str()),
                ("content-type", "application/vnd.oci.image.index.v1+json"),
            ],
            b"",
        )
    };
    let amd64 = Platform::parse("linux/amd64", "amd64").unwrap();
    let mut r = Run::new(app, pull_free(Some(amd64.clone())));
    assert_eq!(r.send().0, "HEAD");
    r.respond(index_head());
    assert!(matches!(r.done(), Err(Error::Unsupported(_))));
    let mut o = pull_free(Some(amd64));
    o.known = Known::from_map([(index_digest.clone(), index.into_bytes())].into());
    o.known.resolved = Some(index_digest.clone());
    let mut r = Run::new(app, o);
    assert_eq!(r.send().0, "HEAD");
    r.respond(index_head());
    let i = r.done().unwrap().into_image().unwrap();
    assert_eq!(i.digest, index_digest);
    assert_eq!(
        i.manifest.unwrap().digest,
        digest,
        "the platform's, from the index"
    );
}

#[test]
fn a_blob_is_the_callers_to_stream() {
    let digest = Digest::sha256(b"layer bytes");
    let mut r = Run::new(
        "registry.example/team/app:v1",
        Options::new(Goal::Blob(digest.clone())),
    );
    let Action::Send(t) = r.poll() else {
        panic!("a request")
    };
    assert!(t.stream, "the blob request is streamed");
    assert_eq!(t.request.method(), "GET");
    assert_eq!(
        t.request.uri().to_string(),
        format!("https://registry.example/v2/team/app/blobs/{digest}")
    );
    // Auth as for anything else: a bearer challenge, a token, the blob again.
    r.respond(bearer_401());
    r.send();
    r.respond(response(200, &[], br#"{"token":"t","expires_in":300}"#));
    let Action::Send(t) = r.poll() else {
        panic!("the blob again")
    };
    assert!(t.stream && t.request.headers().contains_key("authorization"));
    // A redirect to a CDN: streamed too, without the registry's Authorization.
    r.respond(response(
        307,
        &[("location", "https://cdn.example/blob?sig=x")],
        b"",
    ));
    let Action::Send(t) = r.poll() else {
        panic!("the CDN")
    };
    assert!(t.stream && !t.request.headers().contains_key("authorization"));
    r.respond(response(200, &[("content-length", "11")], b""));
    assert_eq!(
        r.done().unwrap(),
        Outcome::Blob {
            digest: digest.clone(),
            size: Some(11),
            partial: false,
            location: Some("https://cdn.example/blob?sig=x".parse().unwrap()),
        }
    );
    // A range: asked of the registry and of the CDN alike; a 206 says it was honoured.
    let mut o = Options::new(Goal::Blob(digest.clone()));
    o.range = Some((100, 199));
    let mut r = Run::new("registry.example/team/app:v1", o);
    let Action::Send(t) = r.poll() else {
        panic!("a request")
    };
    assert_eq!(t.request.headers()["range"], "bytes=100-199");
    r.respond(response(
        307,
        &[("location", "https://cdn.example/blob")],
        b"",
    ));
    let Action::Send(t) = r.poll() else {
        panic!("the CDN")
    };
    assert_eq!(t.request.headers()["range"], "bytes=100-199");
    r.respond(response(206, &[("content-length", "100")], b""));
    assert!(matches!(r.done(), Ok(Outcome::Blob { partial: true, .. })));
    // An error status is read, and reported as for anything else.
    let mut r = Run::new(
        "registry.example/team/app:v1",
        Options::new(Goal::Blob(Digest::sha256(b"x"))),
    );
    r.send();
    r.respond(response(
        404,
        &[("content-type", "application/json")],
        br#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}"#,
    ));
    let err = r.done().unwrap_err().to_string();
    assert!(
        err.contains("blob sha256:") && err.contains("BLOB_UNKNOWN"),
        "{err}"
    );
}

#[test]
fn a_remembered_location_is_asked_first_and_falls_back_to_the_registry() {
    let digest = Digest::sha256(b"layer bytes");
    let cdn: url::Url = "https://cdn.example/blob?sig=x".parse().unwrap();
    let with_location = |range| {
        let mut o = Options::new(Goal::Blob(digest.clone()));
        o.location = Some(cdn.clone());
        o.range = range;
        o.credentials = Some(Credentials::basic("alice", "s3cret"));
        Run::new("registry.example/team/app:v1", o)
    };
    // Served there: one request, no credentials, the range kept.
    let mut r = with_location(Some((0, 9)));
    let Action::Send(t) = r.poll() else {
        panic!("a request")
    };
    assert_eq!(t.request.uri().to_string(), cdn.to_string());
    assert!(t.stream && !t.request.headers().contains_key("authorization"));
    assert_eq!(t.request.headers()["range"], "bytes=0-9");
    r.respond(response(206, &[("content-length", "10")], b""));
    assert!(matches!(
        r.done(),
        Ok(Outcome::Blob { partial: true, location: Some(l), .. }) if l == cdn
    ));
    // Expired (a 403), or out of reach: the registry, as if none had been given.
    for fails in [true, false] {
        let mut r = with_location(None);
        r.send();
        if fails {
            r.respond(response(403, &[], b"<Error>Request has expired</Error>"));
        } else {
            r.fail(TransportErrorKind::Connect);
        }
        let Action::Send(t) = r.poll() else {
            panic!("the registry")
        };
        assert_eq!(
            t.request.uri().to_string(),
            format!("https://registry.example/v2/team/app/blobs/{digest}")
        );
        r.respond(response(200, &[("content-length", "11")], b""));
        assert!(matches!(r.done(), Ok(Outcome::Blob { location: None, .. })));
    }
    // Only a blob has a location to remember; anything else ignores it.
    let mut o = Options::new(Goal::Digest(None));
    o.location = Some(cdn.clone());
    let mut r = Run::new("registry.example/team/app:v1", o);
    let Action::Send(t) = r.poll() else {
        panic!("a request")
    };
    assert!(t.request.uri().to_string().contains("/manifests/"));
}
