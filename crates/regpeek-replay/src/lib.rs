//! Fixtures for regpeek's sans-IO core: the text format ([`fixture`]), a [`Recorder`]
//! that scrubs what a driver observed into a scenario, and [`replay`], which serves a
//! scenario back to a fresh flow, failing on any request that deviates, and returns a
//! transcript for snapshots. No network and no TLS: the core's tests, the CLI's
//! `--record`/`replay` and the lab all use it.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod fixture;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use regpeek_proto::manifest::Manifest;
use regpeek_proto::{
    Action, Credentials, Flow, Goal, Known, Options, Outcome, Platform, Reference, Security,
    TimeoutStage, TokenCache, TransportErrorKind,
};

use crate::fixture::{Reply, Request, Scenario};

/// The clock replays run at: 2026-01-01T00:00:00Z.
pub fn replay_now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600)
}

/// The password used in replays for `credentials: user:<redacted>` settings.
pub const REPLAY_PASSWORD: &str = "replay-password";

/// The `Accept` the core sends on manifest requests, as model fixtures write it and
/// transcripts abbreviate it. It is the core's, not an input: every replay compares
/// it with what the flow really sends, so a change in the core fails them all until
/// this copy follows.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.docker.distribution.manifest.v1+prettyjws;q=0.5, \
    application/vnd.docker.distribution.manifest.v1+json;q=0.5";

/// Request headers that are compared on replay.
const SIGNIFICANT: &[&str] = &["accept", "authorization", "range", "content-type"];

/// Response headers kept when recording (everything else is volatile or irrelevant).
const KEPT: &[&str] = &[
    "content-type",
    "content-length",
    "docker-content-digest",
    "www-authenticate",
    "location",
    "warning",
    "retry-after",
    "link",
    "ratelimit-limit",
    "ratelimit-remaining",
];

/// A secret as a recording's settings give it: scrubbed to `<redacted>`, the replay
/// stands in its own.
fn unredacted(secret: &str) -> &str {
    if secret == "<redacted>" {
        REPLAY_PASSWORD
    } else {
        secret
    }
}

/// Builds the flow a scenario's settings describe.
pub fn flow(s: &Scenario, tokens: TokenCache) -> Result<(Flow, Options)> {
    flow_known(s, tokens, Known::default())
}

fn flow_known(s: &Scenario, tokens: TokenCache, known: Known) -> Result<(Flow, Options)> {
    let platform = s
        .get("platform")
        .map(|p| Platform::parse(p, "amd64"))
        .transpose()?;
    let num = |key: &str| -> Result<Option<usize>> {
        s.get(key)
            .map(|v| v.parse::<usize>().with_context(|| format!("{key}: {v:?}")))
            .transpose()
    };
    let limit = num("limit")?;
    let page_size = num("page-size")?.map(|n| n as u32);
    let goal = match s.get("goal").unwrap_or("inspect") {
        "inspect" => {
            Goal::Inspect(platform.unwrap_or_else(|| Platform::new("linux", "amd64", None)))
        }
        "manifest" => Goal::Manifest(platform),
        "digest" => Goal::Digest(platform),
        "tags" => Goal::Tags { limit, page_size },
        "catalog" => Goal::Catalog { limit, page_size },
        "login" => Goal::Login,
        "referrers" => Goal::Referrers {
            platform,
            artifact_type: s.get("artifact-type").map(str::to_owned),
        },
        other => bail!("unknown goal {other:?}"),
    };
    let mut options = Options::new(goal);
    options.security = match s.get("security").unwrap_or("https") {
        "auto" => Security::Auto,
        "https" => Security::Https,
        "http" => Security::Http,
        "https-then-http" => Security::HttpsThenHttp,
        other => bail!("unknown security {other:?}"),
    };
    if s.get("registry-token").is_some() {
        options.credentials = Some(Credentials::Bearer(regpeek_proto::Secret::from(
            REPLAY_PASSWORD,
        )));
    }
    for m in s.get("mirrors").unwrap_or_default().split_whitespace() {
        options.mirrors.push(regpeek_proto::Mirror {
            url: regpeek_proto::url::Url::parse(m).with_context(|| format!("mirror {m:?}"))?,
            credentials: None,
        });
    }
    if let Some(c) = s.get("credentials") {
        let (user, pass) = c.split_once(':').context("credentials: USER:PASSWORD")?;
        options.credentials = Some(Credentials::Basic {
            username: user.to_owned(),
            password: unredacted(pass).into(),
        });
    }
    if let Some(c) = s.get("identity-token") {
        // `user:token` or `:token`.
        let (user, token) = c.split_once(':').context("identity-token: [USER]:TOKEN")?;
        let token = unredacted(token);
        options.credentials = Some(Credentials::IdentityToken {
            username: (!user.is_empty()).then(|| user.to_owned()),
            token: regpeek_proto::Secret::from(token),
        });
    }
    if let Some(secs) = num("deadline")? {
        // Seconds after the replay clock's start.
        options.deadline = Some(replay_now() + Duration::from_secs(secs as u64));
    }
    if let Some(seed) = s.get("seed") {
        options.seed = seed.parse().with_context(|| format!("seed: {seed:?}"))?;
    }
    options.known = known;
    let target = s.get("reference").context("no reference setting")?;
    let reference = if matches!(options.goal, Goal::Catalog { .. }) {
        Reference::for_registry(target)?
    } else {
        Reference::parse(target)?
    };
    let flow = Flow::new(reference, options.clone(), tokens);
    Ok((flow, options))
}

