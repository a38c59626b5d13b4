//! Replay tests: every scenario under `fixtures/` is served to a fresh `Flow` with no
//! network. The harness fails on any request that deviates from the recording; the
//! transcript of requests and the result are insta snapshots in `tests/snapshots/`.

// The harness reads fixture files; the core it drives does no I/O.
#![allow(clippy::disallowed_methods)]

use regpeek_replay::fixture::Scenario;
use regpeek_replay::{MANIFEST_ACCEPT, replay};

#[test]
fn fixtures() {
    insta::glob!("../fixtures", "*/exchanges.http", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let scenario =
            Scenario::parse(&text).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
        let fixtures = path.parent().and_then(|p| p.parent()).unwrap();
        let transcript = regpeek_replay::replay_in(&scenario, fixtures)
            .unwrap_or_else(|e| panic!("{}: replay deviated: {e:#}", path.display()));
        let header = format!(
            "{}\nsource: {}\n",
            scenario.get("description").unwrap_or("(no description)"),
            scenario.get("source").unwrap_or("(unknown)")
        );
        insta::assert_snapshot!(format!("{header}\n{transcript}"));
    });
}

/// The harness itself must fail when the flow deviates; otherwise the snapshots prove
/// nothing.
#[test]
fn a_deviating_request_fails_the_replay() {
    let text = "reference: localhost:5000/a:v1\ngoal: digest\nsecurity: http\n\n\
        >>> HEAD http://localhost:5000/v2/a/manifests/OTHER\n\n<<< 404\n\n";
    let err = replay(&Scenario::parse(text).unwrap()).unwrap_err();
    assert!(err.to_string().contains("the flow sent HEAD"), "{err}");

    let text = "reference: localhost:5000/a:v1\ngoal: digest\nsecurity: http\n\n\
        >>> HEAD http://localhost:5000/v2/a/manifests/v1\naccept: text/plain\n\n<<< 404\n\n";
    let err = replay(&Scenario::parse(text).unwrap()).unwrap_err();
    assert!(err.to_string().contains("header accept"), "{err}");
}

#[test]
fn an_unused_exchange_fails_the_replay() {
    let text = "reference: localhost:5000/a:v1\ngoal: digest\nsecurity: http\n\n\
        >>> HEAD http://localhost:5000/v2/a/manifests/v1\n\n<<< 500\n\n\
        >>> GET http://localhost:5000/v2/\n\n<<< 200\n\n";
    let s = Scenario::parse(text).unwrap();
    // The accept header is significant; copy what the flow really sends.
    let mut s2 = s.clone();
    s2.exchanges[0].request.headers = vec![("accept".into(), MANIFEST_ACCEPT.into())];
    let err = replay(&s2).unwrap_err();
    assert!(err.to_string().contains("was never requested"), "{err}");
}

