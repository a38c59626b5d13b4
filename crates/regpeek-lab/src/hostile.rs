//! A hostile registry: one repository name per misbehaviour, for the live tests that
//! check regpeek ends every command with a one-line error within its deadline.
//!
//! It runs on threads of the test process, on listeners it binds itself (no port is
//! picked and released). Every connection gets one answer and is closed; slow answers
//! give up after [`MAX_HOLD`], so nothing outlives a test run for long.
//!
//! | repository | what the server does |
//! |---|---|
//! | `silent` | reads the request, never answers |
//! | `silent-token` | a bearer challenge whose token server never answers |
//! | `drip` | sends the response head one byte a second |
//! | `drip-body` | sends the head, then the body one byte a second |
//! | `endless-headers` | sends header lines without end |
//! | `huge` | a manifest of 1 GiB (`Content-Length`), streamed |
//! | `esc` | a 404 whose error message holds ESC, BEL and bidi controls |
//! | `expires` | bearer auth whose token reply says `expires_in: u64::MAX` |
//! | `reset` | the head and 10 of 1000 body bytes, then closes |
//! | `slow-retry` | 503 with `Retry-After: 20` |
//! | `leaky` | bearer auth whose token reply holds four secrets ([`LEAKY_SECRETS`]), a manifest answer that echoes the request's `Authorization` in a header and a cookie, and a config blob behind a `307` to a signed URL (`X-Amz-Signature`, `sig`, `token` in the query) |
//! | `limited` | `429` with `Retry-After: 3600` |
//! | `limits` | the manifest, with Docker Hub's `ratelimit-limit`, `ratelimit-remaining` and `docker-ratelimit-source` headers |
//! | `busy` | a 5 s spell of 429 (`Retry-After: 5`) begun by the tag `trigger`; the tag `slow` answered 2 s into it; the manifest otherwise |
//!
//! [`Hostile::never_accepts`] is a listener whose accept queue is full: connecting
//! to it hangs.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// The longest a connection is held open by a slow misbehaviour.
pub const MAX_HOLD: Duration = Duration::from_secs(60);

/// A running hostile registry.
pub struct Hostile {
    addr: SocketAddr,
    never: SocketAddr,
    // Kept open (and never accepted) so that its backlog stays full.
    _never_listener: TcpListener,
    _queue: Vec<TcpStream>,
}

/// The manifest the `expires` repository serves once authorised.
pub const MANIFEST: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;

impl Hostile {
    /// Starts the server on 127.0.0.1.
    pub fn start() -> Result<Hostile> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the hostile server")?;
        let addr = listener.local_addr()?;
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let _ = serve(stream, addr);
                });
            }
        });
        let never_listener = TcpListener::bind("127.0.0.1:0")?;
        let never = never_listener.local_addr()?;
        // Fill its accept queue: once a connect times out, later ones hang too.
        let mut queue = Vec::new();
        for _ in 0..4096 {
            match TcpStream::connect_timeout(&never, Duration::from_millis(200)) {
                Ok(s) => queue.push(s),
                Err(_) => break,
            }
        }
        Ok(Hostile {
            addr,
            never,
            _never_listener: never_listener,
            _queue: queue,
        })
    }

    /// `127.0.0.1:PORT` of the misbehaving registry.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// `127.0.0.1:PORT` of a server that never accepts a connection.
    pub fn never_accepts(&self) -> String {
        self.never.to_string()
    }
}

/// Reads the request head (at most 64 KiB); `(method, path, Authorization)`.
fn read_head(stream: &mut TcpStream) -> Result<(String, String, Option<String>)> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") && buf.len() < 64 * 1024 {
        if stream.read(&mut byte)? == 0 {
            break;
        }
        buf.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&buf);
    let mut words = text.split_whitespace();
    let method = words.next().unwrap_or_default().to_owned();
    let path = words.next().unwrap_or_default().to_owned();
    let auth = text.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("authorization")
            .then(|| value.trim().to_owned())
    });
    Ok((method, path, auth))
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Result<()> {
    let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()?;
    Ok(())
}

/// A 200 with [`MANIFEST`] and its digest (for `HEAD`, the head alone).
fn serve_manifest(stream: &mut TcpStream, method: &str, content_type: &str) -> Result<()> {
    serve_manifest_with(stream, method, content_type, "")
}

/// [`serve_manifest`], with more header lines (each ending in CRLF).
fn serve_manifest_with(
    stream: &mut TcpStream,
    method: &str,
    content_type: &str,
    extra: &str,
) -> Result<()> {
    let digest = crate::image::sha256(MANIFEST);
    let body: &[u8] = if method == "HEAD" { b"" } else { MANIFEST };
    let head = format!(
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: {content_type}\r\nDocker-Content-Digest: {digest}\r\n{extra}Content-Length: {}\r\n\r\n",
        MANIFEST.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    Ok(())
}

/// Keeps the connection open and says nothing, until the client leaves or
/// [`MAX_HOLD`] passes.
fn silent(stream: &mut TcpStream) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < MAX_HOLD {
        stream.set_read_timeout(Some(Duration::from_millis(200)))?;
        match stream.read(&mut [0u8; 1]) {
            Ok(0) => break,
            _ => continue,
        }
    }
    Ok(())
}

