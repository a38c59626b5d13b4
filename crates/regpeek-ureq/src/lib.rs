//! Blocking transport for regpeek: drives a [`regpeek_proto::Flow`] with a `ureq` agent.
//!
//! The core decides everything (auth, redirects, limits, digests); this crate only
//! performs the requests it is handed. [`Client::run`] is the whole main loop.
//!
//! ```no_run
//! use regpeek_proto::{Goal, Options, Platform, Reference, TokenCache};
//! use regpeek_ureq::{Client, ClientOptions};
//!
//! let client = Client::new(&ClientOptions::default())?;
//! let reference = Reference::parse("nginx")?;
//! let goal = Goal::Inspect(Platform::parse("linux/amd64", "amd64")?);
//! let (result, _tokens) = client.inspect(reference, Options::new(goal), TokenCache::default());
//! println!("{}", result?.into_image()?.digest);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use regpeek_proto::{
    Action, Flow, IDLE_TIMEOUT, Options, Outcome, Reference, TokenCache, Transmit,
    TransportErrorKind,
};

/// Errors setting up the transport. Errors during a flow come back as
/// [`regpeek_proto::Error`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A CA bundle could not be read or holds no certificate.
    #[error("CA file {path}: {reason}")]
    CaFile {
        /// The path.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A client certificate or key could not be used.
    #[error("client certificate {path}: {reason}")]
    ClientCert {
        /// The certificate's path.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// A request that failed below HTTP: the kind the core needs, and ureq's (or the
/// body reader's) own error.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct TransportFailure {
    /// The kind handed to the flow.
    pub kind: TransportErrorKind,
    /// What went wrong underneath.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// The body of a blob ([`Client::run_blob`]), to be read as it arrives: not yet
/// checked against its digest. Reading it may fail as any transfer can.
pub struct Blob(Box<dyn std::io::Read + Send>);

impl Blob {
    /// A reader of the body (no more than the registry sends).
    pub fn into_reader(self) -> impl std::io::Read + Send + 'static {
        self.0
    }
}

/// A response head and the body to read as it comes ([`Exchanges::answer_stream`]).
pub type StreamedAnswer =
    Result<(http::Response<Vec<u8>>, Box<dyn std::io::Read + Send>), TransportFailure>;

/// The most of a streamed blob a recording keeps (it holds the body whole).
pub const MAX_RECORDED_BLOB: usize = 64 << 20;

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Blob(..)")
    }
}

