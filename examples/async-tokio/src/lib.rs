//! The regpeek core driven from async Rust: tokio and hyper, plain http (so
//! `Options::tls` is `false`), one shared connection pool for every flow. It shows that the sans-IO core needs nothing from
//! its transport but "send this, within this time, read at most this much".
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use regpeek_proto::{Flow, Goal, Options, Reference, TokenCache};
//! let client = regpeek_async_example::client();
//! let reference = Reference::parse("localhost:5000/app:v1")?;
//! let mut options = Options::new(Goal::Digest(None));
//! options.tls = false; // plain http: a loopback registry is spoken to over http at once
//! let flow = Flow::new(reference, options, TokenCache::default());
//! let (outcome, _tokens) = regpeek_async_example::run(&client, flow).await;
//! println!("{}", outcome?.into_image()?.digest);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use regpeek_proto::{
    Action, Error, Flow, IDLE_TIMEOUT, Outcome, TimeoutStage, TokenCache, TransportErrorKind, http,
};

/// The HTTP client: hyper's pooled client over plain TCP.
pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// A client with a keep-alive pool, to share between flows.
pub fn client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(IDLE_TIMEOUT));
    Client::builder(TokioExecutor::new()).build(connector)
}

/// Runs one flow to its end: the whole driver loop.
pub async fn run(client: &HttpClient, mut flow: Flow) -> (Result<Outcome, Error>, TokenCache) {
    loop {
        let now = SystemTime::now();
        match flow.poll_action(now) {
            Action::Done(result) => return (result, flow.tokens().clone()),
            Action::Wait(until) => {
                let wait = until.duration_since(SystemTime::now()).unwrap_or_default();
                tokio::time::sleep(wait).await;
            }
            Action::Send(send) => {
                let budget = send.time_left(now);
                let exchange = perform(client, send.request, send.max_body);
                let result = match budget {
                    Some(b) => tokio::time::timeout(b, exchange).await.unwrap_or_else(|_| {
                        Err(Failed {
                            kind: TransportErrorKind::Timeout(TimeoutStage::Response),
                            error: "the deadline passed".into(),
                        })
                    }),
                    None => exchange.await,
                };
                match result {
                    Ok(response) => flow.handle_response(SystemTime::now(), response),
                    // The kind for the flow; hyper's own error kept with its error.
                    Err(Failed { kind, error }) => {
                        flow.handle_transport_error_with(SystemTime::now(), kind, Driver(error))
                    }
                }
            }
        }
    }
}

/// A failed exchange: the kind the flow is told, and what hyper said.
struct Failed {
    kind: TransportErrorKind,
    error: Box<dyn std::error::Error + Send + Sync>,
}

/// hyper's error, handed to the flow to keep (`Error::Transport`'s source).
#[derive(Debug)]
struct Driver(Box<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Driver {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// The kind of a failure, from hyper's error and the I/O error beneath it.
fn kind_of(e: &(dyn std::error::Error + 'static), connecting: bool) -> TransportErrorKind {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as E;
            return match io.kind() {
                E::TimedOut if connecting => TransportErrorKind::Timeout(TimeoutStage::Connect),
                E::TimedOut => TransportErrorKind::Timeout(TimeoutStage::Response),
                E::ConnectionRefused | E::HostUnreachable | E::NetworkUnreachable => {
                    TransportErrorKind::Connect
                }
                _ if connecting && io.to_string().contains("dns") => TransportErrorKind::Resolve,
                _ if connecting => TransportErrorKind::Connect,
                _ => TransportErrorKind::Reset,
            };
        }
        if let Some(h) = c.downcast_ref::<hyper::Error>() {
            if h.is_timeout() {
                return TransportErrorKind::Timeout(TimeoutStage::Response);
            }
            if h.is_incomplete_message() || h.is_canceled() || h.is_closed() {
                return TransportErrorKind::Reset;
            }
            if h.is_parse() || h.is_parse_status() {
                return TransportErrorKind::Other;
            }
        }
        cause = c.source();
    }
    if connecting {
        TransportErrorKind::Connect
    } else {
        TransportErrorKind::Reset
    }
}

/// Performs one request, reading at most `max_body` body bytes; a longer body is
/// reported as too large, without its bytes.
async fn perform(
    client: &HttpClient,
    request: http::Request<Vec<u8>>,
    max_body: usize,
) -> Result<http::Response<Vec<u8>>, Failed> {
    let (parts, body) = request.into_parts();
    let request = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
    let response = client.request(request).await.map_err(|e| Failed {
        kind: kind_of(&e, e.is_connect()),
        error: Box::new(e),
    })?;
    let (parts, body) = response.into_parts();
    let limited = Limited::new(body, max_body);
    let bytes = match limited.collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(Failed {
                kind: TransportErrorKind::TooLarge,
                error: e,
            });
        }
        Err(e) => {
            return Err(Failed {
                kind: kind_of(&*e, false),
                error: e,
            });
        }
    };
    Ok(http::Response::from_parts(parts, bytes))
}

/// Runs futures concurrently on the current task (all are polled together, none is
/// spawned, so they may borrow the client) and returns their outputs in order.
pub async fn join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (f, slot) in pending.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.into_iter().flatten().collect()
}
