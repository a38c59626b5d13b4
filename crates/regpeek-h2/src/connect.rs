//! Opening a connection: TCP (through a CONNECT proxy when the caller's rule names
//! one), TLS with ALPN, each step bounded and its failure classified for the core.

use std::future::Future;
use std::io;
use std::time::Duration;

use regpeek_proto::{TimeoutStage, TransportErrorKind};
use regpeek_ureq::TransportFailure;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The most bytes a proxy's answer to `CONNECT` may hold before its blank line.
const MAX_PROXY_HEAD: usize = 16 * 1024;

/// `fut` within the idle timeout and what is left of `deadline`: a timeout is `stage`'s.
pub(crate) async fn bounded<F: Future>(
    fut: F,
    deadline: Option<Instant>,
    idle: Duration,
    stage: TimeoutStage,
) -> Result<F::Output, TransportFailure> {
    let limit = match deadline {
        Some(d) => idle.min(d.saturating_duration_since(Instant::now())),
        None => idle,
    };
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| failure(TransportErrorKind::Timeout(stage), "timed out".into()))
}

/// A failure of `kind` with `source` underneath.
pub(crate) fn failure(
    kind: TransportErrorKind,
    source: Box<dyn std::error::Error + Send + Sync>,
) -> TransportFailure {
    TransportFailure { kind, source }
}

/// A TCP connection to `host:port`, directly or through `proxy` (`http://[user:pass@]host:port`).
pub(crate) async fn tcp(
    host: &str,
    port: u16,
    proxy: Option<&str>,
    deadline: Option<Instant>,
    idle: Duration,
) -> Result<TcpStream, TransportFailure> {
    let stage = TimeoutStage::Connect;
    let Some(proxy) = proxy else {
        let stream = bounded(TcpStream::connect((host, port)), deadline, idle, stage)
            .await?
            .map_err(|e| failure(connect_kind(&e), Box::new(e)))?;
        let _ = stream.set_nodelay(true);
        return Ok(stream);
    };
    let uri: http::Uri = proxy.parse().map_err(|_| {
        failure(
            TransportErrorKind::Connect,
            "the proxy's address does not parse".into(),
        )
    })?;
    let authority = uri.authority().ok_or_else(|| {
        failure(
            TransportErrorKind::Connect,
            "the proxy's address names no host".into(),
        )
    })?;
    let (proxy_host, proxy_port) = (unbracketed(authority.host()), authority.port_u16());
    // Named as the HTTP/1.1 client names it: its URL without `user:password@`.
    let shown_proxy = regpeek_proto::redact::url(&regpeek_ureq::trace::without_userinfo(proxy));
    let named = |e: io::Error| {
        let shown = format!("through the proxy {shown_proxy}: {e}");
        failure(connect_kind(&e), shown.into())
    };
    let mut stream = bounded(
        TcpStream::connect((proxy_host, proxy_port.unwrap_or(80))),
        deadline,
        idle,
        stage,
    )
    .await?
    .map_err(named)?;
    let _ = stream.set_nodelay(true);
    let target = match host.contains(':') {
        true => format!("[{host}]:{port}"),
        false => format!("{host}:{port}"),
    };
    let mut head = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some((userinfo, _)) = authority.as_str().rsplit_once('@') {
        use base64::Engine as _;
        let decoded = userinfo
            .split_once(':')
            .map(|(u, p)| format!("{}:{}", percent_decoded(u), percent_decoded(p)))
            .unwrap_or_else(|| format!("{}:", percent_decoded(userinfo)));
        let basic = base64::engine::general_purpose::STANDARD.encode(decoded);
        head.push_str(&format!("Proxy-Authorization: Basic {basic}\r\n"));
    }
    head.push_str("\r\n");
    let exchange = async {
        stream.write_all(head.as_bytes()).await?;
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        // Byte by byte: nothing of the tunnel's own bytes may be read here.
        while !got.ends_with(b"\r\n\r\n") {
            if got.len() > MAX_PROXY_HEAD || stream.read(&mut byte).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the proxy closed the connection or sent an endless answer to CONNECT",
                ));
            }
            got.push(byte[0]);
        }
        Ok(got)
    };
    let got = bounded(exchange, deadline, idle, stage)
        .await?
        .map_err(named)?;
    let status = got.split(|b| *b == b' ').nth(1).unwrap_or_default();
    if !status.starts_with(b"2") {
        let line = String::from_utf8_lossy(got.split(|b| *b == b'\r').next().unwrap_or_default())
            .into_owned();
        return Err(named(io::Error::other(format!(
            "the proxy refused the tunnel: {}",
            line.chars().take(200).collect::<String>()
        ))));
    }
    Ok(stream)
}

/// A host as a socket address wants it: `[::1]` as `::1`.
pub(crate) fn unbracketed(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// `%XX` escapes of a proxy URL's user or password, decoded.
fn percent_decoded(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The kind of a failed TCP connect.
fn connect_kind(e: &io::Error) -> TransportErrorKind {
    // The system resolver's failure (getaddrinfo) comes as an uncategorised I/O error:
    // its message is all that tells it.
    if e.to_string().contains("failed to lookup address") {
        return TransportErrorKind::Resolve;
    }
    match e.kind() {
        io::ErrorKind::TimedOut => TransportErrorKind::Timeout(TimeoutStage::Connect),
        io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof => TransportErrorKind::Reset,
        _ => TransportErrorKind::Connect,
    }
}

/// The kind of a failed TLS handshake: rustls' own error when there is one.
pub(crate) fn tls_kind(e: &io::Error) -> TransportErrorKind {
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return regpeek_ureq::classify_tls(tls);
    }
    match e.kind() {
        io::ErrorKind::InvalidData => TransportErrorKind::Tls,
        io::ErrorKind::TimedOut => TransportErrorKind::Timeout(TimeoutStage::TlsHandshake),
        _ => TransportErrorKind::Reset,
    }
}

/// The kind of an I/O failure on an open connection, at `stage`: a TLS alert after the
/// handshake (TLS 1.3 servers refuse a missing client certificate then) is rustls'.
pub(crate) fn io_kind(e: &io::Error, stage: TimeoutStage) -> TransportErrorKind {
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return regpeek_ureq::classify_tls(tls);
    }
    // h2 keeps an I/O error's kind and text only: rustls' own words tell its alerts.
    let text = e.to_string();
    if text.contains("received fatal alert") {
        return TransportErrorKind::TlsRefused;
    }
    if text.contains("invalid peer certificate") {
        return TransportErrorKind::Certificate;
    }
    match e.kind() {
        io::ErrorKind::TimedOut => TransportErrorKind::Timeout(stage),
        _ => TransportErrorKind::Reset,
    }
}
