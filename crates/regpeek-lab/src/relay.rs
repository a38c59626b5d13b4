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
}

impl Counters {
    /// `(connections, requests)` since the last reset.
    pub fn read(&self) -> (u64, u64) {
        (
            self.connections.load(Ordering::Relaxed),
            self.requests.load(Ordering::Relaxed),
        )
    }

    /// Starts counting from zero.
    pub fn reset(&self) {
        self.connections.store(0, Ordering::Relaxed);
        self.requests.store(0, Ordering::Relaxed);
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
            pump(client, server, one_way, Some(c.clone()));
            pump(s2, c2, one_way, None);
        }
    });
    Ok(Relay { addr, counters })
}

/// Copies `from` to `to`, delivering each chunk `delay` after it was read (so a stream
/// keeps its throughput and only gains latency). Counts request lines when asked.
fn pump(mut from: TcpStream, mut to: TcpStream, delay: Duration, count: Option<Arc<Counters>>) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if let Some(c) = &count {
                        // A request line ends with the protocol: count those.
                        let n_requests = buf[..n]
                            .windows(10)
                            .filter(|w| *w == b"HTTP/1.1\r\n")
                            .count();
                        c.requests.fetch_add(n_requests as u64, Ordering::Relaxed);
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
