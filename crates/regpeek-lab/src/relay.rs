//! A delay relay: a TCP forwarder that holds every chunk for half a round trip in each
//! direction, standing in for a WAN link (this kernel has no netem). It counts the
//! connections it accepts and the HTTP requests that cross it, so benchmarks can report
//! round trips and requests of any client, regpeek or not.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What crossed a relay.
#[derive(Debug, Default)]
pub struct Counters {
    connections: AtomicU64,
    requests: AtomicU64,
    manifest_heads: AtomicU64,
    manifest_gets: AtomicU64,
    /// Requests carrying `Authorization: Basic` (a password), and any `Authorization`.
    basic: AtomicU64,
    authorized: AtomicU64,
    /// Bytes the servers sent (heads and bodies).
    bytes_down: AtomicU64,
}

impl Counters {
    /// `(connections, requests)` since the last reset.
    pub fn read(&self) -> (u64, u64) {
        (
            self.connections.load(Ordering::Relaxed),
            self.requests.load(Ordering::Relaxed),
        )
    }

    /// `(HEAD, GET)` requests for manifests since the last reset: what Docker Hub
    /// does not count as a pull, and what it does.
    pub fn manifests(&self) -> (u64, u64) {
        (
            self.manifest_heads.load(Ordering::Relaxed),
            self.manifest_gets.load(Ordering::Relaxed),
        )
    }

    /// `(Basic, any)`: requests since the last reset that carried `Authorization:
    /// Basic` (a password), and those that carried an `Authorization` of any scheme.
    pub fn authorizations(&self) -> (u64, u64) {
        (
            self.basic.load(Ordering::Relaxed),
            self.authorized.load(Ordering::Relaxed),
        )
    }

    /// Bytes the servers sent since the last reset: what a client fetched.
    pub fn bytes_down(&self) -> u64 {
        self.bytes_down.load(Ordering::Relaxed)
    }

    /// Starts counting from zero.
    pub fn reset(&self) {
        for c in [
            &self.connections,
            &self.requests,
            &self.manifest_heads,
            &self.manifest_gets,
            &self.basic,
            &self.authorized,
            &self.bytes_down,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }

    /// Counts the request lines in a chunk a client sent.
    fn count(&self, chunk: &[u8]) {
        for line in chunk.split(|b| *b == b'\n') {
            let lower = line.to_ascii_lowercase();
            if let Some(value) = lower.strip_prefix(b"authorization:") {
                self.authorized.fetch_add(1, Ordering::Relaxed);
                if value.trim_ascii_start().starts_with(b"basic ") {
                    self.basic.fetch_add(1, Ordering::Relaxed);
                }
                continue;
            }
            let Some(line) = line.strip_suffix(b" HTTP/1.1\r") else {
                continue;
            };
            self.requests.fetch_add(1, Ordering::Relaxed);
            let line = String::from_utf8_lossy(line);
            let mut words = line.split(' ');
            let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
            if path.contains("/manifests/") {
                match method {
                    "HEAD" => self.manifest_heads.fetch_add(1, Ordering::Relaxed),
                    "GET" => self.manifest_gets.fetch_add(1, Ordering::Relaxed),
                    _ => 0,
                };
            }
        }
    }
}

/// A running relay.
pub struct Relay {
    /// Where clients connect.
    pub addr: SocketAddr,
    /// What it has seen.
    pub counters: Arc<Counters>,
}

/// Forwards connections from `listener` to `target`, each chunk held `rtt / 2` each
/// way. Runs on threads until the process ends.
pub fn start(listener: TcpListener, target: SocketAddr, rtt: Duration) -> std::io::Result<Relay> {
    let addr = listener.local_addr()?;
    let counters = Arc::new(Counters::default());
    let c = counters.clone();
    let one_way = rtt / 2;
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            c.connections.fetch_add(1, Ordering::Relaxed);
            let Ok(server) = TcpStream::connect(target) else {
                continue;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                continue;
            };
            pump(client, server, one_way, Some(c.clone()), None);
            pump(s2, c2, one_way, None, Some(c.clone()));
        }
    });
    Ok(Relay { addr, counters })
}

/// Copies `from` to `to`, delivering each chunk `delay` after it was read (so a stream
/// keeps its throughput and only gains latency). Counts request lines (`requests`), or
/// the bytes that pass (`bytes`), when asked.
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    delay: Duration,
    count: Option<Arc<Counters>>,
    bytes: Option<Arc<Counters>>,
) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if let Some(c) = &count {
                        // A request line ends with the protocol: count those.
                        c.count(&buf[..n]);
                    }
                    if let Some(c) = &bytes {
                        c.bytes_down.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    if tx
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    });
    std::thread::spawn(move || {
        for (at, chunk) in rx {
            if let Some(wait) = at.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