/// Writes `bytes` one a second, until done, the client leaves or [`MAX_HOLD`] passes.
fn drip(stream: &mut TcpStream, bytes: &[u8]) -> Result<()> {
    let start = Instant::now();
    for b in bytes {
        if start.elapsed() > MAX_HOLD {
            break;
        }
        stream.write_all(&[*b])?;
        stream.flush()?;
        std::thread::sleep(Duration::from_secs(1));
    }
    Ok(())
}

/// Every secret `leaky` hands out or echoes: none may appear in a trace, an error or a
/// recording.
pub const LEAKY_SECRETS: [&str; 7] = [
    "LEAKY-TOKEN-0d1f",
    "LEAKY-ACCESS-TOKEN-5e2a",
    "LEAKY-REFRESH-TOKEN-77c3",
    "LEAKY-ID-TOKEN-9b41",
    "LEAKY-SIGNATURE-c0de",
    "LEAKY-QUERY-TOKEN-f00d",
    "LEAKY-COOKIE-beef",
];

/// Serves the `leaky` repository and its token server.
fn leaky(
    stream: &mut TcpStream,
    addr: SocketAddr,
    method: &str,
    path: &str,
    authorization: Option<&str>,
) -> Result<()> {
    let [token, access, refresh, id, signature, query_token, cookie] = LEAKY_SECRETS;
    if path.starts_with("/token-leaky") {
        let body = format!(
            r#"{{"token":"{token}","access_token":"{access}","refresh_token":"{refresh}","id_token":"{id}","expires_in":300}}"#
        );
        return respond(
            stream,
            "200 OK",
            &[("Content-Type", "application/json".into())],
            body.as_bytes(),
        );
    }
    if path.starts_with("/cdn-leaky") {
        return respond(
            stream,
            "200 OK",
            &[("Content-Type", "application/octet-stream".into())],
            b"{}",
        );
    }
    let Some(authorization) = authorization else {
        return respond(
            stream,
            "401 Unauthorized",
            &[(
                "WWW-Authenticate",
                format!(
                    r#"Bearer realm="http://{addr}/token-leaky",service="hostile",scope="repository:leaky:pull""#
                ),
            )],
            b"",
        );
    };
    let echo = [
        ("X-Echo-Authorization", authorization.to_owned()),
        ("Set-Cookie", format!("session={cookie}; HttpOnly")),
    ];
    if path.contains("/blobs/") {
        let location = format!(
            "http://{addr}/cdn-leaky/blob?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature={signature}&sig={signature}&token={query_token}"
        );
        let mut headers = echo.to_vec();
        headers.push(("Location", location));
        return respond(stream, "307 Temporary Redirect", &headers, b"");
    }
    let digest = crate::image::sha256(MANIFEST);
    let mut headers = echo.to_vec();
    headers.push((
        "Content-Type",
        "application/vnd.oci.image.manifest.v1+json".into(),
    ));
    headers.push(("Docker-Content-Digest", digest));
    let body: &[u8] = if method == "HEAD" { b"" } else { MANIFEST };
    if method == "HEAD" {
        // The head of a GET: its length, no body.
        let mut head = "HTTP/1.1 200 OK\r\nConnection: close\r\n".to_owned();
        for (k, v) in &headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", MANIFEST.len()));
        stream.write_all(head.as_bytes())?;
        return Ok(());
    }
    respond(stream, "200 OK", &headers, body)
}

/// When `busy`'s one spell began.
static BUSY_SINCE: std::sync::Mutex<Option<Instant>> = std::sync::Mutex::new(None);
/// How long `busy` answers 429, and the `Retry-After` it gives.
pub const BUSY_SPELL: Duration = Duration::from_secs(5);
/// How long after the spell began `busy` answers a request for the tag `slow`.
pub const BUSY_SLOW: Duration = Duration::from_secs(2);

