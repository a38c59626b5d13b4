//! Every goal, all 8, driven through the same adversities (a bearer registry, a bare
//! 401 and its ping, a retried 503, a reset connection, a redirect, a failing
//! mirror), each to its outcome; plus the rows only one goal takes (the referrers'
//! fallbacks, a blob's remembered location). Every transition is checked against the
//! table by `Flow::step` as it is taken; the rows taken go to the graph test.

use super::*;

const APP: &str = "registry.example/team/app:v1";
/// Another name of the same registry: the same token server.
const OTHER: &str = "registry2.example/team/app:v1";

/// Transitions taken: (from, input, to), as the graph names them.
type Rows = Vec<(&'static str, String, &'static str)>;

/// The 8 goals, each with the reference it is asked for.
fn goals() -> Vec<(&'static str, Goal, String)> {
    let blob = Digest::sha256(b"layer bytes");
    vec![
        ("digest", Goal::Digest(None), APP.into()),
        ("manifest", Goal::Manifest(None), APP.into()),
        (
            "inspect",
            Goal::Inspect(Platform::new("linux", "amd64", None)),
            APP.into(),
        ),
        (
            "tags",
            Goal::Tags {
                limit: None,
                page_size: None,
            },
            APP.into(),
        ),
        (
            "catalog",
            Goal::Catalog {
                limit: None,
                page_size: None,
            },
            "registry.example".into(),
        ),
        ("login", Goal::Login, "registry.example".into()),
        (
            "referrers",
            Goal::Referrers {
                platform: None,
                artifact_type: None,
            },
            APP.into(),
        ),
        ("blob", Goal::Blob(blob), APP.into()),
    ]
}

