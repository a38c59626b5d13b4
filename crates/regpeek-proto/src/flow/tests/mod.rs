//! Unit tests of the flow itself: the state graph in the docs against the states, a
//! walk through every state, deadlines, mirrors, the loopback rule, login, misuse.
//! (Whole exchanges are covered by the replayed fixtures in `tests/replay.rs`.)

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use super::*;
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
            stage: TimeoutStage::BeforeSending,
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
    // On loopback, a refused connection ends the flow at once (nothing listens there),
    // and a reset one is still retried.
    for host in ["127.0.0.1:5000", "localhost:5000", "[::1]:5000"] {
        let mut o = Options::new(Goal::Manifest(None));
        o.tls = false;
        let mut r = Run::new(&format!("{host}/a:v1"), o);
        r.send();
        r.fail(K::Reset);
        assert!(
            matches!(r.poll(), Action::Wait(_)),
            "{host}: a reset is retried"
        );
        let mut r = Run::new(&format!("{host}/a:v1"), {
            let mut o = Options::new(Goal::Manifest(None));
            o.tls = false;
            o
        });
        r.send();
        r.fail(K::Connect);
        assert!(
            matches!(
                r.done(),
                Err(Error::Transport {
                    kind: K::Connect,
                    ..
                })
            ),
            "{host}"
        );
    }
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

// --- Shared by the modules below ---------------------------------------------------

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

/// The manifest held, and seen as what the reference resolved to.
fn known_manifest() -> Known {
    let digest = Digest::sha256(MANIFEST);
    let mut known = Known::from_map([(digest.clone(), MANIFEST.to_vec())].into());
    known.resolved = Some(digest);
    known
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

mod caller;
mod goals;
pub(super) mod graph;
mod holds;
