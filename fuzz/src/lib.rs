//! Shared pieces of the fuzz targets: the input format of the `flow` target, which
//! `cargo xtask fuzz` also writes when it seeds the corpus from `fixtures/`.
//!
//! A flow input is a first line of settings, then responses separated by `\n<<<`:
//!
//! ```text
//! SETTINGS\n<<<STATUS\nname: value\n\nBODY\n<<<!KIND\n<<<…
//! ```
//!
//! `SETTINGS` picks the reference, goal, credentials and scheme by its bytes; a
//! response starting with `!` is a transport failure of that kind.

use std::time::{Duration, SystemTime};

use regpeek_proto::{
    Action, Credentials, Digest, Flow, Goal, Known, Options, Platform, Reference, Security,
    TimeoutStage, TokenCache, TransportErrorKind,
};

/// A manifest a warm cache holds for the flow target (its config is `{}`).
const KNOWN_MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;

/// References the flow target chooses from.
pub const REFERENCES: &[&str] = &[
    "registry.example/team/app:v1",
    "localhost:5000/lab/rich:v1",
    "nginx",
    "127.0.0.1:5000/a@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "[::1]:5000/x/y:z",
    "ghcr.io/org/app@sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
];

/// One scripted reply.
pub enum Reply<'a> {
    /// A transport failure.
    Failure(TransportErrorKind),
    /// An HTTP response.
    Response(http::Response<Vec<u8>>, &'a [u8]),
}

fn kind(b: u8) -> TransportErrorKind {
    match b % 10 {
        9 => TransportErrorKind::TlsRefused,
        0 => TransportErrorKind::Tls,
        1 => TransportErrorKind::Certificate,
        2 => TransportErrorKind::Resolve,
        3 => TransportErrorKind::Connect,
        4 => TransportErrorKind::Reset,
        5 => TransportErrorKind::Timeout(TimeoutStage::Connect),
        6 => TransportErrorKind::Timeout(TimeoutStage::Body),
        7 => TransportErrorKind::Timeout(TimeoutStage::Response),
        _ => TransportErrorKind::Other,
    }
}

/// Parses one reply of the script.
pub fn parse_reply(chunk: &[u8]) -> Option<Reply<'_>> {
    if let Some(rest) = chunk.strip_prefix(b"!") {
        return Some(Reply::Failure(kind(rest.first().copied().unwrap_or(0))));
    }
    let (head, body) = match chunk.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&chunk[..i], &chunk[i + 2..]),
        None => (chunk, &b""[..]),
    };
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.lines();
    let status: u16 = lines.next()?.trim().parse().ok()?;
    let mut b = http::Response::builder().status(status);
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (Ok(k), Ok(v)) = (
            http::HeaderName::from_bytes(k.trim().as_bytes()),
            http::HeaderValue::from_str(v.trim()),
        ) else {
            continue;
        };
        b = b.header(k, v);
    }
    Some(Reply::Response(b.body(body.to_vec()).ok()?, body))
}