fn load(name: &str) -> Scenario {
    let path = format!(
        "{}/../../fixtures/{name}/exchanges.http",
        env!("CARGO_MANIFEST_DIR")
    );
    Scenario::parse(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The seed's mistake: asking Docker Hub for a `repository:docker:pull` token yields
/// UNAUTHORIZED. The Hub fixture pins `repository:library/docker:pull`; a flow that
/// asked for the short scope would deviate from it, as this mutated copy shows.
#[test]
fn docker_hub_scope_uses_library_prefix() {
    let s = load("model-dockerhub-library");
    let token = &s.exchanges[1].request.url;
    assert!(
        token.contains("scope=repository%3Alibrary%2Fdocker%3Apull"),
        "{token}"
    );
    let mut wrong = s.clone();
    wrong.exchanges[1].request.url = token.replace("library%2Fdocker", "docker");
    let err = replay(&wrong).unwrap_err();
    assert!(
        err.to_string()
            .contains("scope=repository%3Alibrary%2Fdocker%3Apull"),
        "{err}"
    );
}

/// Every truncation of a manifest body ends in an error, never a panic or a hang.
#[test]
fn truncated_manifests_are_errors() {
    let s = load("lab-v2s2-single-arch");
    let regpeek_replay::fixture::Reply::Response { body, .. } = &s.exchanges[0].reply else {
        panic!("fixture shape changed");
    };
    for cut in 0..body.len() {
        let mut t = s.clone();
        t.exchanges.truncate(1);
        if let regpeek_replay::fixture::Reply::Response { body, .. } = &mut t.exchanges[0].reply {
            body.truncate(cut);
        }
        let transcript = replay(&t).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        assert!(transcript.contains("error: "), "cut {cut}: {transcript}");
    }
}

/// A body over the cap is rejected by the core whatever the driver hands it.
#[test]
fn oversized_bodies_are_rejected() {
    let mut s = load("lab-v2s2-single-arch");
    s.exchanges.truncate(1);
    if let regpeek_replay::fixture::Reply::Response { body, .. } = &mut s.exchanges[0].reply {
        *body = vec![b' '; 4 * 1024 * 1024 + 1];
    }
    let transcript = replay(&s).unwrap();
    assert!(
        transcript.contains("exceeds the 4194304-byte limit"),
        "{transcript}"
    );
}

/// The caller-owned token cache carries a token into the next flow, which then sends it
/// on its first request, until the token expires by the caller's clock.
#[test]
fn token_cache_is_reused_until_expiry() {
    use regpeek_replay::{replay_now, replay_with};
    use std::time::Duration;

    let first = load("model-bearer-anonymous");
    let (_, tokens) =
        replay_with(&first, regpeek_proto::TokenCache::default(), replay_now()).unwrap();
    assert_eq!(tokens.len(), 1);

    // Same repository 3 minutes later: straight to the manifest with the cached token.
    let mut second = first.clone();
    second.exchanges = vec![first.exchanges[2].clone(), first.exchanges[3].clone()];
    let later = replay_now() + Duration::from_secs(180);
    let (t, _) = replay_with(&second, tokens.clone(), later).unwrap();
    assert!(t.contains("authorization: Bearer anon-token-1"), "{t}");
    assert!(t.contains("digest: sha256:"), "{t}");

    // The token was issued 60 s before the replay clock with `expires_in` 300: within
    // the 10 s early-renewal margin of its expiry it is no longer sent. The cache also
    // remembers the registry's challenge, so the flow asks for a new token before its
    // first request instead of collecting a 401 first.
    let expired = replay_now() + Duration::from_secs(235);
    let mut third = first.clone();
    third.exchanges = vec![
        first.exchanges[1].clone(),
        first.exchanges[2].clone(),
        first.exchanges[3].clone(),
    ];
    let (t, _) = replay_with(&third, tokens.clone(), expired).unwrap();
    assert!(t.starts_with("> GET https://auth.example/token"), "{t}");
    let err = replay_with(&second, tokens, expired).unwrap_err();
    assert!(err.to_string().contains("auth.example/token"), "{err}");
}

/// Recorded fixtures and snapshots never hold a secret: no JWTs, no lab passwords, no
/// Basic credentials other than `<redacted>`. (Modelled fixtures use made-up bearer
/// tokens such as `anon-token-1`.)
#[test]
fn fixtures_and_snapshots_hold_no_secrets() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut checked = 0;
    for dir in ["fixtures", "tests/snapshots"] {
        let mut stack = vec![root.join(dir)];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if name != "exchanges.http" && !name.ends_with(".snap") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                checked += 1;
                for line in text.lines() {
                    let lower = line.trim_start().to_ascii_lowercase();
                    let basic_value = lower.starts_with("authorization: basic ")
                        && !line.contains("Basic <redacted>");
                    let bad = line.contains("eyJ") || line.contains("lab-pw-") || basic_value;
                    assert!(!bad, "{}: {line}", path.display());
                }
            }
        }
    }
    assert!(checked > 40, "only {checked} files checked");
}
