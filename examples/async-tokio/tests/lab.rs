//! The async driver against the lab's real registry: 50 inspections at once on one
//! tokio thread and one connection pool, each agreeing with the blocking ureq driver.

use regpeek_proto::{Flow, Goal, Options, Platform, Reference, Security, TokenCache};

fn options() -> Options {
    let mut options = Options::new(Goal::Inspect(Platform::new("linux", "amd64", None)));
    options.security = Security::Http;
    options
}

#[tokio::test(flavor = "current_thread")]
async fn fifty_concurrent_inspections_agree_with_the_blocking_driver() {
    let lab = regpeek_lab::Lab::shared()
        .unwrap_or_else(|e| panic!("cannot start the lab for the async example: {e:#}"));
    let host = lab.info.plain();
    let mut refs: Vec<String> = (0..46).map(|i| format!("lab/many-tags:t{i:03}")).collect();
    refs.extend(
        [
            "lab/rich:v1",
            "lab/multi:v1",
            "lab/rich:latest",
            "lab/multi:latest",
        ]
        .map(String::from),
    );
    assert_eq!(refs.len(), 50);

    let client = regpeek_async_example::client();
    let flows: Vec<_> = refs
        .iter()
        .map(|r| {
            let reference = Reference::parse(&format!("{host}/{r}")).unwrap();
            let flow = Flow::new(reference, options(), TokenCache::default());
            let client = &client;
            async move { regpeek_async_example::run(client, flow).await.0 }
        })
        .collect();
    // All 50 are polled together on this one thread, over one pool.
    let results = regpeek_async_example::join_all(flows).await;

    let blocking = regpeek_ureq::Client::new(&regpeek_ureq::ClientOptions::default()).unwrap();
    for (r, result) in refs.iter().zip(results) {
        let async_image = result
            .unwrap_or_else(|e| panic!("{r}: {e}"))
            .into_image()
            .unwrap();
        let reference = Reference::parse(&format!("{host}/{r}")).unwrap();
        let (sync, _) = blocking.inspect(reference, options(), TokenCache::default());
        let sync_image = sync.unwrap().into_image().unwrap();
        assert_eq!(async_image.digest, sync_image.digest, "{r}");
        assert_eq!(
            async_image.config.map(|c| c.raw),
            sync_image.config.map(|c| c.raw),
            "{r}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn failures_map_to_their_kinds_and_a_huge_body_is_never_allocated() {
    let lab = regpeek_lab::Lab::shared()
        .unwrap_or_else(|e| panic!("cannot start the lab for the async example: {e:#}"));
    let hostile = regpeek_lab::hostile::Hostile::start().unwrap();
    let client = regpeek_async_example::client();
    let run = |r: String| {
        let mut o = Options::new(Goal::Manifest(None));
        o.tls = false;
        let flow = Flow::new(Reference::parse(&r).unwrap(), o, TokenCache::default());
        let client = &client;
        async move { regpeek_async_example::run(client, flow).await.0 }
    };
    // A 1 GiB manifest: too large, at once.
    let started = std::time::Instant::now();
    let e = run(format!("{}/huge:v1", hostile.addr()))
        .await
        .unwrap_err();
    assert!(
        matches!(e, regpeek_proto::Error::BodyTooLarge { .. }),
        "{e:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // Nothing listens: a refused connection (retried, then reported), hyper's error kept.
    let e = run(format!("{}/app:v1", lab.info.dead()))
        .await
        .unwrap_err();
    match e {
        regpeek_proto::Error::Transport {
            kind: regpeek_proto::TransportErrorKind::Connect,
            source: Some(_),
            ..
        } => {}
        other => panic!("{other:?}"),
    }
}
