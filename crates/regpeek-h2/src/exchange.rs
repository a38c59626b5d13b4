//! One request on a stream: sent, its response read within the cap (a longer body is
//! reset, not read) or handed over as a stream, and a stream's failure told as the
//! core's retry rules want it: a refused stream, or one above a `GOAWAY`'s last stream
//! id, is replayed at once on another stream (the server never processed it);
//! `ENHANCE_YOUR_CALM` is a 429 of that registry; any other reset is a reset.

use std::io::Read;
use std::time::Duration;

use bytes::{Buf, Bytes};
use h2::{Reason, RecvStream};
use regpeek_proto::{TimeoutStage, Transmit, TransportErrorKind};
use regpeek_ureq::{Blob, Reply, TransportFailure};
use tokio::time::Instant;

use crate::Inner;
use crate::connect::{bounded, failure, io_kind};
use crate::pool::{Conn, Origin, Route, Slot};

/// How many times a request the server did not process is sent again.
const MAX_REPLAYS: usize = 4;

/// Headers that mean nothing in HTTP/2 (RFC 9113 §8.2.2), never sent.
const CONNECTION_HEADERS: [&str; 6] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "host",
];

/// How a stream failed.
enum Failed {
    /// The server did not process the request: send it again.
    Replay(String),
    /// `ENHANCE_YOUR_CALM`: the registry asks to slow down.
    Calm,
    /// Anything else, for the core.
    Failure(TransportFailure),
}

impl From<TransportFailure> for Failed {
    fn from(f: TransportFailure) -> Failed {
        Failed::Failure(f)
    }
}

/// The outcome of [`Inner::exchange`]: a reply, or "send it over HTTP/1.1".
pub(crate) enum Exchanged {
    Reply(Reply),
    Http1,
}

impl Inner {
    /// Sends `send` to `origin` over HTTP/2 within `deadline`.
    pub(crate) async fn exchange(
        &self,
        origin: &Origin,
        send: &Transmit,
        deadline: Option<Instant>,
    ) -> Result<Exchanged, TransportFailure> {
        if self.known_http1(origin) {
            return Ok(Exchanged::Http1);
        }
        // Traced before connecting, as the HTTP/1.1 client does: a failed handshake
        // follows the request it was for.
        let secrets = self.trace_request(&send.request);
        let mut replays = 0;
        loop {
            let routed = self.route(origin, deadline).await;
            let (conn, slot) = match routed.map_err(|f| self.traced(f))? {
                Route::Http1 => return Ok(Exchanged::Http1),
                Route::Stream(conn, slot) => (conn, slot),
            };
            match self.on_stream(&conn, slot, send, &secrets, deadline).await {
                Ok(reply) => return Ok(Exchanged::Reply(reply)),
                Err(Failed::Replay(why)) if replays < MAX_REPLAYS => {
                    replays += 1;
                    self.trace(&format!("! {why}: sending it again"));
                }
                Err(Failed::Replay(why)) => {
                    return Err(failure(
                        TransportErrorKind::Reset,
                        format!("{why}, {} times in a row", replays + 1).into(),
                    ));
                }
                Err(Failed::Calm) => {
                    self.trace("! ENHANCE_YOUR_CALM: taken as a 429");
                    let mut response = http::Response::new(Vec::new());
                    *response.status_mut() = http::StatusCode::TOO_MANY_REQUESTS;
                    *response.version_mut() = http::Version::HTTP_2;
                    return Ok(Exchanged::Reply(Reply::whole(response)));
                }
                Err(Failed::Failure(f)) => return Err(self.traced(f)),
            }
        }
    }

    /// A failure, traced.
    fn traced(&self, f: TransportFailure) -> TransportFailure {
        if f.kind == TransportErrorKind::Tls {
            // Expected for a loopback registry speaking plain http: one quiet line.
            self.trace(&format!("! {}", f.kind));
        } else {
            self.trace(&format!("! {}: {}", f.kind, f.source));
        }
        f
    }

