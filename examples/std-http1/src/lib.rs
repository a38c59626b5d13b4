//! A driver for the regpeek core written from its docs alone: blocking HTTP/1.1 over
//! `std::net::TcpStream`, plain http, no HTTP crate. It follows the checklist in
//! `regpeek_proto`'s "Writing a driver", item by item (the numbers below are its).
//!
//! ```no_run
//! use regpeek_proto::{Flow, Goal, Options, Reference, TokenCache};
//! let mut options = Options::new(Goal::Digest(None));
//! options.tls = false; // this driver speaks plain http only (item 10)
//! options.seed = regpeek_std_http1_example::seed();
//! let flow = Flow::new(Reference::parse("localhost:5000/app:v1")?, options, TokenCache::default());
//! let (outcome, _tokens) = regpeek_std_http1_example::run(flow, None);
//! println!("{}", outcome?.into_image()?.digest);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant, SystemTime};

use regpeek_proto::{
    Action, Error, Flow, IDLE_TIMEOUT, Outcome, TimeoutStage, TokenCache, TransportErrorKind, http,
    redact,
};

/// The longest response head read (status line and headers).
const MAX_HEAD: usize = 64 * 1024;

/// A line of trace, already redacted (item 7).
pub type Trace<'a> = Option<&'a mut dyn FnMut(&str)>;

/// Runs one flow to its end: the whole driver loop. Hand the returned `TokenCache`
/// to the next flow (item 9).
pub fn run(mut flow: Flow, mut trace: Trace<'_>) -> (Result<Outcome, Error>, TokenCache) {
    loop {
        let now = SystemTime::now();
        match flow.poll_action(now) {
            Action::Done(result) => return (result, flow.tokens().clone()),
            Action::Wait(until) => {
                std::thread::sleep(until.duration_since(SystemTime::now()).unwrap_or_default());
            }
            Action::Send(send) => {
                if let Some(t) = trace.as_mut() {
                    t(&format!(
                        "> {} {}",
                        send.request.method(),
                        redact::url(&send.request.uri().to_string())
                    ));
                }
                // Item 5: the request gets at most the time the flow has left.
                let budget = send.time_left(now);
                match perform(&send.request, send.max_body, budget) {
                    // Item 1: every status goes to the flow as it is (a 3xx too: the
                    // flow follows redirects itself).
                    Ok(response) => {
                        if let Some(t) = trace.as_mut() {
                            t(&format!("< {}", response.status()));
                        }
                        flow.handle_response(SystemTime::now(), response);
                    }
                    // Item 6: the kind for the flow, the driver's own error kept.
                    Err(Failure { kind, error }) => {
                        flow.handle_transport_error_with(SystemTime::now(), kind, error);
                    }
                }
            }
        }
    }
}

/// A seed for the flow's retry jitter from std alone (item 8): `RandomState` is
/// randomly keyed per process.
pub fn seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(SystemTime::now())
}

/// A request that failed below HTTP: its kind for the flow, and the error itself.
#[derive(Debug)]
pub struct Failure {
    /// What the flow is told.
    pub kind: TransportErrorKind,
    /// What happened.
    pub error: io::Error,
}

/// Item 6's table: an I/O error, and the stage it happened in, as the flow's kind.
pub fn kind_of(e: &io::Error, stage: TimeoutStage) -> TransportErrorKind {
    use io::ErrorKind as E;
    match e.kind() {
        E::TimedOut | E::WouldBlock => TransportErrorKind::Timeout(stage),
        E::ConnectionRefused | E::HostUnreachable | E::NetworkUnreachable | E::AddrNotAvailable
            if stage == TimeoutStage::Connect =>
        {
            TransportErrorKind::Connect
        }
        E::ConnectionReset
        | E::ConnectionAborted
        | E::BrokenPipe
        | E::UnexpectedEof
        | E::NotConnected => TransportErrorKind::Reset,
        _ => TransportErrorKind::Other,
    }
}

/// The time left before `end` (none: no deadline), bounded by the idle timeout.
fn patience(end: Option<Instant>, stage: TimeoutStage) -> Result<Duration, Failure> {
    let left = end.map_or(IDLE_TIMEOUT, |e| {
        e.saturating_duration_since(Instant::now())
    });
    if left.is_zero() {
        return Err(failure(io::ErrorKind::TimedOut.into(), stage));
    }
    Ok(left.min(IDLE_TIMEOUT))
}