fn header_pairs(h: &http::HeaderMap, keep: &[&str]) -> Vec<(String, String)> {
    h.iter()
        .filter(|(k, _)| keep.contains(&k.as_str()))
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or("<binary>").to_owned(),
            )
        })
        .collect()
}

/// Replays a scenario; `Ok(transcript)` when every request matched and the fixture was
/// used up.
pub fn replay(s: &Scenario) -> Result<String> {
    replay_with(s, TokenCache::default(), replay_now()).map(|(t, _)| t)
}

/// Like [`replay`], with a given token cache and clock; gives the cache back.
pub fn replay_with(
    s: &Scenario,
    tokens: TokenCache,
    now: SystemTime,
) -> Result<(String, TokenCache)> {
    run(s, tokens, now).map(|r| (r.transcript, r.tokens))
}

/// What a replay produced.
pub struct Replayed {
    /// Requests, replies, waits and a summary of the outcome, for snapshots.
    pub transcript: String,
    /// The token cache afterwards.
    pub tokens: TokenCache,
    /// The flow's own result, as a live run would have had it.
    pub outcome: Result<Outcome, regpeek_proto::Error>,
}

/// Replays a scenario to its end, failing if a request deviates or an exchange is left.
pub fn run(s: &Scenario, tokens: TokenCache, now: SystemTime) -> Result<Replayed> {
    run_known(s, tokens, Known::default(), now)
}

/// Replays a scenario found among `fixtures`, with what its settings say the caller
/// already holds: `learnt-from: NAME` replays that scenario first and keeps what the
/// registry taught (its challenge, plain http) but not its tokens; `known-from: NAME`
/// holds every body of that scenario as known content (a warm cache), and what its
/// first manifest answered as the digest the reference resolved to then.
pub fn replay_in(s: &Scenario, fixtures: &std::path::Path) -> Result<String> {
    let load = |name: &str| -> Result<Scenario> {
        let path = fixtures.join(name).join("exchanges.http");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Scenario::parse(&text)
    };
    let mut tokens = TokenCache::default();
    if let Some(name) = s.get("learnt-from") {
        let first = run(&load(name)?, TokenCache::default(), replay_now())?;
        // Far in the future, every token has expired: only the knowledge is kept.
        let later = replay_now() + Duration::from_secs(365 * 86_400);
        tokens = TokenCache::from_json(&first.tokens.to_json(later));
    }
    let mut known = Known::default();
    if let Some(name) = s.get("known-from") {
        let mut held = BTreeMap::new();
        let mut top = None;
        for ex in load(name)?.exchanges {
            if let Reply::Response { status, body, .. } = ex.reply
                && !body.is_empty()
            {
                let digest = regpeek_proto::Digest::sha256(&body);
                if status == 200 && ex.request.url.contains("/manifests/") {
                    top.get_or_insert(digest.clone());
                }
                held.insert(digest, body);
            }
        }
        known = Known::lookup(move |d| held.get(d).cloned());
        known.resolved = top;
    }
    run_known(s, tokens, known, replay_now()).map(|r| r.transcript)
}