/// Builds the flow a settings line describes.
pub fn flow_for(settings: &[u8]) -> Flow {
    let at = |i: usize| settings.get(i).copied().unwrap_or(0);
    let reference = Reference::parse(REFERENCES[at(0) as usize % REFERENCES.len()])
        .expect("the fixed references parse");
    let platform = Platform::new("linux", "amd64", None);
    let goal = match at(1) % 9 {
        8 => Goal::Referrers {
            platform: (at(5) % 2 == 0).then(|| platform.clone()),
            artifact_type: (at(5) % 3 == 0).then(|| "application/spdx+json".to_owned()),
        },
        7 => {
            return Flow::new(
                Reference::for_registry("localhost:5000").expect("a valid registry"),
                Options::new(Goal::Login),
                TokenCache::default(),
            );
        }
        0 => Goal::Inspect(platform),
        1 => Goal::Manifest(None),
        2 => Goal::Manifest(Some(platform)),
        3 => Goal::Digest(None),
        4 => Goal::Digest(Some(platform)),
        5 => Goal::Tags {
            limit: (at(5) > 128).then_some(usize::from(at(5))),
            page_size: None,
        },
        _ => Goal::Login,
    };
    let mut options = Options::new(goal);
    options.credentials = match at(2) % 4 {
        0 => None,
        1 => Some(Credentials::Basic {
            username: "alice".into(),
            password: "pw".into(),
        }),
        2 => Some(Credentials::Bearer(regpeek_proto::Secret::from("tok"))),
        _ => Some(Credentials::IdentityToken {
            username: None,
            token: regpeek_proto::Secret::from("refresh"),
        }),
    };
    options.security = match at(3) % 4 {
        0 => Security::Https,
        1 => Security::Http,
        2 => Security::Auto,
        _ => Security::HttpsThenHttp,
    };
    // Mirrors in front (for image goals): failures move on to the next endpoint.
    for i in 0..(at(7) % 3) {
        if let Ok(url) = url::Url::parse(&format!("http://127.0.0.{}:5000/", i + 2)) {
            options.mirrors.push(regpeek_proto::Mirror {
                url,
                credentials: None,
            });
        }
    }
    if at(4) > 0 {
        options.deadline = Some(start() + Duration::from_secs(u64::from(at(4))));
    }
    options.seed = u64::from(at(6));
    // What a cache holds: a manifest and its config, and the empty blob that one of
    // the references is pinned to; seen resolved to one of them, or not at all.
    if at(8) % 4 > 0 {
        let manifest = KNOWN_MANIFEST.as_bytes().to_vec();
        let top = match at(8) % 4 {
            1 => Digest::sha256(&manifest),
            _ => Digest::sha256(b""),
        };
        let held: std::collections::BTreeMap<Digest, Vec<u8>> = [
            (Digest::sha256(&manifest), manifest),
            (Digest::sha256(b"{}"), b"{}".to_vec()),
            (Digest::sha256(b""), Vec::new()),
        ]
        .into();
        options.known = Known::lookup(move |d| held.get(d).cloned());
        options.known.resolved = Some(top);
        options.offline = at(8) % 4 == 3;
    }
    Flow::new(reference, options, TokenCache::default())
}

/// The clock the flow target starts at.
pub fn start() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600)
}

/// Drives a flow through a script to its end; panics only on a bug (a panic in the
/// core, a flow that never ends, a request the flow could not have meant).
pub fn drive(data: &[u8]) {
    let mut parts = data.split(|&b| b == 0xff);
    let settings = parts.next().unwrap_or_default();
    let script = parts.next().unwrap_or_default();
    let mut replies = split_replies(script).into_iter();
    let mut flow = flow_for(settings);
    let mut now = start();
    for _ in 0..4096 {
        match flow.poll_action(now) {
            Action::Done(_) => return,
            Action::Wait(until) => {
                // Found by fuzzing: a `Retry-After: 0` once handed out a wait that was
                // already over; a wait is always in the future.
                assert!(until > now, "a wait must be in the future");
                now = until;
            }
            Action::Send(send) => {
                assert!(send.request.uri().host().is_some(), "requests are absolute");
                match replies.next().and_then(parse_reply) {
                    Some(Reply::Failure(k)) => flow.handle_transport_error(now, k),
                    Some(Reply::Response(r, _)) => flow.handle_response(now, r),
                    None => return,
                }
                now += Duration::from_millis(10);
            }
        }
    }
    // Every reply is used once; a flow that goes on this long without one loops.
    panic!("the flow did not end after 4096 steps");
}

/// Splits a script into replies at `\n<<<`.
pub fn split_replies(script: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = script;
    while let Some(i) = rest.windows(4).position(|w| w == b"\n<<<") {
        out.push(&rest[..i]);
        rest = &rest[i + 4..];
    }
    out.push(rest);
    out
}
