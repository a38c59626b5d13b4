//! The local registry lab: real CNCF distribution (`docker-registry`) in every auth mode,
//! nginx as front and CDN, a token issuer and tag pager, and deterministic test images
//! built without a Docker engine. Everything binds to 127.0.0.1 / 127.0.0.2.
//!
//! Topology (ports from [`Ports`]):
//!
//! ```text
//!  plain front  127.0.0.1:F1 (nginx) ─┬─ tags/list, _catalog ─> helper pager ─┐
//!                                     └─ everything else ──> plain registry  ─┴─ no auth
//!  token front  127.0.0.1:F2 (nginx) ─┬─ tags/list, _catalog ─> helper pager ─┐
//!                                     └─ everything else ──> token registry ──┴─ auth: token (realm = helper /token)
//!  basic        127.0.0.1:B  distribution itself: TLS (lab CA) + htpasswd
//!  mtls         127.0.0.1:M  distribution itself: TLS + client certificates (lab CA)
//!  issuer-down  127.0.0.1:D  token auth whose realm is a closed port
//!  proxy        127.0.0.1:P  a CONNECT proxy to loopback only (helper; HTTP_PROXY tests)
//!  CDN          127.0.0.2, one nginx port per registry (http for open and token, https
//!               for basic): registries redirect blob GETs here (distribution's `redirect`
//!               storage middleware); the access log records any Authorization received
//! ```

#![deny(missing_docs)]

pub mod certs;
pub mod helper;
pub mod hostile;
pub mod hostile_h2;
pub mod image;
mod info;
mod nginx;
mod ports;
mod processes;
pub mod push;
pub mod record;
pub mod relay;
pub mod token;
mod topology;

pub use info::*;
use nginx::*;
pub use ports::*;
pub use processes::*;
pub use topology::*;

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::process::Command;
    use std::time::{Duration, Instant};

    use super::*;

    /// Tests that pick ports take turns: while one holds its picks, another's bind of
    /// a port it was just given could fail (a CI run did, once).
    static PICKING: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn picking() -> std::sync::MutexGuard<'static, ()> {
        PICKING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Pids of live processes whose command line mentions `needle`.
    fn processes_mentioning(needle: &str) -> Vec<u32> {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| alive(*pid))
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
            })
            .collect()
    }

    #[test]
    fn ports_are_distinct_and_outside_the_ephemeral_range() {
        let _turn = picking();
        let (low, high) = ephemeral_range();
        for _ in 0..20 {
            let p = Ports::random().unwrap();
            let mut all: Vec<u16> = p
                .named()
                .iter()
                .map(|(_, v)| u16::try_from(v.as_u64().unwrap()).unwrap())
                .collect();
            assert!(
                all.iter().all(|port| *port < low || *port > high),
                "{all:?}"
            );
            all.sort_unstable();
            all.dedup();
            assert_eq!(all.len(), 14);
        }
    }

    /// Ctrl-C reaches an owned process's wrapper (and the process, which ignores it as
    /// a background job): the wrapper's trap stops the process.
    #[test]
    fn an_interrupted_owner_leaves_no_owned_process() {
        let scratch = tempfile::Builder::new()
            .prefix("regpeek-lab-sigint-")
            .tempdir()
            .unwrap();
        let dir = scratch.path().to_owned();
        let marker = format!("{}.4242", std::process::id());
        let sleeping = || -> Vec<u32> {
            processes_mentioning(&marker)
                .into_iter()
                .filter(|pid| {
                    std::fs::read(format!("/proc/{pid}/cmdline"))
                        .is_ok_and(|c| c.starts_with(b"sleep\0"))
                })
                .collect()
        };
        let proc = Proc::spawn(Keep::Owned, &dir.join("log"), "sleep", &[&marker]).unwrap();
        let Proc::Owned { child, .. } = &proc else {
            panic!("owned")
        };
        let wrapper = child.id();
        let deadline = Instant::now() + Duration::from_secs(15);
        while sleeping().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            !sleeping().is_empty(),
            "the owned process did not start: {:?}",
            processes_mentioning(&marker)
                .iter()
                .map(|p| std::fs::read_to_string(format!("/proc/{p}/cmdline")).unwrap_or_default())
                .collect::<Vec<_>>()
        );
        Command::new("kill")
            .args(["-INT", &wrapper.to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        while !sleeping().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            sleeping().is_empty(),
            "still running after SIGINT to the wrapper"
        );
        drop(proc);

        // And when the owner lets go (or dies), the watcher stops it.
        let proc = Proc::spawn(Keep::Owned, &dir.join("log"), "sleep", &[&marker]).unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        while sleeping().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!sleeping().is_empty(), "the owned process did not start");
        drop(proc);
        assert!(
            sleeping().is_empty(),
            "still running after its owner let go"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A start that fails halfway (a port taken by someone else) leaves no process
    /// running and no lab.json behind, so `lab status` tells the truth.
    #[test]
    fn a_failed_start_leaves_nothing_running() {
        if !Path::new(REGISTRY_BIN).exists() {
            panic!("{REGISTRY_BIN} is missing: run `cargo xtask test` (it installs it as root)");
        }
        let scratch = tempfile::Builder::new()
            .prefix("regpeek-lab-failed-start-")
            .tempdir()
            .unwrap();
        let dir = scratch.path().to_owned();
        let _turn = picking();
        let (ports, mut held) = Ports::held().unwrap();
        // The third registry cannot bind: the first two have started by then. Its port
        // stays held from the pick on (binding it again after the pick raced with
        // whoever picks ports at the same time).
        let _squatter = held.swap_remove(2);
        assert_eq!(
            _squatter.0.local_addr().unwrap().port(),
            ports.basic,
            "held() keeps the named() order"
        );
        drop(held);
        let Err(e) = Lab::start_in(&dir, ports, Keep::Detached, None) else {
            panic!("the start should fail on the taken port");
        };
        // (It fails on the taken port, unless another port of the thirteen was taken
        // first: either way, a start that failed halfway.)
        eprintln!("the start failed as it should: {e:#}");
        assert!(!dir.join("lab.json").exists(), "lab.json left behind");
        let needle = dir.to_str().unwrap();
        let left = processes_mentioning(needle);
        assert!(left.is_empty(), "processes left running: {left:?}");
    }
}
