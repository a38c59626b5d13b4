//! HTTP/2 transport for regpeek: a [`Transport`] that negotiates HTTP/2 by ALPN over
//! TLS and carries every request of a run to a registry as concurrent streams of one
//! connection, falling back to HTTP/1.1 (the [`regpeek_ureq::Client`] it holds) for a
//! server that does not offer HTTP/2 and for plain http.
//!
//! It stays blocking to its callers: the async runtime (tokio, one thread) lives inside
//! [`H2Client`], and [`Transport::send`] waits for its stream. Many threads sending at
//! once share one connection; that is what makes a batch cheap. Being blocking, it must
//! not be called from an async task of another runtime (use that runtime's
//! `spawn_blocking`): it blocks on a runtime of its own.
//!
//! ```no_run
//! use regpeek_h2::{H2Client, H2Options};
//! use regpeek_proto::{Flow, Goal, Options, Platform, Reference, TokenCache};
//! use regpeek_ureq::{ClientOptions, drive};
//!
//! let client = H2Client::new(&ClientOptions::default(), H2Options::default())?;
//! let reference = Reference::parse("ghcr.io/homebrew/core/wget:latest")?;
//! let goal = Goal::Inspect(Platform::parse("linux/amd64", "amd64")?);
//! let flow = Flow::new(reference, Options::new(goal), TokenCache::default());
//! let (result, _tokens) = drive(&client, flow, &mut |_, _, _| {});
//! println!("{}", result?.0.into_image()?.digest);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use regpeek_proto::{TimeoutStage, Transmit, TransportErrorKind};
use regpeek_ureq::{ClientOptions, Error, ProxyFor, Reply, Trace, Transport, TransportFailure};

mod connect;
mod exchange;
mod pool;
mod tls;

use pool::{Origin, OriginState};

/// HTTP/2 was required ([`Http::Http2`]) of a server whose TLS handshake does not offer
/// it: the request was not sent.
#[derive(Debug, thiserror::Error)]
#[error("{authority} does not offer HTTP/2 in its TLS handshake (ALPN)")]
pub struct NoHttp2 {
    /// The server, `host:port`.
    pub authority: String,
}

/// Which HTTP a client speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Http {
    /// HTTP/2 where a TLS server offers it (ALPN), else HTTP/1.1.
    #[default]
    Auto,
    /// HTTP/1.1 only.
    Http1,
    /// HTTP/2 over TLS, or a failure naming the server that does not offer it.
    Http2,
}

/// How [`H2Client`] speaks HTTP.
#[derive(Clone, Copy, Debug, Default)]
pub struct H2Options {
    /// Which HTTP.
    pub http: Http,
    /// Plain-http servers are spoken to in HTTP/2 at once (h2c), without an upgrade.
    /// Otherwise plain http is HTTP/1.1.
    pub prior_knowledge: bool,
}

/// A blocking [`Transport`] over HTTP/2 (and HTTP/1.1 where HTTP/2 is not spoken).
pub struct H2Client {
    inner: Arc<Inner>,
}

