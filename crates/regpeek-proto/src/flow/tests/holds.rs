//! Offline tags, a 429's hold, pull-free flows, blobs the caller streams, and
//! remembered blob locations.

use std::time::Duration;

use super::*;

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
fn a_429_says_when_to_retry_in_every_form_registries_use() {
    let now = t0();
    let date = httpdate::fmt_http_date(now);
    let later = (now + Duration::from_secs(90))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    // GitHub's registry: a Go duration in the body; Quay and others: reset headers
    // (seconds from now, or a Unix time against Date); the IETF draft's parameters.
    let ghcr = br#"{"errors":[{"code":"TOOMANYREQUESTS","message":"retry-after: 1.5s, allowed: 44000/minute"}]}"#;
    // Headers, body, the wait, how the hold says it.
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a [u8], Duration, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![],
            ghcr,
            Duration::from_millis(1500),
            "retry-after: 1.5s",
        ),
        (
            vec![],
            "retry-after: 129µs, allowed: 44000/minute".as_bytes(),
            Duration::from_micros(129),
            "retry-after: 129µs",
        ),
        (
            vec![("x-ratelimit-reset", "12")],
            b"",
            Duration::from_secs(12),
            "x-ratelimit-reset: 12",
        ),
        (
            vec![("x-ratelimit-reset", &later), ("date", &date)],
            b"",
            Duration::from_secs(90),
            "x-ratelimit-reset: ",
        ),
        (
            vec![("ratelimit-reset", "30;w=60")],
            b"",
            Duration::from_secs(30),
            "ratelimit-reset: 30;w=60",
        ),
        (
            vec![("retry-after", "4"), ("x-ratelimit-reset", "99")],
            ghcr,
            Duration::from_secs(4),
            "4",
        ),
    ];
    for (headers, body, wait, said) in cases {
        let hold = Hold::of(&response(429, &headers, body), now).unwrap();
        assert_eq!(hold.until, now + wait, "{headers:?}");
        assert!(
            hold.retry_after.as_deref().unwrap().starts_with(said),
            "{hold:?}"
        );
    }
    for bad in ["", "soon", "1y", "5", "99999h", "-1s", "1.2.3s"] {
        assert_eq!(crate::flow::check::go_duration(bad), None, "{bad:?}");
    }
    assert_eq!(
        crate::flow::check::go_duration("2m3.5s"),
        Some(Duration::from_millis(123_500))
    );
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
