//! The regpeek core driven from async Rust: tokio and hyper, plain http, one shared
//! connection pool for every flow. It shows that the sans-IO core needs nothing from
//! its transport but "send this, within this time, read at most this much".
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use regpeek_proto::{Flow, Goal, Options, Reference, TokenCache};
//! let client = regpeek_async_example::client();
//! let reference = Reference::parse("localhost:5000/app:v1")?;
//! let mut options = Options::new(Goal::Digest(None));
//! options.security = regpeek_proto::Security::Http;
//! let flow = Flow::new(reference, options, TokenCache::new());
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
            Action::Done(result) => return (result, flow.into_tokens()),
            Action::Wait(until) => {
                let wait = until.duration_since(SystemTime::now()).unwrap_or_default();
                tokio::time::sleep(wait).await;
            }
            Action::Send(send) => {
                let budget = send.time_left(now);
                let exchange = perform(client, send.request, send.max_body);
                let result = match budget {
                    Some(b) => tokio::time::timeout(b, exchange)
                        .await
                        .unwrap_or(Err(TransportErrorKind::Timeout(TimeoutStage::Response))),
                    None => exchange.await,
                };
                match result {
                    Ok(response) => flow.handle_response(SystemTime::now(), response),
                    Err(kind) => flow.handle_transport_error(SystemTime::now(), kind),
                }
            }
        }
    }
}

/// Performs one request, reading at most `max_body + 1` body bytes.
async fn perform(
    client: &HttpClient,
    request: http::Request<Vec<u8>>,
    max_body: usize,
) -> Result<http::Response<Vec<u8>>, TransportErrorKind> {
    let (parts, body) = request.into_parts();
    let request = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
    let response = client.request(request).await.map_err(|e| {
        if e.is_connect() {
            TransportErrorKind::Connect
        } else {
            TransportErrorKind::Reset
        }
    })?;
    let (parts, body) = response.into_parts();
    // At most one byte over the cap: the flow then reports the body as too large.
    let limited = Limited::new(body, max_body.saturating_add(1));
    let bytes = match limited.collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => vec![0; max_body.saturating_add(1)],
        Err(_) => return Err(TransportErrorKind::Reset),
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
