//! The std-only driver against the lab's real registries: everything the "Writing a
//! driver" checklist asks, shown by a run. Its results agree with the ureq driver.

use std::time::{Duration, SystemTime};

use regpeek_proto::{
    Credentials, Error, Flow, Goal, Listing, Options, Outcome, Platform, Reference, TokenCache,
    TransportErrorKind,
};
use regpeek_std_http1_example::{run, seed};

fn lab() -> &'static regpeek_lab::Lab {
    static LAB: std::sync::OnceLock<regpeek_lab::Lab> = std::sync::OnceLock::new();
    LAB.get_or_init(|| {
        regpeek_lab::Lab::shared()
            .unwrap_or_else(|e| panic!("cannot start the lab for the std-http1 example: {e:#}"))
    })
}

fn options(goal: Goal) -> Options {
    let mut o = Options::new(goal);
    o.tls = false;
    o.seed = seed();
    o.deadline = Some(SystemTime::now() + Duration::from_secs(30));
    o
}

fn traced(
    flow: Flow,
    tokens_out: &mut TokenCache,
) -> (Result<regpeek_proto::Outcome, Error>, Vec<String>) {
    let mut lines = Vec::new();
    let mut sink = |l: &str| lines.push(l.to_owned());
    let (result, tokens) = run(flow, Some(&mut sink));
    *tokens_out = tokens;
    (result, lines)
}

#[test]
fn inspect_a_platform_with_a_cross_host_redirect_as_the_ureq_driver_does() {
    let info = &lab().info;
    let reference = Reference::parse(&format!("{}/lab/multi:v1", info.plain())).unwrap();
    let arm64 = Platform::parse("linux/arm64", "amd64").unwrap();
    let mut tokens = TokenCache::default();
    let (result, trace) = traced(
        Flow::new(
            reference.clone(),
            options(Goal::Inspect(arm64.clone())),
            TokenCache::default(),
        ),
        &mut tokens,
    );
    let image = result.unwrap().into_image().unwrap();
    assert_eq!(image.platform_matched, Some(true));
    assert_eq!(
        image.platform.as_ref().map(|p| p.architecture.as_str()),
        Some("arm64")
    );
    // The config blob came from the CDN on another host: the flow followed the 307,
    // the driver did not.
    assert!(
        trace.iter().any(|l| l == "< 307 Temporary Redirect"),
        "{trace:?}"
    );
    assert!(
        trace
            .iter()
            .any(|l| l.starts_with("> GET http://127.0.0.2:")),
        "{trace:?}"
    );
    let ureq = regpeek_ureq::Client::new(&regpeek_ureq::ClientOptions::default()).unwrap();
    let mut o = Options::new(Goal::Inspect(arm64));
    o.security = regpeek_proto::Security::Http;
    let (theirs, _) = ureq.inspect(reference, o, TokenCache::default());
    let theirs = theirs.unwrap().into_image().unwrap();
    assert_eq!(image.digest, theirs.digest);
    assert_eq!(image.config.map(|c| c.raw), theirs.config.map(|c| c.raw));
}

#[test]
fn token_auth_paged_tags_and_the_token_cache_handed_on() {
    let info = &lab().info;
    let (user, password) = info
        .creds()
        .split_once(':')
        .map(|(u, p)| (u.to_owned(), p.to_owned()))
        .unwrap();
    let creds = Credentials::Basic {
        username: user.to_owned(),
        password: password.into(),
    };
    // Tags of a private repository through the token registry's front, 10 a page.
    let reference = Reference::parse(&format!("{}/private/rich", info.token())).unwrap();
    let mut o = options(Goal::Tags {
        limit: None,
        page_size: Some(1),
    });
    o.credentials = Some(creds.clone());
    let mut tokens = TokenCache::default();
    let (result, trace) = traced(Flow::new(reference, o, TokenCache::default()), &mut tokens);
    let listing = listing(result.unwrap());
    assert!(!listing.items.is_empty());
    assert!(
        trace.iter().any(|l| l.contains("/token?")),
        "a token was fetched: {trace:?}"
    );
    // The next flow gets the token cache: no challenge, no token request.
    let reference = Reference::parse(&format!("{}/private/rich:v1", info.token())).unwrap();
    let mut o = options(Goal::Digest(None));
    o.credentials = Some(creds);
    let (result, trace) = traced(Flow::new(reference, o, tokens.clone()), &mut tokens);
    result.unwrap();
    assert!(!trace.iter().any(|l| l.contains("/token?")), "{trace:?}");
    assert!(!trace.iter().any(|l| l.starts_with("< 401")), "{trace:?}");
}