fn busy_since() -> Option<Instant> {
    BUSY_SINCE.lock().ok().and_then(|s| *s)
}
/// How many requests `busy` refused with 429.
pub static BUSY_REFUSED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn serve(mut stream: TcpStream, addr: SocketAddr) -> Result<()> {
    let (method, path, authorization) = read_head(&mut stream)?;
    let auth = authorization.is_some();
    if path.starts_with("/token-leaky") || path.starts_with("/cdn-leaky") {
        return leaky(&mut stream, addr, &method, &path, None);
    }
    if path.starts_with("/token-silent") {
        return silent(&mut stream);
    }
    if path.starts_with("/token") {
        let body = br#"{"token":"hostile-token","expires_in":18446744073709551615,"issued_at":"2024-01-02T03:04:05+9999999999999999:00"}"#;
        return respond(
            &mut stream,
            "200 OK",
            &[("Content-Type", "application/json".into())],
            body,
        );
    }
    let name = path
        .strip_prefix("/v2/")
        .and_then(|p| p.split('/').next())
        .unwrap_or_default();
    let manifest_type = (
        "Content-Type",
        "application/vnd.oci.image.manifest.v1+json".to_owned(),
    );
    match name {
        "silent" => silent(&mut stream),
        // A registry whose token server never answers.
        "silent-token" => respond(
            &mut stream,
            "401 Unauthorized",
            &[(
                "WWW-Authenticate",
                format!(r#"Bearer realm="http://{addr}/token-silent",service="hostile",scope="repository:silent-token:pull""#),
            )],
            b"",
        ),
        "drip" => drip(
            &mut stream,
            b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 2\r\n\r\n{}",
        ),
        "drip-body" => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 4096\r\n\r\n";
            stream.write_all(head.as_bytes())?;
            drip(&mut stream, &[b' '; 4096])
        }
        "endless-headers" => {
            stream.write_all(b"HTTP/1.1 200 OK\r\n")?;
            let line = format!("X-Junk: {}\r\n", "a".repeat(1000));
            let start = Instant::now();
            while start.elapsed() < MAX_HOLD {
                stream.write_all(line.as_bytes())?;
            }
            Ok(())
        }
        "huge" => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 1073741824\r\n\r\n";
            stream.write_all(head.as_bytes())?;
            let chunk = [b' '; 64 * 1024];
            for _ in 0..(1 << 14) {
                stream.write_all(&chunk)?;
            }
            Ok(())
        }
        "esc" => {
            let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"\u001b[31mred\u001b]0;pwned\u0007 and \u202etxt.exe","detail":null}]}"#;
            respond(&mut stream, "404 Not Found", &[("Content-Type", "application/json".into())], body)
        }
        "expires" if !auth => respond(
            &mut stream,
            "401 Unauthorized",
            &[(
                "WWW-Authenticate",
                format!(r#"Bearer realm="http://{addr}/token",service="hostile",scope="repository:expires:pull""#),
            )],
            b"",
        ),
        "expires" => serve_manifest(&mut stream, &method, &manifest_type.1),
        "reset" => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 1000\r\n\r\n";
            stream.write_all(head.as_bytes())?;
            stream.write_all(&[b' '; 10])?;
            stream.flush()?;
            let _ = stream.shutdown(std::net::Shutdown::Both);
            Ok(())
        }
        "busy" => {
            // One busy spell of BUSY_SPELL, started by the first request for the tag
            // `trigger`; every request in it gets 429 with a matching Retry-After.
            // The tag `slow` is answered (200) only BUSY_SLOW after the spell began: a
            // worker that asks it learns of the spell from another worker's 429
            // and must hold back instead of asking again inside the spell.
            let tag = path.rsplit('/').next().unwrap_or_default();
            if tag == "slow" {
                let start = Instant::now();
                while busy_since().is_none() && start.elapsed() < MAX_HOLD {
                    std::thread::sleep(Duration::from_millis(20));
                }
                std::thread::sleep(BUSY_SLOW);
            }
            let busy = {
                let mut since = BUSY_SINCE.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
                match *since {
                    // `slow` was asked before the spell: it is answered.
                    _ if tag == "slow" => false,
                    Some(t) => t.elapsed() < BUSY_SPELL,
                    None if tag == "trigger" => {
                        *since = Some(Instant::now());
                        true
                    }
                    None => false,
                }
            };
            if busy {
                BUSY_REFUSED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return respond(
                    &mut stream,
                    "429 Too Many Requests",
                    &[("Retry-After", BUSY_SPELL.as_secs().to_string())],
                    b"",
                );
            }
            serve_manifest(&mut stream, &method, &manifest_type.1)
        }
        "leaky" => leaky(&mut stream, addr, &method, &path, authorization.as_deref()),
        // Docker Hub's pull-limit headers, on every manifest answer (HEAD too).
        "limits" => serve_manifest_with(
            &mut stream,
            &method,
            &manifest_type.1,
            "ratelimit-limit: 100;w=21600\r\nratelimit-remaining: 76;w=21600\r\ndocker-ratelimit-source: 192.0.2.7\r\n",
        ),
        "limited" => respond(
            &mut stream,
            "429 Too Many Requests",
            &[("Retry-After", "3600".into())],
            b"",
        ),
        "slow-retry" => respond(
            &mut stream,
            "503 Service Unavailable",
            &[("Retry-After", "20".into())],
            b"",
        ),
        _ => respond(&mut stream, "404 Not Found", &[], b""),
    }
}
