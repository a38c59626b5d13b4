//! [`Transport`], what carries a flow's requests, and [`drive`], the one loop that runs
//! a flow over any of them: the network ([`Client`]), or what stands in its place (a
//! recording around another transport, a replay, a local layout). The loop has no
//! hooks: whatever a transport does, it does in [`Transport::send`].

use std::time::{Duration, SystemTime};

use regpeek_proto::{Action, Flow, Outcome, TokenCache, Transmit};

use crate::{Blob, Client, Observer, RunError, TransportFailure, clone_request};

/// Carries a flow's requests. Implement it to put something in the network's place;
/// [`Client`] is the network.
pub trait Transport: Send + Sync {
    /// Performs `send` within `budget` (`None`: no limit): its response, the body read
    /// up to `send.max_body + 1` bytes; or, for a streamed request
    /// ([`Transmit::stream`]) answered `2xx`, its head with an empty body, and the body
    /// as [`Reply::body`] for the caller to read.
    fn send(&self, send: &Transmit, budget: Option<Duration>) -> Result<Reply, TransportFailure>;

    /// A line of the `-v` trace, secrets already redacted (none: no trace).
    fn trace(&self, _line: &str) {}

    /// Whether requests to `host` (`host[:port]` as a URL spells it) go as concurrent
    /// streams of one connection, as far as this transport has learnt: a batch then
    /// works on more references at once. HTTP/1.1 carries one request per connection.
    fn multiplexes(&self, _host: &str) -> bool {
        false
    }
}

/// What a transport got back.
pub struct Reply {
    /// The response (for a streamed `2xx`, its head alone).
    pub response: http::Response<Vec<u8>>,
    /// A streamed `2xx`'s body, to be read by the caller.
    pub body: Option<Blob>,
}

impl Reply {
    /// A whole response.
    pub fn whole(response: http::Response<Vec<u8>>) -> Reply {
        Reply {
            response,
            body: None,
        }
    }
}

/// How a driven flow ended (with a streamed `2xx`'s body), and its tokens.
pub type Driven = (Result<(Outcome, Option<Blob>), RunError>, TokenCache);

/// The main loop: poll the flow, have `transport` perform each request within its time
/// left, hand the response (or the kind of failure) back, sleep through waits; `observe`
/// sees every exchange. A streamed `2xx`'s body comes back with the outcome.
pub fn drive(transport: &dyn Transport, mut flow: Flow, observe: &mut Observer<'_>) -> Driven {
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
                return (result.map(|o| (o, streamed)), flow.tokens().clone());
            }
            Action::Wait(until) => {
                let wait = until.duration_since(SystemTime::now()).unwrap_or_default();
                transport.trace(&format!("! retrying in {:.1}s", wait.as_secs_f64()));
                std::thread::sleep(wait);
            }
            Action::Send(send) => match transport.send(&send, send.time_left(SystemTime::now())) {
                Ok(reply) => {
                    observe(&send, Ok(&reply.response), flow.tokens());
                    streamed = reply.body.or(streamed);
                    last_failure = None;
                    flow.handle_response(SystemTime::now(), reply.response);
                }
                Err(failure) => {
                    observe(&send, Err(&failure), flow.tokens());
                    let kind = failure.kind;
                    last_failure = Some(failure);
                    flow.handle_transport_error(SystemTime::now(), kind);
                }
            },
        }
    }
}

/// Runs a [`Goal::Blob`](regpeek_proto::Goal::Blob) flow over `transport` and hands
/// back the blob's body to read, unverified: check it against the digest before using
/// any of it.
pub fn run_blob(
    transport: &dyn Transport,
    flow: Flow,
) -> (Result<(Outcome, Blob), RunError>, TokenCache) {
    let (result, tokens) = drive(transport, flow, &mut |_, _, _| {});
    let result = result.and_then(|(outcome, body)| match body {
        Some(body) => Ok((outcome, body)),
        None => Err(RunError {
            error: regpeek_proto::Error::Internal("a blob flow ended without its body"),
            transport: None,
        }),
    });
    (result, tokens)
}

impl Transport for Client {
    fn send(&self, send: &Transmit, budget: Option<Duration>) -> Result<Reply, TransportFailure> {
        let request = clone_request(&send.request);
        if send.stream {
            let (response, body) = self.perform_streaming(request, send.max_body, budget)?;
            return Ok(Reply {
                response,
                body: body.map(|b| Blob::new(b.into_reader())),
            });
        }
        self.perform_within(request, send.max_body, budget)
            .map(Reply::whole)
    }

    fn trace(&self, line: &str) {
        Client::trace(self, line);
    }
}