fn failure(error: io::Error, stage: TimeoutStage) -> Failure {
    Failure {
        kind: kind_of(&error, stage),
        error,
    }
}

/// Performs one request: plain http, one connection, `Connection: close`; reads at
/// most `max_body` body bytes and reports a longer body as too large (item 4).
pub fn perform(
    request: &http::Request<Vec<u8>>,
    max_body: usize,
    budget: Option<Duration>,
) -> Result<http::Response<Vec<u8>>, Failure> {
    let end = budget.map(|b| Instant::now() + b);
    let uri = request.uri();
    if uri.scheme_str() != Some("http") {
        let error = io::Error::new(io::ErrorKind::Unsupported, "this driver has no TLS");
        return Err(Failure {
            kind: TransportErrorKind::NoTls,
            error,
        });
    }
    let (Some(host), Some(authority)) = (uri.host(), uri.authority()) else {
        let error = io::Error::new(io::ErrorKind::InvalidInput, "no host in the URL");
        return Err(failure(error, TimeoutStage::Connect));
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<_> = (host, uri.port_u16().unwrap_or(80))
        .to_socket_addrs()
        .map_err(|error| Failure {
            kind: TransportErrorKind::Resolve,
            error,
        })?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host has no address");
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, patience(end, TimeoutStage::Connect)?) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let mut stream = stream.ok_or_else(|| failure(last, TimeoutStage::Connect))?;

    // Item 2: Host, Content-Length and User-Agent are the driver's.
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n",
        request.method(),
        uri.path_and_query().map_or("/", |p| p.as_str())
    );
    if !request.headers().contains_key(http::header::USER_AGENT) {
        head.push_str("User-Agent: regpeek-std-http1-example\r\n");
    }
    if !request.body().is_empty() || request.method() == http::Method::POST {
        head.push_str(&format!("Content-Length: {}\r\n", request.body().len()));
    }
    for (name, value) in request.headers() {
        head.push_str(&format!(
            "{name}: {}\r\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    head.push_str("\r\n");
    let stage = TimeoutStage::Response;
    stream
        .set_write_timeout(Some(patience(end, stage)?))
        .map_err(|e| failure(e, stage))?;
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(request.body()))
        .map_err(|e| failure(e, stage))?;

    let mut reader = BufReader::new(stream);
    let (status, headers) = read_head(&mut reader, end)?;
    let mut response = http::Response::builder().status(status);
    for (name, value) in &headers {
        response = response.header(name.as_str(), value.as_str());
    }
    let header = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.trim())
    };
    // Item 3: no body for HEAD (nor for 1xx, 204, 304).
    let bodiless =
        request.method() == http::Method::HEAD || status < 200 || status == 204 || status == 304;
    let body = if bodiless {
        Vec::new()
    } else if header("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        read_chunked(&mut reader, max_body, end)?
    } else if let Some(len) = header("content-length") {
        let len: u64 = len.parse().map_err(|_| {
            let e = io::Error::new(io::ErrorKind::InvalidData, "bad Content-Length");
            failure(e, TimeoutStage::Body)
        })?;
        if len > max_body as u64 {
            // Item 4: too large, said without reading (or allocating) it.
            return Err(over_the_cap());
        }
        read_some(&mut reader, len as usize, end, true)?
    } else {
        let body = read_some(&mut reader, max_body.saturating_add(1), end, false)?;
        too_large(body, max_body)?
    };
    response.body(body).map_err(|e| {
        let e = io::Error::new(io::ErrorKind::InvalidData, e.to_string());
        failure(e, TimeoutStage::Response)
    })
}

/// The status and headers, at most [`MAX_HEAD`] bytes of them.
fn read_head(
    reader: &mut BufReader<TcpStream>,
    end: Option<Instant>,
) -> Result<(u16, Vec<(String, String)>), Failure> {
    let stage = TimeoutStage::Response;
    let mut lines = Vec::new();
    let mut total = 0;
    loop {
        let line = read_line(reader, end, stage, MAX_HEAD - total + 1)?;
        total += line.len();
        if total > MAX_HEAD {
            let e = io::Error::new(io::ErrorKind::InvalidData, "response head too large");
            return Err(failure(e, stage));
        }
        let line = String::from_utf8_lossy(&line).trim_end().to_owned();
        if line.is_empty() {
            break;
        }
        lines.push(line);
    }
    let bad = |what: &str| {
        failure(
            io::Error::new(io::ErrorKind::InvalidData, what.to_owned()),
            stage,
        )
    };
    let status_line = lines.first().ok_or_else(|| bad("no status line"))?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let headers = lines[1..]
        .iter()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok((status, headers))
}