#[test]
fn paged_tags_through_the_front_agree_with_the_ureq_driver() {
    let info = &lab().info;
    let reference = Reference::parse(&format!("{}/lab/many-tags", info.plain())).unwrap();
    let goal = Goal::Tags {
        limit: None,
        page_size: Some(40),
    };
    let mut tokens = TokenCache::default();
    let (result, trace) = traced(
        Flow::new(
            reference.clone(),
            options(goal.clone()),
            TokenCache::default(),
        ),
        &mut tokens,
    );
    let ours = listing(result.unwrap());
    assert_eq!(ours.items.len(), regpeek_lab::image::MANY_TAGS);
    assert!(
        trace.iter().filter(|l| l.contains("/tags/list")).count() >= 4,
        "{trace:?}"
    );
    let ureq = regpeek_ureq::Client::new(&regpeek_ureq::ClientOptions::default()).unwrap();
    let mut o = Options::new(goal);
    o.security = regpeek_proto::Security::Http;
    let (theirs, _) = ureq.run(Flow::new(reference, o, TokenCache::default()));
    assert_eq!(ours.items, listing(theirs.unwrap()).items);
}

#[test]
fn heads_caps_and_deadlines_are_honoured() {
    let hostile = regpeek_lab::hostile::Hostile::start().unwrap();
    // A HEAD's Content-Length announces a body that never comes: reading it would hang.
    let reference = Reference::parse(&format!("{}/lab/rich:v1", lab().info.plain())).unwrap();
    let mut tokens = TokenCache::default();
    let (result, trace) = traced(
        Flow::new(
            reference,
            options(Goal::Digest(None)),
            TokenCache::default(),
        ),
        &mut tokens,
    );
    result.unwrap();
    assert!(trace.iter().any(|l| l.starts_with("> HEAD ")), "{trace:?}");
    // A 1 GiB manifest: too large, said without reading it.
    let started = std::time::Instant::now();
    let huge = Reference::parse(&format!("{}/huge:v1", hostile.addr())).unwrap();
    let (result, _) = run(
        Flow::new(huge, options(Goal::Manifest(None)), TokenCache::default()),
        None,
    );
    assert!(
        matches!(result, Err(Error::BodyTooLarge { .. })),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // A registry that never answers: the flow's deadline holds, with the driver's
    // own error kept.
    let silent = Reference::parse(&format!("{}/silent:v1", hostile.addr())).unwrap();
    let mut o = options(Goal::Digest(None));
    o.deadline = Some(SystemTime::now() + Duration::from_secs(1));
    let started = std::time::Instant::now();
    let (result, _) = run(Flow::new(silent, o, TokenCache::default()), None);
    let elapsed = started.elapsed();
    match result {
        Err(Error::Timeout {
            source: Some(e), ..
        }) => {
            assert!(e.downcast_ref::<std::io::Error>().is_some(), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    // https is refused before anything is sent.
    let tls = Reference::parse("registry.example/app:v1").unwrap();
    let (result, _) = run(
        Flow::new(tls, options(Goal::Digest(None)), TokenCache::default()),
        None,
    );
    assert!(
        matches!(
            result,
            Err(Error::Transport {
                kind: TransportErrorKind::NoTls,
                ..
            })
        ),
        "{result:?}"
    );
}

/// The listing a tags or catalog flow ends with.
fn listing(outcome: Outcome) -> Listing {
    match outcome {
        Outcome::List(l) => l,
        other => panic!("expected a listing, got {other:?}"),
    }
}
