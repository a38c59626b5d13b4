//! Blocking transport for regpeek: drives a [`regpeek_proto::Flow`] with a `ureq` agent.
//!
//! The core decides everything (auth, redirects, limits, digests); this crate only
//! performs the requests it is handed. [`drive`] is the whole main loop, over any
//! [`Transport`]: the network ([`Client`], whose [`Client::run`] drives it), or what
//! a caller puts in its place.
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
use std::time::Duration;

use regpeek_proto::{
    Flow, IDLE_TIMEOUT, Options, Outcome, Reference, TokenCache, Transmit, TransportErrorKind,
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
    /// The transport itself could not be set up (its TLS configuration, the system's
    /// trust roots, an HTTP/2 transport's runtime).
    #[error("{what}: {reason}")]
    Setup {
        /// What could not be set up.
        what: String,
        /// Why.
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
    /// A body read from `reader` (a transport of one's own: a file, a buffer).
    pub fn new(reader: impl std::io::Read + Send + 'static) -> Blob {
        Blob(Box::new(reader))
    }

    /// A reader of the body (no more than the registry sends).
    pub fn into_reader(self) -> impl std::io::Read + Send + 'static {
        self.0
    }
}

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

/// What [`Client::run_observed`] tells about each exchange: the request as sent, its
/// response or failure, and the flow's token cache as it was when the request went
/// out (so an observer can share what the flow learnt before it ends).
pub type Observer<'a> =
    dyn FnMut(&Transmit, Result<&http::Response<Vec<u8>>, &TransportFailure>, &TokenCache) + 'a;

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
    /// Which proxy each request goes through (none: direct).
    pub proxy_for: Option<ProxyFor>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            user_agent: concat!("regpeek/", env!("CARGO_PKG_VERSION")).to_owned(),
            idle_timeout: IDLE_TIMEOUT,
            tls: TlsOptions::default(),
            trace: None,
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
    proxy_for: Option<ProxyFor>,
}

mod agent;
mod classify;
mod transport;

pub use transport::{Driven, Reply, Transport, drive, run_blob};
mod perform;
pub mod trace;

pub use agent::pem_certificates;
pub use classify::classify_tls;

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
        self.run_observed(flow, &mut |_, _, _| {})
    }

    /// The main loop, telling `observe` about every exchange: the request as sent
    /// (with `Authorization`: scrub it) and its response or failure.
    pub fn run_observed(
        &self,
        flow: Flow,
        observe: &mut Observer<'_>,
    ) -> (Result<Outcome, RunError>, TokenCache) {
        let (result, tokens) = drive(self, flow, observe);
        (result.map(|(outcome, _)| outcome), tokens)
    }

    /// Runs a [`Goal::Blob`](regpeek_proto::Goal::Blob) flow and hands back the blob's
    /// body to read, unverified: check it against the digest before using any of it.
    pub fn run_blob(&self, flow: Flow) -> (Result<(Outcome, Blob), RunError>, TokenCache) {
        run_blob(self, flow)
    }

    pub(crate) fn trace(&self, line: &str) {
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
