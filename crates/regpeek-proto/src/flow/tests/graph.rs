//! The state graph of `graph.md` against the code: it names every state and nothing
//! else, a walk visits every state, and every row is taken and nothing else.

use std::collections::BTreeSet;
use std::time::Duration;

use super::*;
use crate::error::TransportErrorKind as K;

/// The backticked names in the state columns (first and third) of the graph's table.
fn graph_states() -> BTreeSet<String> {
    let graph = include_str!("../graph.md");
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

// --- The graph's rows, walked ------------------------------------------------------

/// What a transition's input was, in the words of the graph's table (recorded by
/// `Flow::step` in tests).
pub(in crate::flow) struct Seen {
    input: &'static str,
    skipped: usize,
}

impl Seen {
    pub(in crate::flow) fn of(state: &Wait, input: &Input, flow: &Flow) -> Seen {
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
                400 | 404 | 405 if matches!(flow.state.at.step, Step::Referrers { .. }) => {
                    "400, 404, 405 to the referrers API"
                }
                404 if matches!(flow.state.at.step, Step::ReferrersTag { .. }) => {
                    "404 to the referrers tag"
                }
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
                500..=599 if !*post => "5xx to a GET",
                _ => "an error status",
            },
            (Wait::Ping, Input::Response(r)) if r.status() == 401 => challenge(r),
            (_, Input::Response(_)) => "an error status",
            (_, Input::Failure(TransportErrorKind::Tls))
                if flow.state.at.security == Security::HttpsThenHttp =>
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
            skipped: flow.cursor.skipped.len(),
        }
    }

    /// The row this transition took: (from, input, to).
    pub(in crate::flow) fn taken(
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
                stage: TimeoutStage::BeforeSending,
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
    include_str!("../graph.md")
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

    // Every goal through the same adversities, and the rows some goals alone take.
    taken.extend(super::goals::rows_of_every_goal());

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
