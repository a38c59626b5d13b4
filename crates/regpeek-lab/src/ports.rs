//! Ports for the lab, picked below the ephemeral range so that no client connection
//! can take one between the pick and the bind.

use anyhow::{Result, bail};
use serde_json::{Value, json};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

/// The ports of one lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// nginx front of the open registry.
    pub plain: u16,
    /// nginx front of the token registry.
    pub token: u16,
    /// TLS + htpasswd registry.
    pub basic: u16,
    /// TLS + client-certificate registry.
    pub mtls: u16,
    /// Token registry whose issuer is down.
    pub issuer_down: u16,
    /// The helper (issuer + pager).
    pub helper: u16,
    /// Backend: open registry.
    pub plain_backend: u16,
    /// Backend: token registry.
    pub token_backend: u16,
    /// CDN for the open registry, http, on 127.0.0.2 (distribution's redirect middleware
    /// keeps only scheme and host of its base URL, so each registry gets its own port).
    pub cdn_plain: u16,
    /// CDN for the token registry, http, on 127.0.0.2.
    pub cdn_token: u16,
    /// CDN, https, on 127.0.0.2.
    pub cdn_https: u16,
    /// A port nothing listens on (the dead realm).
    pub dead: u16,
    /// The helper's CONNECT proxy (for `HTTP(S)_PROXY` tests).
    pub proxy: u16,
    /// nginx TLS front of the token registry, speaking HTTP/2 (ALPN), on 127.0.0.1.
    pub token_tls: u16,
}

impl Ports {
    /// Fourteen distinct ports, free on 127.0.0.1 and 127.0.0.2 when picked, from below
    /// the kernel's ephemeral range: outgoing connections never take them, so only
    /// another lab starting at the same moment can, and [`Lab::start`] retries then.
    /// (Ports picked by the OS with bind-and-drop come from the ephemeral range, where
    /// any client connection may take them before the server binds.)
    pub fn random() -> Result<Ports> {
        Ports::held().map(|(ports, _released)| ports)
    }

    /// [`Ports::random`], with the listeners that held the ports while they were picked
    /// (one pair, on 127.0.0.1 and 127.0.0.2, per port, in [`Ports::named`] order), so a
    /// caller can keep one taken with no moment in which another program could take it.
    pub(crate) fn held() -> Result<(Ports, Vec<(TcpListener, TcpListener)>)> {
        let (low, _) = ephemeral_range();
        let (from, to) = if low > 12_000 {
            (10_000u32, u32::from(low))
        } else {
            (u32::from(low.max(1024)), 60_000)
        };
        let mut x = u64::from(std::process::id())
            ^ SystemTimeNanos::now()
            ^ u64::from(PICKS.fetch_add(1, Ordering::Relaxed)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut held = Vec::new();
        let mut picked: Vec<u16> = Vec::new();
        for _ in 0..10_000 {
            if picked.len() == 14 {
                break;
            }
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let span = u64::from(to - from);
            let port = u16::try_from(u64::from(from) + x % span).unwrap_or(20_000);
            if picked.contains(&port) {
                continue;
            }
            // Hold each one until all are picked, so the fourteen are distinct.
            if let (Ok(a), Ok(b)) = (
                TcpListener::bind(("127.0.0.1", port)),
                TcpListener::bind(("127.0.0.2", port)),
            ) {
                held.push((a, b));
                picked.push(port);
            }
        }
        if picked.len() < 14 {
            bail!("could not find 14 free ports between {from} and {to}");
        }
        let p = |i: usize| picked[i];
        let ports = Ports {
            plain: p(0),
            token: p(1),
            basic: p(2),
            mtls: p(3),
            issuer_down: p(4),
            helper: p(5),
            plain_backend: p(6),
            token_backend: p(7),
            cdn_plain: p(8),
            cdn_token: p(9),
            cdn_https: p(10),
            dead: p(11),
            proxy: p(12),
            token_tls: p(13),
        };
        Ok((ports, held))
    }

    /// Every port with its name (for `lab.json`).
    pub fn named(&self) -> Vec<(String, Value)> {
        [
            ("plain", self.plain),
            ("token", self.token),
            ("basic", self.basic),
            ("mtls", self.mtls),
            ("issuer_down", self.issuer_down),
            ("helper", self.helper),
            ("plain_backend", self.plain_backend),
            ("token_backend", self.token_backend),
            ("cdn_plain", self.cdn_plain),
            ("cdn_token", self.cdn_token),
            ("cdn_https", self.cdn_https),
            ("dead", self.dead),
            ("proxy", self.proxy),
            ("token_tls", self.token_tls),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect()
    }

    /// Consecutive ports from `base` (recordings use fixed ports so URLs are stable).
    pub fn fixed(base: u16) -> Ports {
        Ports {
            plain: base,
            token: base + 1,
            basic: base + 2,
            mtls: base + 3,
            issuer_down: base + 4,
            helper: base + 5,
            plain_backend: base + 6,
            token_backend: base + 7,
            cdn_plain: base + 8,
            cdn_https: base + 9,
            dead: base + 10,
            cdn_token: base + 11,
            proxy: base + 12,
            token_tls: base + 13,
        }
    }
}

pub(crate) static PICKS: AtomicU32 = AtomicU32::new(0);

pub(crate) struct SystemTimeNanos;

impl SystemTimeNanos {
    pub(crate) fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    }
}

/// The kernel's ephemeral port range (where bind-to-0 and outgoing connections pick).
pub(crate) fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|n| n.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32_768, 60_999))
}
