//! Proxies as Go's `net/http` (what docker, skopeo and crane use) and curl read them
//! from the environment: `HTTPS_PROXY` for `https://` URLs only, `HTTP_PROXY` for
//! `http://` URLs only, `ALL_PROXY` for both when the other is unset (lowercase names
//! too, uppercase first); `NO_PROXY` lists what goes direct: `*`, a domain and its
//! subdomains (`example.com`), subdomains only (`.example.com`, `*.example.com`), an
//! IP address, a CIDR block (`10.0.0.0/8`), each optionally with `:port`. Loopback
//! (`localhost`, 127.0.0.0/8, `::1`) is never proxied, as Go does.

use std::net::IpAddr;

/// The proxies of an environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proxies {
    http: Option<String>,
    https: Option<String>,
    direct: Vec<Direct>,
}

/// One `NO_PROXY` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Direct {
    All,
    /// A domain; `subdomains_only` for a leading `.` (or `*.`).
    Domain {
        name: String,
        subdomains_only: bool,
        port: Option<u16>,
    },
    Ip(IpAddr, Option<u16>),
    Cidr(IpAddr, u8),
}

impl Proxies {
    /// The proxies the variables `var` gives (`std::env::var` for the process's).
    pub(crate) fn from_env(var: impl Fn(&str) -> Option<String>) -> Proxies {
        let get = |upper: &str| {
            var(upper)
                .or_else(|| var(&upper.to_ascii_lowercase()))
                .filter(|v| !v.trim().is_empty())
        };
        let all = get("ALL_PROXY");
        let with_scheme = |p: String| {
            let p = p.trim().to_owned();
            if p.contains("://") {
                p
            } else {
                format!("http://{p}")
            }
        };
        Proxies {
            http: get("HTTP_PROXY").or_else(|| all.clone()).map(with_scheme),
            https: get("HTTPS_PROXY").or(all).map(with_scheme),
            direct: get("NO_PROXY")
                .map(|v| v.split(',').filter_map(Direct::parse).collect())
                .unwrap_or_default(),
        }
    }

    /// The proxies of this process's environment.
    pub fn from_process() -> Proxies {
        Proxies::from_env(|k| std::env::var(k).ok())
    }

    /// Whether any request would go through a proxy.
    pub fn any(&self) -> bool {
        self.http.is_some() || self.https.is_some()
    }

    /// The proxy for a request to `scheme://host:port`, or `None` to go direct.
    pub(crate) fn for_target(&self, scheme: &str, host: &str, port: u16) -> Option<&str> {
        let proxy = match scheme {
            "https" => self.https.as_deref()?,
            "http" => self.http.as_deref()?,
            _ => return None,
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let ip = host.parse::<IpAddr>().ok();
        if host == "localhost"
            || host.ends_with(".localhost")
            || ip.is_some_and(|i| i.is_loopback())
        {
            return None;
        }
        let direct = self.direct.iter().any(|d| match d {
            Direct::All => true,
            Direct::Domain {
                name,
                subdomains_only,
                port: p,
            } => {
                let sub = host.ends_with(&format!(".{name}"));
                let matches = sub || (!subdomains_only && host == *name);
                matches && p.is_none_or(|p| p == port)
            }
            Direct::Ip(addr, p) => ip == Some(*addr) && p.is_none_or(|p| p == port),
            Direct::Cidr(net, bits) => ip.is_some_and(|i| in_block(i, *net, *bits)),
        });
        (!direct).then_some(proxy)
    }

    /// `Proxies::for_target` for a request URI (its port from its scheme when it
    /// names none).
    pub fn for_uri(&self, uri: &regpeek_proto::http::Uri) -> Option<String> {
        let scheme = uri.scheme_str()?;
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        self.for_target(scheme, uri.host()?, port)
            .map(str::to_owned)
    }
}

impl Direct {
    fn parse(entry: &str) -> Option<Direct> {
        let e = entry.trim().to_ascii_lowercase();
        if e.is_empty() {
            return None;
        }
        if e == "*" {
            return Some(Direct::All);
        }
        if let Some((addr, bits)) = e.split_once('/') {
            return Some(Direct::Cidr(addr.parse().ok()?, bits.parse().ok()?));
        }
        // `[::1]:80`, `10.0.0.1:80`, `host:80`, or no port.
        let (host, port) = match e.strip_prefix('[') {
            Some(rest) => {
                let (h, after) = rest.split_once(']')?;
                (
                    h.to_owned(),
                    after.strip_prefix(':').and_then(|p| p.parse().ok()),
                )
            }
            None => match e.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h.to_owned(), p.parse().ok()),
                _ => (e.clone(), None),
            },
        };
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Some(Direct::Ip(ip, port));
        }
        let (name, subdomains_only) = match host.strip_prefix("*.").or(host.strip_prefix('.')) {
            Some(rest) => (rest.to_owned(), true),
            None => (host, false),
        };
        Some(Direct::Domain {
            name: name.trim_end_matches('.').to_owned(),
            subdomains_only,
            port,
        })
    }
}