/// Reads `want` bytes (`exact`: all of them, else up to EOF), within the deadline.
fn read_some(
    reader: &mut BufReader<TcpStream>,
    want: usize,
    end: Option<Instant>,
    exact: bool,
) -> Result<Vec<u8>, Failure> {
    let stage = TimeoutStage::Body;
    let mut out = Vec::with_capacity(want.min(1 << 20));
    let mut buf = [0u8; 16 * 1024];
    while out.len() < want {
        reader
            .get_ref()
            .set_read_timeout(Some(patience(end, stage)?))
            .map_err(|e| failure(e, stage))?;
        let room = (want - out.len()).min(buf.len());
        match reader.read(&mut buf[..room]) {
            Ok(0) if exact => return Err(failure(io::ErrorKind::UnexpectedEof.into(), stage)),
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(failure(e, stage)),
        }
    }
    Ok(out)
}

/// A chunked body, refused as too large past `max_body`.
fn read_chunked(
    reader: &mut BufReader<TcpStream>,
    max_body: usize,
    end: Option<Instant>,
) -> Result<Vec<u8>, Failure> {
    let stage = TimeoutStage::Body;
    let bad = |what: &str| {
        failure(
            io::Error::new(io::ErrorKind::InvalidData, what.to_owned()),
            stage,
        )
    };
    let mut body = Vec::new();
    loop {
        let line = read_some_line(reader, end)?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| bad("bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the blank line.
            while !read_some_line(reader, end)?.is_empty() {}
            return Ok(body);
        }
        if body.len().saturating_add(size) > max_body {
            return Err(over_the_cap());
        }
        body.extend(read_some(reader, size, end, true)?);
        read_some_line(reader, end)?;
    }
}

fn read_some_line(
    reader: &mut BufReader<TcpStream>,
    end: Option<Instant>,
) -> Result<String, Failure> {
    let line = read_line(reader, end, TimeoutStage::Body, 4096)?;
    Ok(String::from_utf8_lossy(&line).trim_end().to_owned())
}

/// One line, its `\n` included, of at most `limit` bytes, within the deadline; the
/// end of the stream before its first byte is an error.
fn read_line(
    reader: &mut BufReader<TcpStream>,
    end: Option<Instant>,
    stage: TimeoutStage,
    limit: usize,
) -> Result<Vec<u8>, Failure> {
    reader
        .get_ref()
        .set_read_timeout(Some(patience(end, stage)?))
        .map_err(|e| failure(e, stage))?;
    let mut line = Vec::new();
    let n = reader
        .by_ref()
        .take(limit as u64)
        .read_until(b'\n', &mut line)
        .map_err(|e| failure(e, stage))?;
    if n == 0 {
        return Err(failure(io::ErrorKind::UnexpectedEof.into(), stage));
    }
    Ok(line)
}

/// A body read to its end: too large when it went past `max_body`.
fn too_large(body: Vec<u8>, max_body: usize) -> Result<Vec<u8>, Failure> {
    if body.len() > max_body {
        return Err(over_the_cap());
    }
    Ok(body)
}

/// A body longer than the flow allows (item 4), said without its bytes.
fn over_the_cap() -> Failure {
    Failure {
        kind: TransportErrorKind::TooLarge,
        error: io::Error::new(io::ErrorKind::FileTooLarge, "body over the cap"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_map_to_the_flows_kinds() {
        use io::ErrorKind as E;
        let k = |e: E, s| kind_of(&e.into(), s);
        assert_eq!(
            k(E::ConnectionRefused, TimeoutStage::Connect),
            TransportErrorKind::Connect
        );
        assert_eq!(
            k(E::TimedOut, TimeoutStage::Connect),
            TransportErrorKind::Timeout(TimeoutStage::Connect)
        );
        assert_eq!(
            k(E::WouldBlock, TimeoutStage::Body),
            TransportErrorKind::Timeout(TimeoutStage::Body)
        );
        assert_eq!(
            k(E::ConnectionReset, TimeoutStage::Body),
            TransportErrorKind::Reset
        );
        assert_eq!(
            k(E::UnexpectedEof, TimeoutStage::Response),
            TransportErrorKind::Reset
        );
        assert_eq!(
            k(E::InvalidData, TimeoutStage::Response),
            TransportErrorKind::Other
        );
    }

    #[test]
    fn seeds_differ() {
        assert_ne!(seed(), seed());
    }
}
