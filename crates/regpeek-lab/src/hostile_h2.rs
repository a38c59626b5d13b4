//! Hostile HTTP/2 servers (h2c, with prior knowledge: what is hostile here is HTTP/2
//! itself, not TLS), each on a listener of its own: the live tests check that regpeek
//! ends every run against them with an answer or a one-line error within its deadline.
//!
//! Every server but the raw ones serves the same small image for any repository and
//! tag: [`crate::hostile::MANIFEST`] and its config (`{}`).
//!
//! | mode | what the server does |
//! |---|---|
//! | `refuse-third` | `RST_STREAM(REFUSED_STREAM)` on every third request it gets |
//! | `goaway` | a graceful `GOAWAY(NO_ERROR)` on a connection once it has its third request: streams up to it answered, those above it refused |
//! | `reset-body` | a manifest's head and half its body, then `RST_STREAM(INTERNAL_ERROR)` |
//! | `one-stream` | `SETTINGS_MAX_CONCURRENT_STREAMS` 1 |
//! | `tiny-window` | a receive window of 1 byte that it never grows |
//! | `calm` | `RST_STREAM(ENHANCE_YOUR_CALM)` on every request |
//! | `push-flood` | 10,000 `PUSH_PROMISE`s (to a client that disabled push), then a 404 (raw frames) |
//! | `no-settings-ack` | never acknowledges the client's `SETTINGS`; answers 404 (raw frames) |
//!
//! [`HostileH2::http1_tls`] is not hostile: a TLS server whose ALPN offers only
//! `http/1.1`, serving the same image over HTTP/1.1 (the fallback from HTTP/2).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use h2::Reason;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::hostile::{MANIFEST, MAX_HOLD};

/// Every mode, in the table's order.
pub const MODES: [&str; 8] = [
    "refuse-third",
    "goaway",
    "reset-body",
    "one-stream",
    "tiny-window",
    "calm",
    "push-flood",
    "no-settings-ack",
];

/// The config blob the manifest names (`{}`).
const CONFIG: &[u8] = b"{}";

/// The running servers.
pub struct HostileH2 {
    addrs: BTreeMap<&'static str, SocketAddr>,
    /// Requests each mode's server has seen (streams opened by the client).
    seen: BTreeMap<&'static str, Arc<AtomicUsize>>,
    /// Connections each mode's server has accepted.
    accepted: BTreeMap<&'static str, Arc<AtomicUsize>>,
    /// The HTTP/1.1-only TLS server, when certificates were given.
    http1_tls: Option<SocketAddr>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl HostileH2 {
    /// Starts every mode on 127.0.0.1, on a runtime thread of its own.
    pub fn start() -> Result<HostileH2> {
        HostileH2::start_with_tls(None)
    }

    /// [`HostileH2::start`], and the HTTP/1.1-only TLS server with this certificate
    /// chain and key (PEM), when given.
    pub fn start_with_tls(tls: Option<(&[u8], &[u8])>) -> Result<HostileH2> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let mut addrs = BTreeMap::new();
        let mut seen = BTreeMap::new();
        let mut accepted = BTreeMap::new();
        for mode in MODES {
            let listener = runtime
                .block_on(TcpListener::bind("127.0.0.1:0"))
                .context("binding a hostile HTTP/2 server")?;
            addrs.insert(mode, listener.local_addr()?);
            let (s, a) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
            seen.insert(mode, s.clone());
            accepted.insert(mode, a.clone());
            runtime.spawn(accept(mode, listener, s, a));
        }
        let http1_tls = match tls {
            None => None,
            Some((chain, key)) => {
                let acceptor = acceptor(chain, key)?;
                let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0"))?;
                let addr = listener.local_addr()?;
                runtime.spawn(http1_over_tls(listener, acceptor));
                Some(addr)
            }
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let _ = runtime.block_on(stopped);
        });
        Ok(HostileH2 {
            addrs,
            seen,
            accepted,
            http1_tls,
            _stop: stop,
        })
    }

    /// `127.0.0.1:PORT` of the HTTP/1.1-only TLS server.
    pub fn http1_tls(&self) -> String {
        self.http1_tls
            .map(|a| a.to_string())
            .unwrap_or_else(|| panic!("started without a certificate"))
    }

    /// `127.0.0.1:PORT` of `mode`'s server.
    pub fn addr(&self, mode: &str) -> String {
        self.addrs
            .get(mode)
            .map(|a| a.to_string())
            .unwrap_or_else(|| panic!("no hostile HTTP/2 mode {mode:?}"))
    }

    /// Requests `mode`'s server has seen so far.
    pub fn requests(&self, mode: &str) -> usize {
        self.seen.get(mode).map_or(0, |s| s.load(Ordering::SeqCst))
    }

    /// Connections `mode`'s server has accepted so far.
    pub fn connections(&self, mode: &str) -> usize {
        self.accepted
            .get(mode)
            .map_or(0, |s| s.load(Ordering::SeqCst))
    }
}