fn run_known(s: &Scenario, tokens: TokenCache, known: Known, now: SystemTime) -> Result<Replayed> {
    let (mut flow, _) = flow_known(s, tokens, known)?;
    let mut t = String::new();
    let mut exchanges = s.exchanges.iter().enumerate();
    // The replay clock only moves when the flow asks to wait.
    let mut now = now;
    loop {
        match flow.poll_action(now) {
            Action::Wait(until) => {
                let wait = until.duration_since(now).unwrap_or_default();
                writeln!(t, "~ wait {:.1}s", wait.as_secs_f64())?;
                now = until;
            }
            Action::Done(result) => {
                if let Some((i, ex)) = exchanges.next() {
                    bail!(
                        "the flow finished but exchange {} ({} {}) was never requested",
                        i + 1,
                        ex.request.method,
                        ex.request.url
                    );
                }
                t.push_str(&describe(&result));
                return Ok(Replayed {
                    transcript: t,
                    tokens: flow.tokens().clone(),
                    outcome: result,
                });
            }
            Action::Send(send) => {
                let req = &send.request;
                let (i, ex) = exchanges.next().with_context(|| {
                    format!("unexpected extra request {} {}", req.method(), req.uri())
                })?;
                check_request(i, &ex.request, req)?;
                writeln!(t, "> {} {}", req.method(), req.uri())?;
                for (k, v) in header_pairs(req.headers(), SIGNIFICANT) {
                    let v = if k == "accept" && v == MANIFEST_ACCEPT {
                        "<all manifest types>".to_owned()
                    } else {
                        redact(&v)
                    };
                    writeln!(t, "  {k}: {v}")?;
                }
                writeln!(t, "  (body cap {} bytes)", send.max_body)?;
                match &ex.reply {
                    Reply::Failure { kind, message } => {
                        writeln!(t, "! {kind} {message}")?;
                        let kind = parse_kind(kind);
                        flow.handle_transport_error(now, kind);
                    }
                    Reply::Response {
                        status,
                        headers,
                        body,
                    } => {
                        writeln!(t, "< {status} ({} body bytes)", body.len())?;
                        let mut b = http::Response::builder().status(*status);
                        for (k, v) in headers {
                            b = b.header(k, v);
                        }
                        flow.handle_response(now, b.body(body.clone())?);
                    }
                }
            }
        }
    }
}

/// Transport failure kinds as fixtures spell them.
const KINDS: &[(&str, TransportErrorKind)] = &[
    ("tls", TransportErrorKind::Tls),
    ("certificate", TransportErrorKind::Certificate),
    ("tls-refused", TransportErrorKind::TlsRefused),
    ("resolve", TransportErrorKind::Resolve),
    ("connect", TransportErrorKind::Connect),
    ("reset", TransportErrorKind::Reset),
    (
        "timeout",
        TransportErrorKind::Timeout(TimeoutStage::Response),
    ),
    (
        "timeout-connect",
        TransportErrorKind::Timeout(TimeoutStage::Connect),
    ),
    (
        "timeout-tls",
        TransportErrorKind::Timeout(TimeoutStage::TlsHandshake),
    ),
    (
        "timeout-body",
        TransportErrorKind::Timeout(TimeoutStage::Body),
    ),
    (
        "timeout-before-sending",
        TransportErrorKind::Timeout(TimeoutStage::BeforeSending),
    ),
    ("too-large", TransportErrorKind::TooLarge),
    ("no-tls", TransportErrorKind::NoTls),
    ("declined", TransportErrorKind::Declined),
    ("other", TransportErrorKind::Other),
];

/// A fixture's failure kind; unknown names are `Other`.
pub fn parse_kind(name: &str) -> TransportErrorKind {
    KINDS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(TransportErrorKind::Other, |(_, k)| *k)
}

/// How a fixture spells a failure kind.
pub fn kind_name(kind: TransportErrorKind) -> &'static str {
    KINDS
        .iter()
        .find(|(_, k)| *k == kind)
        .map_or("other", |(n, _)| n)
}

fn check_request(i: usize, want: &Request, got: &http::Request<Vec<u8>>) -> Result<()> {
    let n = i + 1;
    if got.method().as_str() != want.method || got.uri().to_string() != want.url {
        bail!(
            "exchange {n}: the flow sent {} {}\n  but the fixture expects {} {}",
            got.method(),
            got.uri(),
            want.method,
            want.url
        );
    }
    for name in SIGNIFICANT {
        let got_v = got.headers().get(*name).and_then(|v| v.to_str().ok());
        let want_v = want
            .headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        let ok = match (got_v, want_v) {
            (None, None) => true,
            (Some(g), Some(w)) => match w.strip_suffix(" <redacted>") {
                Some(scheme) => g.split(' ').next() == Some(scheme),
                None => g == w,
            },
            _ => false,
        };
        if !ok {
            bail!(
                "exchange {n} ({} {}): header {name} is {:?}, the fixture expects {:?}",
                want.method,
                want.url,
                got_v.map(redact),
                want_v
            );
        }
    }
    Ok(())
}