/// Whether `ip` lies in `net/bits` (both of one family).
fn in_block(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let (a, b, width): (u128, u128, u32) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a).into(), u32::from(b).into(), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (a.into(), b.into(), 128),
        _ => return false,
    };
    let bits = u32::from(bits);
    if bits > width {
        return false;
    }
    // A /0 block holds every address (a shift by the whole width would overflow).
    bits == 0 || (a >> (width - bits)) == (b >> (width - bits))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Proxies {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Proxies::from_env(move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn each_scheme_has_its_own_proxy_and_all_proxy_covers_both() {
        let p = env(&[("HTTP_PROXY", "http-proxy:3128")]);
        assert_eq!(
            p.for_target("http", "registry.example", 80),
            Some("http://http-proxy:3128")
        );
        assert_eq!(
            p.for_target("https", "registry.example", 443),
            None,
            "https goes direct"
        );
        let p = env(&[("https_proxy", "http://s:1")]);
        assert_eq!(p.for_target("https", "r.example", 443), Some("http://s:1"));
        assert_eq!(p.for_target("http", "r.example", 80), None);
        let p = env(&[("ALL_PROXY", "http://a:1"), ("HTTPS_PROXY", "http://s:1")]);
        assert_eq!(p.for_target("https", "r.example", 443), Some("http://s:1"));
        assert_eq!(p.for_target("http", "r.example", 80), Some("http://a:1"));
        // Uppercase first.
        let p = env(&[
            ("HTTPS_PROXY", "http://up:1"),
            ("https_proxy", "http://low:1"),
        ]);
        assert_eq!(p.for_target("https", "r.example", 443), Some("http://up:1"));
        assert!(!env(&[]).any());
        assert!(
            !env(&[("HTTPS_PROXY", " ")]).any(),
            "an empty variable is unset"
        );
    }

    #[test]
    fn loopback_is_never_proxied() {
        let p = env(&[("ALL_PROXY", "http://a:1")]);
        for host in [
            "localhost",
            "LOCALHOST",
            "x.localhost",
            "127.0.0.1",
            "127.1.2.3",
            "[::1]",
            "::1",
        ] {
            assert_eq!(p.for_target("https", host, 5000), None, "{host}");
        }
        assert!(p.for_target("https", "127.example", 443).is_some());
    }

    #[test]
    fn no_proxy_takes_domains_subdomains_addresses_blocks_ports_and_star() {
        let p = env(&[
            ("HTTPS_PROXY", "http://p:1"),
            (
                "NO_PROXY",
                "corp.example, .sub.example,*.star.example,10.0.0.0/8,192.0.2.7,fd00::/8,only.example:5000",
            ),
        ]);
        let direct = |h: &str, port: u16| p.for_target("https", h, port).is_none();
        assert!(direct("corp.example", 443) && direct("reg.corp.example", 443));
        assert!(!direct("notcorp.example", 443));
        assert!(direct("a.sub.example", 443) && !direct("sub.example", 443));
        assert!(direct("a.star.example", 443) && !direct("star.example", 443));
        assert!(direct("10.1.2.3", 443) && !direct("11.0.0.1", 443));
        assert!(direct("192.0.2.7", 443) && !direct("192.0.2.8", 443));
        assert!(direct("[fd00::1]", 443) && !direct("[fe00::1]", 443));
        assert!(direct("only.example", 5000) && !direct("only.example", 443));
        let all = env(&[("HTTPS_PROXY", "http://p:1"), ("no_proxy", "*")]);
        assert_eq!(all.for_target("https", "anything.example", 443), None);
    }

    #[test]
    fn a_request_uri_is_read_with_its_default_port() {
        let p = env(&[("HTTPS_PROXY", "p:1"), ("NO_PROXY", "r.example:443")]);
        let uri: regpeek_proto::http::Uri = "https://r.example/v2/".parse().unwrap();
        assert_eq!(p.for_uri(&uri), None);
        let uri: regpeek_proto::http::Uri = "https://r.example:5000/v2/".parse().unwrap();
        assert_eq!(p.for_uri(&uri).as_deref(), Some("http://p:1"));
    }
}