async fn accept(
    mode: &'static str,
    listener: TcpListener,
    seen: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
) {
    while let Ok((stream, _)) = listener.accept().await {
        accepted.fetch_add(1, Ordering::SeqCst);
        let seen = seen.clone();
        tokio::spawn(async move {
            let served = async {
                if mode == "push-flood" || mode == "no-settings-ack" {
                    let _ = raw(mode, stream, &seen).await;
                } else {
                    let _ = serve(mode, stream, &seen).await;
                }
            };
            let _ = tokio::time::timeout(MAX_HOLD, served).await;
        });
    }
}

/// A connection served with the h2 crate's server side.
async fn serve(mode: &str, stream: TcpStream, seen: &AtomicUsize) -> Result<()> {
    let mut builder = h2::server::Builder::new();
    match mode {
        "one-stream" => {
            builder.max_concurrent_streams(1);
        }
        "tiny-window" => {
            builder.initial_window_size(1);
        }
        _ => {}
    }
    let mut conn = builder.handshake::<_, Bytes>(stream).await?;
    let mut on_this = 0;
    while let Some(request) = conn.accept().await {
        let (request, mut respond) = request?;
        let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
        on_this += 1;
        match mode {
            "refuse-third" if n.is_multiple_of(3) => {
                respond.send_reset(Reason::REFUSED_STREAM);
                continue;
            }
            "calm" => {
                respond.send_reset(Reason::ENHANCE_YOUR_CALM);
                continue;
            }
            _ => {}
        }
        let path = request.uri().path().to_owned();
        let head = request.method() == http::Method::HEAD;
        let reset_body = mode == "reset-body";
        tokio::spawn(async move {
            let _ = answer(&path, head, reset_body, &mut respond).await;
        });
        if mode == "goaway" && on_this == 3 {
            // As servers going away do: GOAWAY, the streams up to its last stream id
            // answered, those above it refused; the connection closes once they end.
            conn.graceful_shutdown();
        }
    }
    Ok(())
}

/// What a path is answered: `/v2/`, any manifest, the config; else 404.
fn route(path: &str) -> (u16, &'static str, &'static [u8]) {
    if path == "/v2/" {
        (200, "application/json", b"{}")
    } else if path.contains("/manifests/") {
        (200, "application/vnd.oci.image.manifest.v1+json", MANIFEST)
    } else if path.contains("/blobs/") {
        (200, "application/octet-stream", CONFIG)
    } else {
        (404, "application/json", b"{\"errors\":[]}")
    }
}

/// A body's `sha256:` digest.
fn digest_of(body: &[u8]) -> String {
    format!(
        "sha256:{}",
        data_encoding::HEXLOWER.encode(ring::digest::digest(&ring::digest::SHA256, body).as_ref())
    )
}

/// The image: `/v2/`, any manifest, the config.
async fn answer(
    path: &str,
    head: bool,
    reset_body: bool,
    respond: &mut h2::server::SendResponse<Bytes>,
) -> Result<()> {
    let (status, kind, body) = route(path);
    let digest = digest_of(body);
    let response = http::Response::builder()
        .status(status)
        .header("content-type", kind)
        .header("content-length", body.len())
        .header("docker-content-digest", digest)
        .body(())?;
    let mut send = respond.send_response(response, head)?;
    if head {
        return Ok(());
    }
    if reset_body && path.contains("/manifests/") {
        send.send_data(Bytes::copy_from_slice(&body[..body.len() / 2]), false)?;
        tokio::time::sleep(Duration::from_millis(20)).await;
        send.send_reset(Reason::INTERNAL_ERROR);
        return Ok(());
    }
    send.send_data(Bytes::copy_from_slice(body), true)?;
    Ok(())
}

