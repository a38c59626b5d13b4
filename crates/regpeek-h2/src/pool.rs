//! The connections of a run: per origin, one HTTP/2 connection carries every request
//! as concurrent streams, up to the server's `SETTINGS_MAX_CONCURRENT_STREAMS`; a
//! second opens only past that. An origin whose TLS handshake chose HTTP/1.1 is
//! remembered as such, and its requests go to the HTTP/1.1 client.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::Bytes;
use h2::client::SendRequest;
use regpeek_proto::{TimeoutStage, TransportErrorKind};
use regpeek_ureq::TransportFailure;
use tokio::time::Instant;

use crate::connect::{bounded, failure, tcp, tls_kind, unbracketed};
use crate::{Http, Inner, tls};

/// The most connections to one origin (a server allowing few streams gets more
/// connections, never more than this: past it, requests queue on the streams).
const MAX_CONNECTIONS: usize = 8;
/// What a connection is assumed to allow before the server's SETTINGS say.
const INITIAL_STREAMS: usize = 100;
/// Each stream's receive window: a layer streams at 1 MiB per round trip.
const STREAM_WINDOW: u32 = 1 << 20;
/// The connection's receive window: what all its streams may have in flight, the bound
/// on what a connection buffers.
const CONNECTION_WINDOW: u32 = 8 << 20;
/// The most bytes of response headers a stream accepts.
const MAX_HEADERS: u32 = 256 << 10;

/// Where a connection goes: scheme, host, port, and the proxy it goes through.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub(crate) struct Origin {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub proxy: Option<String>,
    /// The fingerprint of the TLS settings it is reached with.
    pub settings: u64,
}

/// What a run knows of an origin.
#[derive(Default)]
pub(crate) struct OriginState {
    /// Its TLS handshake chose HTTP/1.1 (or none): its requests go to that client.
    pub http1: bool,
    pub conns: Vec<Conn>,
}

/// One HTTP/2 connection.
#[derive(Clone)]
pub(crate) struct Conn {
    /// Its number in the run, for the trace.
    pub number: usize,
    pub send: SendRequest<Bytes>,
    pub shared: Arc<Shared>,
}

/// What the connection's task and its users share.
pub(crate) struct Shared {
    /// Streams open now.
    inflight: AtomicUsize,
    /// The server's `SETTINGS_MAX_CONCURRENT_STREAMS`, as last seen.
    limit: AtomicUsize,
    /// The connection is gone (closed, `GOAWAY`, failed).
    closed: AtomicBool,
}

impl Shared {
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }
    fn closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
    fn load(&self) -> usize {
        self.inflight.load(Ordering::SeqCst)
    }
    fn has_room(&self) -> bool {
        self.load() < self.limit.load(Ordering::SeqCst).max(1)
    }
}