/// Why a flow run by [`Client::run`] ended without an outcome: the core's error, with
/// the transport's own error (ureq's, or the body reader's) as its source when the last
/// request failed below HTTP.
#[derive(Debug)]
pub struct RunError {
    /// The core's error (typed: match on it).
    pub error: regpeek_proto::Error,
    /// The transport failure behind a `Transport` or `Timeout` error.
    pub transport: Option<TransportFailure>,
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for RunError {
    /// The underlying error itself: the core's message already says the kind. Not
    /// for a timeout, whose stage the core names in words (ureq's own names, such as
    /// `timeout: global`, say nothing more to a user).
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        if matches!(self.error, regpeek_proto::Error::Timeout { .. }) {
            return None;
        }
        self.transport
            .as_ref()
            .map(|t| &*t.source as &(dyn std::error::Error + 'static))
    }
}

/// What [`Client::run_observed`] tells about each exchange: the request as sent and
/// its response or failure.
pub type Observer<'a> =
    dyn FnMut(&Transmit, Result<&http::Response<Vec<u8>>, &TransportFailure>) + 'a;

/// TLS settings beyond the defaults.
#[derive(Clone, Default)]
pub struct TlsOptions {
    /// Extra CA certificates (label, PEM), trusted in addition to the system's roots.
    pub extra_roots: Vec<(String, Vec<u8>)>,
    /// A client certificate chain and key (label, cert PEM, key PEM) for mTLS.
    pub client_cert: Option<(String, Vec<u8>, Vec<u8>)>,
    /// Skip certificate verification entirely. Callers must warn the user loudly.
    pub insecure: bool,
    /// Settings for particular servers, used instead of these for every request to
    /// them: `host[:port]` as the request URL spells its authority (a registry mirror
    /// with a client certificate of its own, say). Each gets its own connection pool.
    pub per_host: Vec<(String, TlsOptions)>,
}

/// A sink for trace lines (`-v`); secrets are already redacted.
pub type Trace = Arc<dyn Fn(&str) + Send + Sync>;

/// The proxy a request URL goes through (`http://host:port`), or `None` for a direct
/// connection: the caller's rule (the client's reads the environment as Go and curl
/// do). Without one, every request is direct.
pub type ProxyFor = Arc<dyn Fn(&http::Uri) -> Option<String> + Send + Sync>;

/// Transport settings.
#[derive(Clone)]
pub struct ClientOptions {
    /// `User-Agent` header.
    pub user_agent: String,
    /// Connect timeout, and how long a connection may send nothing before it counts as
    /// dead. The whole request is further bounded by the flow's deadline.
    pub idle_timeout: Duration,
    /// TLS settings.
    pub tls: TlsOptions,
    /// Where to send the HTTP trace, if anywhere.
    pub trace: Option<Trace>,
    /// What stands between the flows and the network, if anything: a recorder that
    /// sees every exchange, or a replay that answers instead of the network.
    pub exchanges: Option<Arc<dyn Exchanges>>,
    /// Which proxy each request goes through (none: direct).
    pub proxy_for: Option<ProxyFor>,
}

/// Stands between a client's flows and the network: sees every exchange (a
/// recorder), or answers requests itself (a replay). Shared by every flow of the
/// client, so it wraps the transport, whatever command runs over it.
pub trait Exchanges: Send + Sync {
    /// An answer instead of the network's (`None`: send the request).
    fn answer(
        &self,
        _request: &Transmit,
    ) -> Option<Result<http::Response<Vec<u8>>, TransportFailure>> {
        None
    }

    /// For a streamed request ([`Transmit::stream`]): a response head and the body to
    /// read as it comes, instead of the network's (`None`: [`Exchanges::answer`], then
    /// the network). A local layout answers its blobs from files this way, never
    /// holding one whole.
    fn answer_stream(&self, _request: &Transmit) -> Option<StreamedAnswer> {
        None
    }

    /// An exchange that went over the network.
    fn observe(
        &self,
        _request: &Transmit,
        _reply: Result<&http::Response<Vec<u8>>, &TransportFailure>,
    ) {
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            user_agent: concat!("regpeek/", env!("CARGO_PKG_VERSION")).to_owned(),
            idle_timeout: IDLE_TIMEOUT,
            tls: TlsOptions::default(),
            trace: None,
            exchanges: None,
            proxy_for: None,
        }
    }
}

/// A blocking client: one `ureq` agent (one keep-alive pool) for every request of a run.
pub struct Client {
    agent: ureq::Agent,
    /// Agents for the servers of [`TlsOptions::per_host`].
    per_host: Vec<(String, ureq::Agent)>,
    idle: Duration,
    trace: Option<Trace>,
    exchanges: Option<Arc<dyn Exchanges>>,
    proxy_for: Option<ProxyFor>,
}

mod agent;
mod classify;
mod perform;

pub use agent::pem_certificates;

impl Client {
    /// Builds the agent: status codes are data, redirects are left to the core, the
    /// system's trust roots are used, plus any extra CAs.
    pub fn new(options: &ClientOptions) -> Result<Client, Error> {
        let per_host = options
            .tls
            .per_host
            .iter()
            .map(|(host, tls)| Ok((host.clone(), Client::agent(options, tls)?)))
            .collect::<Result<_, Error>>()?;
        Ok(Client {
            agent: Client::agent(options, &options.tls)?,
            per_host,
            idle: options.idle_timeout,
            trace: options.trace.clone(),
            exchanges: options.exchanges.clone(),
            proxy_for: options.proxy_for.clone(),
        })
    }

    /// Runs one inspection to the end and gives the token cache back.
    pub fn inspect(
        &self,
        reference: Reference,
        options: Options,
        tokens: TokenCache,
    ) -> (Result<Outcome, RunError>, TokenCache) {
        self.run(Flow::new(reference, options, tokens))
    }

    /// The main loop: poll the flow, perform each request, hand the response back.
    pub fn run(&self, flow: Flow) -> (Result<Outcome, RunError>, TokenCache) {
        self.run_observed(flow, &mut |_, _| {})
    }

    /// The main loop, telling `observe` about every exchange (for recordings): the
    /// request as sent (with `Authorization`: scrub it) and its response or failure.
    pub fn run_observed(
        &self,
        flow: Flow,
        observe: &mut Observer<'_>,
    ) -> (Result<Outcome, RunError>, TokenCache) {
        let (result, tokens) = self.drive(flow, observe);
        (result.map(|(outcome, _)| outcome), tokens)
    }

    /// Runs a [`Goal::Blob`](regpeek_proto::Goal::Blob) flow and hands back the blob's
    /// body to read, unverified: check it against the digest before using any of it.
    /// Not recorded, nor answered from a recording.
    pub fn run_blob(&self, flow: Flow) -> (Result<(Outcome, Blob), RunError>, TokenCache) {
        let (result, tokens) = self.drive(flow, &mut |_, _| {});
        let result = result.and_then(|(outcome, body)| match body {
            Some(body) => Ok((outcome, body)),
            None => Err(RunError {
                error: regpeek_proto::Error::Internal("a blob flow ended without its body"),
                transport: None,
            }),
        });
        (result, tokens)
    }