/// HTTP/2 frame types and flags the raw servers write.
const SETTINGS: u8 = 0x4;
const HEADERS: u8 = 0x1;
const PUSH_PROMISE: u8 = 0x5;
const PING: u8 = 0x6;
const ACK: u8 = 0x1;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

/// One frame's bytes.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap_or(0).to_be_bytes();
    let mut out = vec![len[1], len[2], len[3], kind, flags];
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A server writing frames by hand, for what the h2 crate's server refuses to do.
async fn raw(mode: &str, mut stream: TcpStream, seen: &AtomicUsize) -> Result<()> {
    let mut preface = [0u8; 24];
    stream.read_exact(&mut preface).await?;
    stream.write_all(&frame(SETTINGS, 0, 0, &[])).await?;
    loop {
        let mut head = [0u8; 9];
        stream.read_exact(&mut head).await?;
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let (kind, flags) = (head[3], head[4]);
        let id = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; len.min(1 << 20)];
        stream.read_exact(&mut payload).await?;
        match kind {
            SETTINGS if flags & ACK == 0 && mode != "no-settings-ack" => {
                stream.write_all(&frame(SETTINGS, ACK, 0, &[])).await?;
            }
            PING if flags & ACK == 0 => {
                stream.write_all(&frame(PING, ACK, 0, &payload)).await?;
            }
            HEADERS => {
                seen.fetch_add(1, Ordering::SeqCst);
                if mode == "push-flood" {
                    for n in 0..10_000u32 {
                        let mut promise = (2 * (n + 1)).to_be_bytes().to_vec();
                        // :method GET, :scheme http, :path / (HPACK static table).
                        promise.extend_from_slice(&[0x82, 0x86, 0x84]);
                        if stream
                            .write_all(&frame(PUSH_PROMISE, END_HEADERS, id, &promise))
                            .await
                            .is_err()
                        {
                            return Ok(());
                        }
                    }
                }
                // :status 404 (HPACK static table), no body.
                let done = END_HEADERS | END_STREAM;
                stream.write_all(&frame(HEADERS, done, id, &[0x8d])).await?;
            }
            _ => {}
        }
    }
}

/// A TLS acceptor offering only `http/1.1` by ALPN.
fn acceptor(chain: &[u8], key: &[u8]) -> Result<tokio_rustls::TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain)
        .collect::<Result<_, _>>()
        .context("the server certificate")?;
    let key = PrivateKeyDer::from_pem_slice(key).context("the server key")?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// The image over HTTP/1.1 and TLS, keep-alive, one request at a time.
async fn http1_over_tls(listener: TcpListener, acceptor: tokio_rustls::TlsAcceptor) {
    while let Ok((stream, _)) = listener.accept().await {
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let served = async {
                let mut tls = acceptor.accept(stream).await?;
                loop {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if head.len() > 64 * 1024 || tls.read(&mut byte).await? == 0 {
                            return Ok::<(), anyhow::Error>(());
                        }
                        head.push(byte[0]);
                    }
                    let line = String::from_utf8_lossy(&head).into_owned();
                    let mut words = line.split_whitespace();
                    let method = words.next().unwrap_or_default().to_owned();
                    let path = words.next().unwrap_or_default().to_owned();
                    let (status, kind, body) = route(&path);
                    let mut answer = format!(
                        "HTTP/1.1 {status} {}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\ndocker-content-digest: {}\r\n\r\n",
                        if status == 200 { "OK" } else { "Not Found" },
                        body.len(),
                        digest_of(body)
                    )
                    .into_bytes();
                    if method != "HEAD" {
                        answer.extend_from_slice(body);
                    }
                    tls.write_all(&answer).await?;
                }
            };
            let _ = tokio::time::timeout(MAX_HOLD, served).await;
        });
    }
}
