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
use regpeek_proto::manifest::{Manifest, media};
use regpeek_proto::{
    Action, Credentials, Flow, Goal, Known, Options, Outcome, Platform, Reference, Security,
    TimeoutStage, TokenCache, TransportErrorKind,
};

use regpeek_proto::RequestKind;
use regpeek_proto::redact;

use crate::fixture::{Exchange, Reply, Request, Scenario};

/// The clock replays run at: 2026-01-01T00:00:00Z.
pub fn replay_now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600)
}

/// The password used in replays for `credentials: user:<redacted>` settings.
pub const REPLAY_PASSWORD: &str = "replay-password";

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
        options.credentials = Some(Credentials::Bearer(regpeek_proto::Secret::new(
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
        options.credentials = Some(Credentials::basic(user, unredacted(pass)));
    }
    if let Some(c) = s.get("identity-token") {
        // `user:token` or `:token`.
        let (user, token) = c.split_once(':').context("identity-token: [USER]:TOKEN")?;
        let token = unredacted(token);
        options.credentials = Some(Credentials::IdentityToken {
            username: (!user.is_empty()).then(|| user.to_owned()),
            token: regpeek_proto::Secret::new(token),
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
    let flow = if matches!(options.goal, Goal::Catalog { .. }) {
        Flow::catalog(target, options.clone(), tokens)?
    } else {
        Flow::new(Reference::parse(target)?, options.clone(), tokens)
    };
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
    replay_with(s, TokenCache::new(), replay_now()).map(|(t, _)| t)
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
    let mut tokens = TokenCache::new();
    if let Some(name) = s.get("learnt-from") {
        let first = run(&load(name)?, TokenCache::new(), replay_now())?;
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
        known = Known::from_map(held);
        if let Some(top) = top {
            known = known.resolved(top);
        }
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
                    tokens: flow.into_tokens(),
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
                    let v = if k == "accept" && v == media::ACCEPT {
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
    ("too-large", TransportErrorKind::TooLarge),
    ("no-tls", TransportErrorKind::NoTls),
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
    let _ = writeln!(t, "reference: {}", i.reference.canonical());
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

/// A recording served back to any number of flows, in any order: each request is
/// answered by the first exchange not yet used whose method, URL and kind of
/// `Authorization` (none, or its scheme) match. A command run again against its
/// recording makes the same requests, so its flows get the same answers, however
/// its workers interleave.
pub struct Pool {
    exchanges: std::sync::Mutex<Vec<(Exchange, bool)>>,
}

impl Pool {
    /// Serves `scenario`'s exchanges.
    pub fn new(scenario: &Scenario) -> Pool {
        Pool {
            exchanges: std::sync::Mutex::new(
                scenario
                    .exchanges
                    .iter()
                    .cloned()
                    .map(|e| (e, false))
                    .collect(),
            ),
        }
    }

    /// The recorded reply to `request`, or `None` when the recording holds none.
    pub fn answer(&self, request: &http::Request<Vec<u8>>) -> Option<Reply> {
        let url = redact::url(&request.uri().to_string());
        let scheme =
            |v: Option<&str>| v.map(|v| v.split(' ').next().unwrap_or_default().to_owned());
        let sent = scheme(
            request
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok()),
        );
        let mut exchanges = self.exchanges.lock().unwrap_or_else(|e| e.into_inner());
        let (exchange, used) = exchanges.iter_mut().find(|(e, used)| {
            let recorded = scheme(
                e.request
                    .headers
                    .iter()
                    .find(|(k, _)| k == "authorization")
                    .map(|(_, v)| v.as_str()),
            );
            !*used
                && e.request.method == request.method().as_str()
                && e.request.url == url
                && recorded == sent
        })?;
        *used = true;
        Some(exchange.reply.clone())
    }

    /// Exchanges never asked for (a replay that went another way).
    pub fn unused(&self) -> usize {
        let exchanges = self.exchanges.lock().unwrap_or_else(|e| e.into_inner());
        exchanges.iter().filter(|(_, used)| !used).count()
    }
}

/// Builds a scrubbed scenario from what a driver observed: requests lose their
/// `Authorization` values (bearer tokens become `<scrubbed-token-N>`), token replies
/// lose their tokens, and `user:password` settings keep only the user.
pub struct Recorder {
    scenario: Scenario,
    /// Tokens from token replies, numbered in the order they came.
    tokens: Vec<String>,
    /// Every other secret a request carried (a Basic credential, a registry token),
    /// scrubbed wherever a server echoes it.
    sent: Vec<String>,
}

impl Recorder {
    /// Starts a recording with these settings (see the fixture format); credential
    /// settings are scrubbed here.
    pub fn new(mut settings: Vec<(String, String)>) -> Recorder {
        for (_, v) in settings
            .iter_mut()
            .filter(|(k, _)| k == "credentials" || k == "identity-token")
        {
            let user = v.split_once(':').map_or(v.as_str(), |(u, _)| u).to_owned();
            *v = format!("{user}:<redacted>");
        }
        Recorder {
            scenario: Scenario {
                settings,
                exchanges: Vec::new(),
            },
            tokens: Vec::new(),
            sent: Vec::new(),
        }
    }

    /// The scrubbed form of a request, to pass to [`Recorder::response`] or
    /// [`Recorder::failure`] once it is answered.
    pub fn request(&mut self, req: &http::Request<Vec<u8>>) -> Request {
        for (k, v) in req.headers() {
            if redact::is_secret_header(k.as_str()) {
                for secret in redact::authorization_secrets(&String::from_utf8_lossy(v.as_bytes()))
                {
                    if !self.sent.contains(&secret) {
                        self.sent.push(secret);
                    }
                }
            }
        }
        let mut headers = header_pairs(req.headers(), SIGNIFICANT);
        for (k, v) in &mut headers {
            if k == "authorization" {
                *v = scrub_authorization(v, &self.tokens);
            }
        }
        Request {
            method: req.method().to_string(),
            url: redact::url(&req.uri().to_string()),
            headers,
        }
    }

    /// Every secret seen so far: sent ones and tokens handed out.
    fn secrets(&self) -> Vec<String> {
        self.tokens.iter().chain(&self.sent).cloned().collect()
    }

    /// Records a response (its token, if a token reply, is scrubbed).
    pub fn response(
        &mut self,
        request: Request,
        kind: RequestKind,
        resp: &http::Response<Vec<u8>>,
    ) -> Result<()> {
        let mut body = resp.body().clone();
        if kind == RequestKind::Token && resp.status() == 200 {
            body = scrub_token_reply(&body, &mut self.tokens, &mut self.sent)?;
        }
        // A server may echo what it was sent (or hand out) anywhere: in any header
        // kept, and in any body that is text.
        let secrets = self.secrets();
        if let Ok(text) = std::str::from_utf8(&body) {
            let scrubbed = redact::echoes(text, &secrets);
            if scrubbed != text {
                body = scrubbed.into_bytes();
            }
        }
        let mut keep: Vec<&str> = KEPT.to_vec();
        if body != *resp.body() {
            keep.retain(|k| *k != "content-length");
        }
        let mut headers = header_pairs(resp.headers(), &keep);
        for (k, v) in &mut headers {
            *v = redact::echoes(&redact::header(k, v.as_bytes()), &secrets);
        }
        self.scenario.exchanges.push(Exchange {
            request,
            reply: Reply::Response {
                status: resp.status().as_u16(),
                headers,
                body,
            },
        });
        Ok(())
    }

    /// Records a transport failure.
    pub fn failure(&mut self, request: Request, kind: TransportErrorKind, message: &str) {
        self.scenario.exchanges.push(Exchange {
            request,
            reply: Reply::Failure {
                kind: kind_name(kind).into(),
                message: message.to_owned(),
            },
        });
    }

    /// The recorded scenario.
    pub fn finish(self) -> Scenario {
        self.scenario
    }
}

fn scrub_authorization(v: &str, tokens: &[String]) -> String {
    match v.split_once(' ') {
        Some(("Bearer", tok)) => match tokens.iter().position(|t| t == tok) {
            Some(i) => format!("Bearer <scrubbed-token-{}>", i + 1),
            None => "Bearer <redacted>".to_owned(),
        },
        Some((scheme, _)) => format!("{scheme} <redacted>"),
        None => "<redacted>".to_owned(),
    }
}

/// A token reply with its secrets replaced: bearer tokens numbered into `tokens`,
/// the others (refresh and ID tokens) kept in `others` to be scrubbed where echoed.
fn scrub_token_reply(
    body: &[u8],
    tokens: &mut Vec<String>,
    others: &mut Vec<String>,
) -> Result<Vec<u8>> {
    let mut v: serde_json::Value =
        serde_json::from_slice(body).context("token reply is not JSON")?;
    let obj = v.as_object_mut().context("token reply is not an object")?;
    for key in redact::TOKEN_FIELDS {
        let Some(serde_json::Value::String(tok)) = obj.get(key) else {
            continue;
        };
        let tok = tok.clone();
        // The bearer tokens are numbered, so that the replay can tell which one a
        // request carries; the others (refresh and ID tokens) only need to be gone.
        let stand_in = if matches!(key, "token" | "access_token") {
            let n = match tokens.iter().position(|t| *t == tok) {
                Some(i) => i + 1,
                None => {
                    tokens.push(tok);
                    tokens.len()
                }
            };
            format!("<scrubbed-token-{n}>")
        } else {
            others.push(tok);
            format!("<scrubbed-{}>", key.replace('_', "-"))
        };
        obj.insert(key.into(), stand_in.into());
    }
    // Recording time is volatile; the replay clock is not.
    if obj.contains_key("issued_at") {
        obj.insert("issued_at".into(), "2026-01-01T00:00:00Z".into());
    }
    Ok(serde_json::to_vec(&v)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorder_scrubs_what_a_server_echoes() {
        let mut rec = Recorder::new(Vec::new());
        let req = http::Request::get("https://reg.example/v2/a/manifests/v1?sig=abcd")
            .header("authorization", "Basic dXNlcjpodW50ZXIy")
            .body(Vec::new())
            .unwrap();
        let request = rec.request(&req);
        assert_eq!(
            request.url,
            "https://reg.example/v2/a/manifests/v1?sig=REDACTED"
        );
        let resp = http::Response::builder()
            .status(401)
            .header("www-authenticate", "Basic realm=\"dXNlcjpodW50ZXIy\"")
            .header("location", "https://u:p@cdn.example/b?X-Amz-Signature=s")
            .body(br#"{"errors":[{"message":"hunter2 is wrong"}]}"#.to_vec())
            .unwrap();
        rec.response(request, RequestKind::Manifest, &resp).unwrap();
        let text = rec.finish().render().unwrap();
        for secret in ["dXNlcjpodW50ZXIy", "hunter2", "u:p@", "=s\n"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }

    #[test]
    fn scrubbing() {
        let (mut tokens, mut others) = (Vec::new(), Vec::new());
        let body = scrub_token_reply(
            br#"{"token":"abc","access_token":"abc","refresh_token":"rrr","id_token":"iii","expires_in":60}"#,
            &mut tokens,
            &mut others,
        )
        .unwrap();
        let text = String::from_utf8(body).unwrap();
        for secret in ["abc", "rrr", "iii"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(text.contains("<scrubbed-token-1>"));
        assert!(text.contains("<scrubbed-refresh-token>") && text.contains("<scrubbed-id-token>"));
        assert_eq!(tokens, ["abc"], "only bearer tokens are numbered");
        assert_eq!(
            scrub_authorization("Bearer abc", &tokens),
            "Bearer <scrubbed-token-1>"
        );
        assert_eq!(
            scrub_authorization("Bearer zzz", &tokens),
            "Bearer <redacted>"
        );
        assert_eq!(
            scrub_authorization("Basic dTpw", &tokens),
            "Basic <redacted>"
        );
        assert_eq!(
            redact::url("https://cdn.example/b?X-Amz-Signature=s3cr3t&n=2"),
            "https://cdn.example/b?X-Amz-Signature=REDACTED&n=2"
        );
        assert_eq!(
            redact::url(r#"</v2/a/tags/list?last=b&sig=x>; rel="next""#),
            r#"</v2/a/tags/list?last=b&sig=REDACTED>; rel="next""#
        );
        assert_eq!(redact::url("https://a/b"), "https://a/b");
    }
}