    /// `send` on a new stream of `conn`.
    async fn on_stream(
        &self,
        conn: &Conn,
        slot: Slot,
        send: &Transmit,
        secrets: &[String],
        deadline: Option<Instant>,
    ) -> Result<Reply, Failed> {
        let stage = TimeoutStage::Response;
        let ready = bounded(conn.send.clone().ready(), deadline, self.idle, stage).await?;
        let mut sender = ready.map_err(|e| {
            conn.shared.close();
            match e.get_io() {
                // The connection failed (a TLS alert, a reset): a new one would too.
                Some(io) => Failed::Failure(failure(io_kind(io, stage), Box::new(e))),
                // Not sent: the connection went away (GOAWAY, closed) before it had
                // room for the request.
                None => Failed::Replay(format!("connection {} went away ({e})", conn.number)),
            }
        })?;
        let request = &send.request;
        let mut head = http::Request::builder()
            .method(request.method().clone())
            .uri(request.uri().clone())
            .version(http::Version::HTTP_2);
        for (name, value) in request.headers() {
            if !CONNECTION_HEADERS.contains(&name.as_str()) {
                head = head.header(name, value);
            }
        }
        if !request.headers().contains_key(http::header::USER_AGENT) {
            head = head.header(http::header::USER_AGENT, self.user_agent.as_str());
        }
        let head = head
            .body(())
            .map_err(|e| failure(TransportErrorKind::Other, Box::new(e)))?;
        let body = request.body();
        let (response, mut stream) = sender
            .send_request(head, body.is_empty())
            .map_err(|e| self.failed(conn, e, stage))?;
        if !body.is_empty() {
            stream
                .send_data(Bytes::copy_from_slice(body), true)
                .map_err(|e| self.failed(conn, e, stage))?;
        }
        let id = u32::from(response.stream_id());
        self.trace(&format!(
            "> (HTTP/2, stream {id} of connection {})",
            conn.number
        ));
        let response = bounded(response, deadline, self.idle, stage)
            .await?
            .map_err(|e| self.failed(conn, e, stage))?;
        let (mut parts, mut body) = response.into_parts();
        parts.version = http::Version::HTTP_2;
        if send.stream && parts.status.is_success() {
            self.trace_head(&parts, secrets);
            self.trace("< (body streamed to the caller)");
            let reader = StreamBody {
                handle: self.handle.clone(),
                body,
                pending: Bytes::new(),
                idle: self.idle,
                deadline,
                _slot: slot,
            };
            return Ok(Reply {
                response: http::Response::from_parts(parts, Vec::new()),
                body: Some(Blob::new(reader)),
            });
        }
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let cap = u64::try_from(send.max_body).unwrap_or(u64::MAX);
        if !body.is_end_stream() && declared.is_some_and(|n| n > cap) {
            // Dropping the stream resets it: the body is never read.
            drop(body);
            return Err(Failed::Failure(failure(
                TransportErrorKind::TooLarge,
                format!(
                    "the body is declared {} bytes, past the cap",
                    declared.unwrap_or(0)
                )
                .into(),
            )));
        }
        let mut bytes = Vec::new();
        let stage = TimeoutStage::Body;
        while let Some(chunk) = bounded(body.data(), deadline, self.idle, stage).await? {
            let chunk = chunk.map_err(|e| self.failed(conn, e, stage))?;
            let _ = body.flow_control().release_capacity(chunk.len());
            let room = send.max_body.saturating_add(1) - bytes.len();
            bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if bytes.len() > send.max_body {
                // Over the cap: the rest is reset, not read; the core says too large.
                break;
            }
        }
        drop(body);
        self.trace_head(&parts, secrets);
        self.trace(&format!("< ({} body bytes)", bytes.len()));
        Ok(Reply::whole(http::Response::from_parts(parts, bytes)))
    }

    /// What a stream's error means for the request (`conn` is closed when the
    /// connection is gone).
    fn failed(&self, conn: &Conn, e: h2::Error, stage: TimeoutStage) -> Failed {
        let remote = e.is_remote();
        match e.reason() {
            Some(Reason::ENHANCE_YOUR_CALM) => {
                if e.is_go_away() {
                    conn.shared.close();
                }
                return Failed::Calm;
            }
            Some(Reason::REFUSED_STREAM) if remote => {
                return Failed::Replay(format!(
                    "the server refused stream of connection {}",
                    conn.number
                ));
            }
            _ => {}
        }
        if e.is_go_away() && remote {
            // h2 fails with GOAWAY only the streams above its last stream id: never
            // processed, so sent again on a new connection.
            conn.shared.close();
            return Failed::Replay(format!(
                "connection {} was closed by GOAWAY ({:?})",
                conn.number,
                e.reason().unwrap_or(Reason::NO_ERROR)
            ));
        }
        let kind = match e.get_io() {
            Some(io) => {
                conn.shared.close();
                io_kind(io, stage)
            }
            None => TransportErrorKind::Reset,
        };
        let what = match e.reason() {
            Some(reason) if e.is_reset() => format!("the server reset the stream ({reason})"),
            Some(reason) if e.is_go_away() => {
                conn.shared.close();
                format!("the connection was closed ({reason})")
            }
            _ => format!("HTTP/2: {e}"),
        };
        Failed::Failure(failure(kind, what.into()))
    }

    /// The request's lines of the trace; what it carries that a server could echo.
    fn trace_request(&self, request: &http::Request<Vec<u8>>) -> Vec<String> {
        match &self.trace {
            Some(t) => regpeek_ureq::trace::trace_request(&**t, request),
            None => Vec::new(),
        }
    }

    fn trace_head(&self, parts: &http::response::Parts, secrets: &[String]) {
        if let Some(t) = &self.trace {
            regpeek_ureq::trace::trace_head(&**t, parts, secrets);
        }
    }
}

/// A streamed body, read by a blocking caller: each read waits on the runtime for the
/// next DATA frame (within the idle timeout and the deadline) and gives the window back.
struct StreamBody {
    handle: tokio::runtime::Handle,
    body: RecvStream,
    pending: Bytes,
    idle: Duration,
    deadline: Option<Instant>,
    /// The stream's claim on its connection, held while the body is read.
    _slot: Slot,
}

impl Read for StreamBody {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        use std::io::{Error, ErrorKind};
        while self.pending.is_empty() {
            let (idle, deadline) = (self.idle, self.deadline);
            let next = self.handle.block_on(bounded(
                self.body.data(),
                deadline,
                idle,
                TimeoutStage::Body,
            ));
            match next {
                Err(_) => {
                    return Err(Error::new(
                        ErrorKind::TimedOut,
                        "the body stopped arriving (idle timeout or deadline)",
                    ));
                }
                Ok(None) => return Ok(0),
                Ok(Some(Err(e))) => {
                    return Err(Error::new(
                        ErrorKind::ConnectionReset,
                        format!("HTTP/2: {e}"),
                    ));
                }
                Ok(Some(Ok(chunk))) => {
                    let _ = self.body.flow_control().release_capacity(chunk.len());
                    self.pending = chunk;
                }
            }
        }
        let n = out.len().min(self.pending.len());
        out[..n].copy_from_slice(&self.pending[..n]);
        self.pending.advance(n);
        Ok(n)
    }
}