/// The HTTP/2 connections of a run and the runtime (one thread) that drives them:
/// clients made with [`H2Client::sharing`] the same `Connections` share a connection
/// to a host they reach with the same TLS settings (a CDN that several registries
/// redirect to, say).
pub struct Connections {
    /// What the run knows of each origin, its connections.
    origins: Mutex<HashMap<Origin, Arc<tokio::sync::Mutex<OriginState>>>>,
    /// Connections opened so far (their numbers in the trace).
    opened: AtomicUsize,
    handle: tokio::runtime::Handle,
    /// Ends the runtime's thread when the last user is dropped.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Connections {
    /// Starts the runtime's thread.
    pub fn new() -> std::io::Result<Arc<Connections>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("regpeek-h2".into())
            .spawn(move || {
                let _ = runtime.block_on(stopped);
            })?;
        Ok(Arc::new(Connections {
            origins: Mutex::new(HashMap::new()),
            opened: AtomicUsize::new(0),
            handle,
            _stop: stop,
        }))
    }

    /// How many HTTP/2 connections have been opened (HTTP/1.1's are ureq's).
    pub fn opened(&self) -> usize {
        self.opened.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// What the client's requests share.
pub(crate) struct Inner {
    /// HTTP/1.1: plain http, and servers that chose it.
    h1: regpeek_ureq::Client,
    http: Http,
    prior_knowledge: bool,
    /// TLS for every server but those of `per_host`.
    tls: Arc<rustls::ClientConfig>,
    per_host: Vec<(String, Arc<rustls::ClientConfig>)>,
    idle: Duration,
    user_agent: String,
    trace: Option<Trace>,
    proxy_for: Option<ProxyFor>,
    /// What tells this client's TLS settings apart from another's (a connection is
    /// shared only between clients that would have made it alike).
    settings: u64,
    per_host_settings: Vec<(String, u64)>,
    /// The connections, perhaps shared with other clients.
    pub(crate) connections: Arc<Connections>,
    pub(crate) handle: tokio::runtime::Handle,
}

impl H2Client {
    /// A client with `options`' TLS, proxies, timeouts and trace (the same as
    /// [`regpeek_ureq::Client::new`] takes), speaking HTTP as `h2` says. Starts the
    /// runtime's thread.
    pub fn new(options: &ClientOptions, h2: H2Options) -> Result<H2Client, Error> {
        let connections = Connections::new().map_err(|e| Error::Setup {
            what: "the HTTP/2 runtime".into(),
            reason: e.to_string(),
        })?;
        H2Client::sharing(options, h2, connections)
    }

    /// [`H2Client::new`] over `connections`, which other clients may share.
    pub fn sharing(
        options: &ClientOptions,
        h2: H2Options,
        connections: Arc<Connections>,
    ) -> Result<H2Client, Error> {
        let alpn: &[&[u8]] = match h2.http {
            Http::Http2 => &[tls::H2],
            _ => &[tls::H2, b"http/1.1"],
        };
        let per_host = options
            .tls
            .per_host
            .iter()
            .map(|(host, t)| Ok((host.clone(), tls::config(t, alpn)?)))
            .collect::<Result<_, Error>>()?;
        let per_host_settings = options
            .tls
            .per_host
            .iter()
            .map(|(host, t)| (host.clone(), fingerprint(t, h2)))
            .collect();
        Ok(H2Client {
            inner: Arc::new(Inner {
                h1: regpeek_ureq::Client::new(options)?,
                http: h2.http,
                prior_knowledge: h2.prior_knowledge,
                tls: tls::config(&options.tls, alpn)?,
                per_host,
                idle: options.idle_timeout,
                user_agent: options.user_agent.clone(),
                trace: options.trace.clone(),
                proxy_for: options.proxy_for.clone(),
                settings: fingerprint(&options.tls, h2),
                per_host_settings,
                handle: connections.handle.clone(),
                connections,
            }),
        })
    }

    /// The connections this client uses.
    pub fn connections(&self) -> &Arc<Connections> {
        &self.inner.connections
    }
}

impl Inner {
    pub(crate) fn trace(&self, line: &str) {
        if let Some(t) = &self.trace {
            t(line);
        }
    }

    /// The origin a request goes to over HTTP/2, or `None` for HTTP/1.1.
    fn origin_of(&self, uri: &http::Uri) -> Option<Origin> {
        let tls = match uri.scheme_str() {
            Some("https") if self.http != Http::Http1 => true,
            Some("http") if self.prior_knowledge => false,
            _ => return None,
        };
        let host = uri.host()?.to_ascii_lowercase();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let proxy = self.proxy_for.as_ref().and_then(|f| f(uri));
        let authority = format!("{host}:{port}");
        let settings = self
            .per_host_settings
            .iter()
            .find(|(h, _)| h.eq_ignore_ascii_case(&authority) || h.eq_ignore_ascii_case(&host))
            .map_or(self.settings, |(_, s)| *s);
        if !tls && proxy.is_some() {
            // A proxy of plain http forwards HTTP/1.1 requests; h2c does not go through.
            return None;
        }
        Some(Origin {
            tls,
            host,
            port,
            proxy,
            settings,
        })
    }
}

impl Transport for H2Client {
    fn send(&self, send: &Transmit, budget: Option<Duration>) -> Result<Reply, TransportFailure> {
        let inner = &self.inner;
        let Some(origin) = inner.origin_of(send.request.uri()) else {
            return inner.h1.send(send, budget);
        };
        if budget.is_some_and(|b| b.is_zero()) {
            return Err(TransportFailure {
                kind: TransportErrorKind::Timeout(TimeoutStage::BeforeSending),
                source: "the deadline has passed".into(),
            });
        }
        let deadline = budget.and_then(|b| tokio::time::Instant::now().checked_add(b));
        let exchanged = inner
            .handle
            .block_on(inner.exchange(&origin, send, deadline))?;
        match exchanged {
            exchange::Exchanged::Reply(reply) => Ok(reply),
            exchange::Exchanged::Http1 => inner.h1.send(send, budget),
        }
    }

    fn trace(&self, line: &str) {
        self.inner.trace(line);
    }

    fn multiplexes(&self, host: &str) -> bool {
        let Ok(origins) = self.inner.connections.origins.lock() else {
            return false;
        };
        origins.iter().any(|(origin, state)| {
            let authority = format!("{}:{}", origin.host, origin.port);
            let named = (host.eq_ignore_ascii_case(&authority)
                || (host.eq_ignore_ascii_case(&origin.host) && origin.port == 443))
                && origin.settings == self.inner.settings;
            named
                && state
                    .try_lock()
                    .is_ok_and(|s| !s.http1 && !s.conns.is_empty())
        })
    }
}

/// What tells TLS settings (and the HTTP asked for) apart, for sharing connections.
fn fingerprint(tls: &regpeek_ureq::TlsOptions, h2: H2Options) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    tls.extra_roots.hash(&mut hasher);
    tls.client_cert.hash(&mut hasher);
    tls.insecure.hash(&mut hasher);
    (h2.http as u8).hash(&mut hasher);
    hasher.finish()
}