fn redact(v: &str) -> String {
    match v.split_once(' ') {
        Some(("Basic", _)) => "Basic <redacted>".to_owned(),
        _ => v.to_owned(),
    }
}

/// A stable, readable summary of a flow's result.
pub fn describe(result: &Result<Outcome, regpeek_proto::Error>) -> String {
    let mut t = String::new();
    let i = match result {
        Err(e) => {
            let _ = writeln!(t, "error: {e}");
            return t;
        }
        Ok(Outcome::List(l)) => {
            let _ = writeln!(
                t,
                "listing: {} items in {} pages, complete: {}",
                l.items.len(),
                l.pages,
                l.complete
            );
            for chunk in l.items.chunks(10) {
                let _ = writeln!(t, "  {}", chunk.join(" "));
            }
            for d in &l.details {
                let _ = writeln!(
                    t,
                    "  detail (page {}): {} -> {} {} size {:?} created {:?} uploaded {:?}",
                    d.page,
                    d.tag,
                    d.digest,
                    d.media_type.as_deref().unwrap_or("-"),
                    d.size,
                    d.created_ms,
                    d.uploaded_ms
                );
            }
            return t;
        }
        Ok(Outcome::LoggedIn { authenticated }) => {
            let _ = writeln!(t, "logged in (authenticated: {authenticated})");
            return t;
        }
        Ok(Outcome::Image(i)) => i,
        Ok(Outcome::Referrers(r)) => {
            let _ = writeln!(t, "referrers of {}: {}", r.subject, r.items.len());
            for item in &r.items {
                let d = &item.descriptor;
                let _ = writeln!(
                    t,
                    "  {:?} {} {} {} {}",
                    item.source,
                    d.artifact_type.as_deref().unwrap_or("-"),
                    d.digest,
                    d.size,
                    item.predicate_types.join(",")
                );
            }
            return t;
        }
        Ok(_) => {
            let _ = writeln!(t, "an outcome this harness does not describe");
            return t;
        }
    };
    let _ = writeln!(t, "reference: {}", i.reference);
    let _ = writeln!(t, "digest: {} ({})", i.digest, i.media_type);
    if let Some(idx) = &i.index {
        let entries: Vec<String> = idx
            .manifests
            .iter()
            .map(|d| match (&d.platform, d.is_attestation()) {
                (_, true) => "attestation".to_owned(),
                (Some(p), false) => p.to_string(),
                (None, false) => "-".to_owned(),
            })
            .collect();
        let _ = writeln!(t, "index: [{}]", entries.join(", "));
    }
    if let Some(p) = &i.platform {
        let matched = match i.platform_matched {
            Some(true) => " (as asked)",
            Some(false) => " (NOT the platform asked for)",
            None => "",
        };
        let _ = writeln!(t, "platform: {p}{matched}");
    }
    if let Some(m) = &i.manifest {
        let _ = writeln!(
            t,
            "manifest: {} ({}, {} bytes)",
            m.digest, m.media_type, m.size
        );
        match &m.manifest {
            Some(Manifest::Image(img)) => {
                for l in &img.layers {
                    let _ = writeln!(t, "  layer: {} {} {}", l.digest, l.size, l.media_type);
                }
            }
            Some(Manifest::Schema1(s)) => {
                let _ = writeln!(
                    t,
                    "  schema1: {} layers, arch {}",
                    s.layers.len(),
                    s.architecture
                );
            }
            _ => {}
        }
    }
    if let Some(c) = &i.config {
        let _ = writeln!(
            t,
            "config: {} ({}, {} bytes)",
            c.digest,
            c.media_type,
            c.raw.len()
        );
        if let Some(cfg) = &c.config {
            let _ = writeln!(t, "  os/arch: {}/{}", cfg.os, cfg.architecture);
            let _ = writeln!(t, "  env: {:?}", cfg.config.env);
            let _ = writeln!(t, "  labels: {:?}", cfg.config.labels);
            let _ = writeln!(
                t,
                "  entrypoint: {:?} cmd: {:?}",
                cfg.config.entrypoint, cfg.config.cmd
            );
        }
    }
    for w in &i.warnings {
        let _ = writeln!(t, "warning: {w}");
    }
    t
}

mod command;
mod record;

pub use command::RecordedCommand;
pub use record::{Pool, Recorder};