    /// The driver loop: `observe` sees every exchange; a streamed `2xx` keeps its body
    /// for the caller.
    fn drive(
        &self,
        mut flow: Flow,
        observe: &mut Observer<'_>,
    ) -> (Result<(Outcome, Option<Blob>), RunError>, TokenCache) {
        let mut last_failure: Option<TransportFailure> = None;
        let mut streamed: Option<Blob> = None;
        loop {
            match flow.poll_action(SystemTime::now()) {
                Action::Done(result) => {
                    let result = result.map_err(|error| {
                        let transport = match error {
                            regpeek_proto::Error::Transport { .. }
                            | regpeek_proto::Error::Timeout { .. } => last_failure.take(),
                            _ => None,
                        };
                        RunError { error, transport }
                    });
                    return (result.map(|o| (o, streamed)), flow.into_tokens());
                }
                Action::Wait(until) => {
                    let wait = until.duration_since(SystemTime::now()).unwrap_or_default();
                    self.trace(&format!("! retrying in {:.1}s", wait.as_secs_f64()));
                    std::thread::sleep(wait);
                }
                Action::Send(send) => {
                    let budget = send.time_left(SystemTime::now());
                    let probe = Transmit {
                        request: clone_request(&send.request),
                        max_body: send.max_body,
                        kind: send.kind,
                        stream: send.stream,
                        deadline: send.deadline,
                    };
                    let streamed_answer = match (&self.exchanges, send.stream) {
                        (Some(x), true) => x.answer_stream(&probe),
                        _ => None,
                    };
                    let answered = match streamed_answer {
                        Some(_) => None,
                        None => self.exchanges.as_ref().and_then(|x| x.answer(&probe)),
                    };
                    // A recording or a replay holds a streamed body whole: the caller
                    // reads it from memory, and the flow gets the head alone.
                    let mut kept = |reply: Result<http::Response<Vec<u8>>, TransportFailure>| {
                        reply.map(|response| {
                            if !send.stream || !response.status().is_success() {
                                return response;
                            }
                            let (parts, body) = response.into_parts();
                            streamed = Some(Blob(Box::new(std::io::Cursor::new(body))));
                            http::Response::from_parts(parts, Vec::new())
                        })
                    };
                    let reply = match (streamed_answer, answered) {
                        // A body to read as it comes (a local layout's file).
                        (Some(reply), _) => reply.map(|(response, body)| {
                            if response.status().is_success() {
                                streamed = Some(Blob(body));
                            }
                            response
                        }),
                        (None, Some(reply)) => kept(reply),
                        (None, None) if send.stream && self.exchanges.is_some() => {
                            let reply =
                                self.perform_within(send.request, MAX_RECORDED_BLOB, budget);
                            let reply = match reply {
                                Ok(r) if r.body().len() > MAX_RECORDED_BLOB => Err(TransportFailure {
                                    kind: TransportErrorKind::TooLarge,
                                    source: format!("a blob over the {MAX_RECORDED_BLOB} bytes a recording keeps").into(),
                                }),
                                other => other,
                            };
                            if let Some(x) = &self.exchanges {
                                x.observe(&probe, reply.as_ref());
                            }
                            kept(reply)
                        }
                        (None, None) if send.stream => self
                            .perform_streaming(send.request, send.max_body, budget)
                            .map(|(response, body)| {
                                streamed = body.map(|b| Blob(Box::new(b.into_reader())));
                                response
                            }),
                        (None, None) => {
                            let reply = self.perform_within(send.request, send.max_body, budget);
                            if let Some(x) = &self.exchanges {
                                x.observe(&probe, reply.as_ref());
                            }
                            reply
                        }
                    };
                    match reply {
                        Ok(response) => {
                            observe(&probe, Ok(&response));
                            last_failure = None;
                            flow.handle_response(SystemTime::now(), response);
                        }
                        Err(failure) => {
                            observe(&probe, Err(&failure));
                            let kind = failure.kind;
                            last_failure = Some(failure);
                            flow.handle_transport_error(SystemTime::now(), kind);
                        }
                    }
                }
            }
        }
    }

    fn trace(&self, line: &str) {
        if let Some(t) = &self.trace {
            t(line);
        }
    }

    /// Performs one request, reading at most `max_body + 1` body bytes, with no overall
    /// time limit (connections idle for the idle timeout still fail).
    pub fn perform(
        &self,
        request: http::Request<Vec<u8>>,
        max_body: usize,
    ) -> Result<http::Response<Vec<u8>>, TransportFailure> {
        self.perform_within(request, max_body, None)
    }

    /// Performs one request within `budget` (connect, TLS, response and body), reading
    /// at most `max_body + 1` body bytes.
    pub fn perform_within(
        &self,
        request: http::Request<Vec<u8>>,
        max_body: usize,
        budget: Option<Duration>,
    ) -> Result<http::Response<Vec<u8>>, TransportFailure> {
        let (secrets, response) = self.send_traced(request, budget)?;
        self.read_traced(response, max_body, &secrets)
    }
}

/// A copy of a request (bodies are small: a token form at most), for observers.
fn clone_request(req: &http::Request<Vec<u8>>) -> http::Request<Vec<u8>> {
    let mut copy = http::Request::new(req.body().clone());
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.headers_mut() = req.headers().clone();
    copy
}

#[cfg(test)]
mod tests;