/// One stream's claim on its connection, given back when dropped.
pub(crate) struct Slot(Arc<Shared>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.inflight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Where a request goes.
pub(crate) enum Route {
    /// On this connection, holding a slot of it.
    Stream(Conn, Slot),
    /// To the HTTP/1.1 client.
    Http1,
}

impl Inner {
    /// Whether `origin` is known to speak HTTP/1.1 (its TLS handshake chose it).
    pub(crate) fn known_http1(&self, origin: &Origin) -> bool {
        let origins = self
            .connections
            .origins
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        origins
            .get(origin)
            .is_some_and(|s| s.try_lock().is_ok_and(|s| s.http1))
    }

    /// A connection to `origin` with room for one more stream, opened if none has room
    /// (at most [`MAX_CONNECTIONS`]); or [`Route::Http1`] for an origin that chose it.
    pub(crate) async fn route(
        &self,
        origin: &Origin,
        deadline: Option<Instant>,
    ) -> Result<Route, TransportFailure> {
        let state = {
            let mut origins = self
                .connections
                .origins
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            origins.entry(origin.clone()).or_default().clone()
        };
        // One opening at a time per origin: the others wait for it and share it.
        let mut state = state.lock().await;
        if state.http1 {
            return Ok(Route::Http1);
        }
        state.conns.retain(|c| !c.shared.closed());
        let least = state
            .conns
            .iter()
            .filter(|c| c.shared.has_room() || state.conns.len() >= MAX_CONNECTIONS)
            .min_by_key(|c| c.shared.load());
        if let Some(conn) = least {
            return Ok(claim(conn));
        }
        match self.open(origin, deadline).await? {
            Some(conn) => {
                let route = claim(&conn);
                state.conns.push(conn);
                Ok(route)
            }
            None => {
                state.http1 = true;
                Ok(Route::Http1)
            }
        }
    }

    /// Opens a connection to `origin`: `None` when its TLS handshake chose HTTP/1.1 and
    /// that is allowed.
    async fn open(
        &self,
        origin: &Origin,
        deadline: Option<Instant>,
    ) -> Result<Option<Conn>, TransportFailure> {
        let number = self.connections.opened.fetch_add(1, Ordering::SeqCst) + 1;
        let host = unbracketed(&origin.host);
        let idle = self.idle;
        let stream = tcp(host, origin.port, origin.proxy.as_deref(), deadline, idle).await?;
        if !origin.tls {
            self.trace(&format!(
                "* connection {number} to {}:{}: HTTP/2 with prior knowledge (h2c)",
                origin.host, origin.port
            ));
            return self.handshake(stream, number, deadline).await.map(Some);
        }
        let authority = format!("{}:{}", origin.host, origin.port);
        let config = self
            .per_host
            .iter()
            .find(|(h, _)| {
                h.eq_ignore_ascii_case(&authority) || h.eq_ignore_ascii_case(&origin.host)
            })
            .map_or(&self.tls, |(_, c)| c)
            .clone();
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|e| failure(TransportErrorKind::Certificate, Box::new(e)))?;
        let connector = tokio_rustls::TlsConnector::from(config);
        let stage = TimeoutStage::TlsHandshake;
        let no_h2 = || {
            Box::new(crate::NoHttp2 {
                authority: authority.clone(),
            })
        };
        let tls = bounded(connector.connect(name, stream), deadline, idle, stage)
            .await?
            .map_err(|e| {
                // A server that speaks none of the protocols offered may say so with an
                // alert: with HTTP/2 required, that is the answer.
                if self.http == Http::Http2 && e.to_string().contains("NoApplicationProtocol") {
                    return failure(TransportErrorKind::Declined, no_h2());
                }
                failure(tls_kind(&e), Box::new(e))
            })?;
        let h2 = tls.get_ref().1.alpn_protocol() == Some(tls::H2);
        if !h2 {
            if self.http == Http::Http2 {
                // Not sent: HTTP/2 was required of a server that does not speak it.
                return Err(failure(TransportErrorKind::Declined, no_h2()));
            }
            self.trace(&format!(
                "* {authority} chose HTTP/1.1 in its TLS handshake: its requests go over HTTP/1.1"
            ));
            return Ok(None);
        }
        self.trace(&format!(
            "* connection {number} to {authority}: HTTP/2 (ALPN h2)"
        ));
        self.handshake(tls, number, deadline).await.map(Some)
    }

    /// The HTTP/2 handshake over `io`, and the connection's task spawned.
    async fn handshake<T>(
        &self,
        io: T,
        number: usize,
        deadline: Option<Instant>,
    ) -> Result<Conn, TransportFailure>
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let handshake = h2::client::Builder::new()
            .enable_push(false)
            .initial_max_send_streams(INITIAL_STREAMS)
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .max_header_list_size(MAX_HEADERS)
            .handshake::<T, Bytes>(io);
        let (send, connection) = bounded(handshake, deadline, self.idle, TimeoutStage::Response)
            .await?
            .map_err(|e| {
                let kind = e.get_io().map_or(TransportErrorKind::Reset, |io| {
                    crate::connect::io_kind(io, TimeoutStage::Response)
                });
                failure(kind, Box::new(e))
            })?;
        let shared = Arc::new(Shared {
            inflight: AtomicUsize::new(0),
            limit: AtomicUsize::new(INITIAL_STREAMS),
            closed: AtomicBool::new(false),
        });
        let watch = shared.clone();
        let trace = self.trace.clone();
        let mut connection = Box::pin(connection);
        self.handle.spawn(async move {
            let ended = std::future::poll_fn(|cx| {
                let polled = Pin::new(&mut connection).poll(cx);
                let limit = connection.max_concurrent_send_streams();
                watch.limit.store(limit, Ordering::SeqCst);
                polled
            })
            .await;
            watch.close();
            if let Some(t) = trace {
                match ended {
                    Ok(()) => t(&format!("* connection {number} closed")),
                    Err(e) => t(&format!("* connection {number} ended: {e}")),
                }
            }
        });
        Ok(Conn {
            number,
            send,
            shared,
        })
    }
}

/// A slot of `conn`, counted at once.
fn claim(conn: &Conn) -> Route {
    conn.shared.inflight.fetch_add(1, Ordering::SeqCst);
    Route::Stream(conn.clone(), Slot(conn.shared.clone()))
}