/// What a well-behaved registry answers to `t`, whatever the goal.
fn content(t: &Transmit) -> http::Response<Vec<u8>> {
    let uri = t.request.uri().to_string();
    let path = t.request.uri().path().to_owned();
    if t.kind == RequestKind::Token {
        return response(200, &[], br#"{"token":"t","expires_in":300}"#);
    }
    if path.contains("/manifests/") {
        let digest = Digest::sha256(MANIFEST).to_string();
        let mut r = manifest_ok();
        r.headers_mut()
            .insert("docker-content-digest", digest.parse().unwrap());
        return r;
    }
    if path.contains("/referrers/") {
        return response(
            200,
            &[("content-type", "application/vnd.oci.image.index.v1+json")],
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#,
        );
    }
    if path.ends_with("/tags/list") {
        return response(200, &[], br#"{"name":"team/app","tags":["v1"]}"#);
    }
    if path.ends_with("/_catalog") {
        return response(200, &[], br#"{"repositories":["team/app"]}"#);
    }
    if path.contains("/blobs/") || uri.starts_with("https://cdn.example/") {
        let body: &[u8] = if uri.contains(&Digest::sha256(b"{}").to_string()) {
            b"{}"
        } else {
            b"layer bytes"
        };
        return response(200, &[], body);
    }
    response(200, &[], b"")
}

/// One way the registry makes a flow work for its answer.
#[derive(Debug, Clone, Copy)]
enum Adversity {
    /// Every registry request without a bearer token gets a Bearer challenge.
    Bearer,
    /// The first request gets a bare 401; the ping, a Bearer challenge.
    BareChallenge,
    /// The first request gets a 503 with `Retry-After: 1`.
    Unavailable,
    /// The first request's connection is reset.
    Reset,
    /// Blobs (a config, a layer) are redirected to a CDN.
    Redirect,
    /// A pull-through mirror that answers 500: the registry instead.
    FailingMirror,
}

const ADVERSITIES: [Adversity; 6] = [
    Adversity::Bearer,
    Adversity::BareChallenge,
    Adversity::Unavailable,
    Adversity::Reset,
    Adversity::Redirect,
    Adversity::FailingMirror,
];

/// Drives `goal` for `reference` through `adversity` to its end; returns the
/// outcome and the rows taken.
fn drive(reference: &str, goal: Goal, adversity: Adversity) -> (Result<Outcome, Error>, Rows) {
    let mut options = Options::new(goal);
    if matches!(adversity, Adversity::FailingMirror) {
        options.mirrors = vec![Mirror {
            url: Url::parse("https://mirror.example/").unwrap(),
            credentials: None,
        }];
    }
    let parsed = match options.goal {
        Goal::Catalog { .. } | Goal::Login => Reference::for_registry(reference),
        _ => Reference::parse(reference),
    };
    let mut r = Run::with(Flow::new(parsed.unwrap(), options, TokenCache::default()));
    let mut sent = 0;
    for _ in 0..50 {
        match r.poll() {
            Action::Done(outcome) => return (outcome, r.flow.taken.clone()),
            Action::Wait(until) => r.now = until,
            Action::Send(t) => {
                sent += 1;
                let registry = t.request.uri().host() == Some("registry.example");
                let bearer = t
                    .request
                    .headers()
                    .get(http::header::AUTHORIZATION)
                    .is_some_and(|v| v.as_bytes().starts_with(b"Bearer "));
                let path = t.request.uri().path().to_owned();
                match adversity {
                    Adversity::Bearer | Adversity::BareChallenge
                        if registry && !bearer && t.kind != RequestKind::Token =>
                    {
                        let bare = matches!(adversity, Adversity::BareChallenge)
                            && sent == 1
                            && path != "/v2/";
                        r.respond(if bare {
                            response(401, &[], b"")
                        } else {
                            bearer_401()
                        });
                    }
                    Adversity::Unavailable if sent == 1 => {
                        r.respond(response(503, &[("retry-after", "1")], b""));
                    }
                    Adversity::Reset if sent == 1 => r.fail(K::Reset),
                    Adversity::Redirect if registry && path.contains("/blobs/") => {
                        let to =
                            format!("https://cdn.example/{}", path.rsplit('/').next().unwrap());
                        r.respond(response(307, &[("location", &to)], b""));
                    }
                    Adversity::FailingMirror
                        if t.request.uri().host() == Some("mirror.example") =>
                    {
                        r.respond(response(500, &[], b""));
                    }
                    _ => {
                        let answer = content(&t);
                        r.respond(answer);
                    }
                }
            }
        }
    }
    panic!("{reference} {adversity:?}: no end after 50 actions");
}

/// The rows every goal takes through every adversity (each must reach its outcome),
/// and the rows of the walks only some goals take.
pub(super) fn rows_of_every_goal() -> Rows {
    let mut taken = Vec::new();
    for (name, goal, reference) in goals() {
        for adversity in ADVERSITIES {
            let (outcome, rows) = drive(&reference, goal.clone(), adversity);
            if let Err(e) = outcome {
                panic!("{name} through {adversity:?}: {e}");
            }
            taken.extend(rows);
        }
    }
    taken.extend(referrers_fallbacks());
    taken.extend(known_tokens());
    taken
}

/// A registry without the referrers API: the tag schema; no such tag: done.
fn referrers_fallbacks() -> Rows {
    let goal = Goal::Referrers {
        platform: None,
        artifact_type: None,
    };
    let mut r = Run::new(APP, Options::new(goal.clone()));
    let mut taken = Vec::new();
    loop {
        match r.poll() {
            Action::Send(t) => {
                let path = t.request.uri().path().to_owned();
                if path.contains("/referrers/") || path.contains("/manifests/sha256-") {
                    r.respond(response(404, &[], b""));
                } else {
                    r.respond(content(&t));
                }
            }
            Action::Done(outcome) => {
                outcome.unwrap();
                break;
            }
            Action::Wait(until) => r.now = until,
        }
    }
    taken.extend(r.flow.taken.clone());
    // An index with an attestation manifest: after the fallback tag's 404, the
    // attestation is read.
    let index = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
        {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"platform":{"os":"linux","architecture":"amd64"}},
        {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":2,
         "platform":{"os":"unknown","architecture":"unknown"},
         "annotations":{"vnd.docker.reference.type":"attestation-manifest","vnd.docker.reference.digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"}}]}"#;
    let mut r = Run::new(APP, Options::new(goal));
    let mut asked_attestation = false;
    for _ in 0..20 {
        match r.poll() {
            Action::Send(t) => {
                let path = t.request.uri().path().to_owned();
                if path.ends_with("/manifests/v1") {
                    r.respond(response(
                        200,
                        &[("content-type", "application/vnd.oci.image.index.v1+json")],
                        index,
                    ));
                } else if path.contains("/referrers/") || path.contains("/manifests/sha256-") {
                    r.respond(response(404, &[], b""));
                } else {
                    asked_attestation |= path.contains("sha256:aaaa");
                    // The attestation manifest cannot be served: its end is an
                    // error, after the row this walk is for.
                    r.respond(response(404, &[], b""));
                }
            }
            Action::Done(_) => break,
            Action::Wait(until) => r.now = until,
        }
    }
    assert!(
        asked_attestation,
        "the attestation manifest was never asked"
    );
    taken.extend(r.flow.taken.clone());
    taken
}

/// A token another registry's flow cached (one token server for two hosts, as a
/// registry with two names has), its challenge not known here: a 401 (or the ping's)
/// names the same realm, service and scope, and finds it cached; a blob's expired location, and a failing mirror, go to a
/// registry whose token is not cached yet; loopback's ping falls back to plain http.
fn known_tokens() -> Rows {
    let mut taken = Vec::new();
    let first = first_run_with_token("t");
    // Resource 401 Bearer → Resource.
    let mut r = Run::with(Flow::new(
        Reference::parse(OTHER).unwrap(),
        Options::new(Goal::Manifest(None)),
        TokenCache::from_json(&first.flow.tokens.to_json(t0())),
    ));
    r.send();
    r.respond(bearer_401());
    let (_, auth) = send_auth(&mut r);
    assert_eq!(auth.as_deref(), Some("Bearer t"));
    r.respond(manifest_ok());
    r.done().unwrap();
    taken.extend(r.flow.taken.clone());
    // Ping 401 Bearer → Resource.
    let mut r = Run::with(Flow::new(
        Reference::parse(OTHER).unwrap(),
        Options::new(Goal::Manifest(None)),
        TokenCache::from_json(&first.flow.tokens.to_json(t0())),
    ));
    r.send();
    r.respond(response(401, &[], b""));
    assert_eq!(r.send().1, "https://registry2.example/v2/");
    r.respond(bearer_401());
    let (url, auth) = send_auth(&mut r);
    assert_eq!(auth.as_deref(), Some("Bearer t"), "{url}");
    r.respond(manifest_ok());
    r.done().unwrap();
    taken.extend(r.flow.taken.clone());
    // A blob's expired location, the registry's challenge known, no token for the
    // blob's scope cached: a token first.
    let mut tokens = TokenCache::from_json(&first.flow.tokens.to_json(t0()));
    tokens.entries.clear();
    let mut o = Options::new(Goal::Blob(Digest::sha256(b"layer bytes")));
    o.location = Some("https://cdn.example/blob?sig=x".parse().unwrap());
    let mut r = Run::with(Flow::new(Reference::parse(APP).unwrap(), o, tokens));
    assert!(r.send().1.starts_with("https://cdn.example/"));
    r.respond(response(403, &[], b""));
    assert!(r.send().1.starts_with("https://auth.example/token?"));
    taken.extend(r.flow.taken.clone());
    // A mirror that fails, the registry's challenge known: a token first.
    let mut tokens = TokenCache::from_json(&first.flow.tokens.to_json(t0()));
    tokens.entries.clear();
    let mut o = Options::new(Goal::Manifest(None));
    o.mirrors = vec![Mirror {
        url: Url::parse("https://mirror.example/").unwrap(),
        credentials: None,
    }];
    let mut r = Run::with(Flow::new(
        Reference::parse("registry.example/team/app:v1").unwrap(),
        o,
        tokens,
    ));
    r.send();
    r.respond(response(500, &[], b""));
    taken.extend(r.flow.taken.clone());
    // Loopback: a bare 401, then the ping finds no TLS: the step again over http.
    let mut r = Run::new("localhost:5000/app:v1", Options::new(Goal::Manifest(None)));
    assert!(r.send().1.starts_with("https://localhost:5000/"));
    r.respond(response(401, &[], b""));
    assert_eq!(r.send().1, "https://localhost:5000/v2/");
    r.fail(K::Tls);
    assert!(
        r.send()
            .1
            .starts_with("http://localhost:5000/v2/app/manifests/")
    );
    r.respond(manifest_ok());
    r.done().unwrap();
    taken.extend(r.flow.taken.clone());
    taken
}
