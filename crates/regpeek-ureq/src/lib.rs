//! Blocking transport for regpeek: drives a [`regpeek_proto::Flow`] with a `ureq` agent.
//!
//! The core decides everything (auth, redirects, limits, digests); this crate only
//! performs the requests it is handed. [`Client::run`] is the whole main loop.
//!
//! ```no_run
//! use regpeek_proto::{Goal, Options, Platform, Reference, TokenCache};
//! use regpeek_ureq::{Client, ClientOptions};
//!
//! let client = Client::new(&ClientOptions::default())?;
//! let reference = Reference::parse("nginx")?;
//! let goal = Goal::Inspect(Platform::parse("linux/amd64", "amd64")?);
//! let (result, _tokens) = client.inspect(reference, Options::new(goal), TokenCache::new());
//! println!("{}", result?.into_image()?.digest);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use regpeek_proto::{Action, Flow, Options, Outcome, Reference, TokenCache, TransportErrorKind};
use ureq::tls::{Certificate, RootCerts, TlsConfig};

/// Errors setting up the transport. Errors during a flow come back as
/// [`regpeek_proto::Error`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A CA bundle could not be read or holds no certificate.
    #[error("CA file {path}: {reason}")]
    CaFile {
        /// The path.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A client certificate or key could not be used.
    #[error("client certificate {path}: {reason}")]
    ClientCert {
        /// The certificate's path.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// TLS settings beyond the defaults.
#[derive(Clone, Default)]
pub struct TlsOptions {
    /// Extra CA certificates (label, PEM), trusted in addition to the system's roots.
    pub extra_roots: Vec<(String, Vec<u8>)>,
    /// A client certificate chain and key (label, cert PEM, key PEM) for mTLS.
    pub client_cert: Option<(String, Vec<u8>, Vec<u8>)>,
    /// Skip certificate verification entirely. Callers must warn the user loudly.
    pub insecure: bool,
}

/// A sink for trace lines (`-v`); secrets are already redacted.
pub type Trace = Arc<dyn Fn(&str) + Send + Sync>;

/// Transport settings.
#[derive(Clone)]
pub struct ClientOptions {
    /// `User-Agent` header.
    pub user_agent: String,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Timeout for each response (headers and body).
    pub read_timeout: Duration,
    /// TLS settings.
    pub tls: TlsOptions,
    /// Where to send the HTTP trace, if anywhere.
    pub trace: Option<Trace>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            user_agent: concat!("regpeek/", env!("CARGO_PKG_VERSION")).to_owned(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            tls: TlsOptions::default(),
            trace: None,
        }
    }
}

/// A blocking client: one `ureq` agent (one keep-alive pool) for every request of a run.
pub struct Client {
    agent: ureq::Agent,
    trace: Option<Trace>,
}

impl Client {
    /// Builds the agent: status codes are data, redirects are left to the core, the
    /// system's trust roots are used, plus any extra CAs.
    pub fn new(options: &ClientOptions) -> Result<Client, Error> {
        let tls = &options.tls;
        let roots = if tls.extra_roots.is_empty() {
            RootCerts::PlatformVerifier
        } else {
            let mut certs: Vec<Certificate<'static>> = rustls_native_certs::load_native_certs()
                .certs
                .iter()
                .map(|c| Certificate::from_der(c.as_ref()).to_owned())
                .collect();
            for (path, pem) in &tls.extra_roots {
                let extra = pem_certificates(pem);
                if extra.is_empty() {
                    return Err(Error::CaFile {
                        path: path.clone(),
                        reason: "no PEM certificate found".into(),
                    });
                }
                certs.extend(extra);
            }
            RootCerts::new_with_certs(&certs)
        };
        let client_cert = match &tls.client_cert {
            None => None,
            Some((path, cert_pem, key_pem)) => {
                let bad = |reason: &str| Error::ClientCert {
                    path: path.clone(),
                    reason: reason.to_owned(),
                };
                let chain = pem_certificates(cert_pem);
                if chain.is_empty() {
                    return Err(bad("no PEM certificate found"));
                }
                let key = ureq::tls::PrivateKey::from_pem(key_pem)
                    .map_err(|_| bad("its .key file holds no usable PEM private key"))?;
                Some(ureq::tls::ClientCert::new_with_certs(&chain, key))
            }
        };
        let tls_config = TlsConfig::builder()
            .root_certs(roots)
            .client_cert(client_cert)
            .disable_verification(tls.insecure)
            .build();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(options.user_agent.as_str())
            .timeout_connect(Some(options.connect_timeout))
            .timeout_recv_response(Some(options.read_timeout))
            .timeout_recv_body(Some(options.read_timeout))
            .tls_config(tls_config)
            .build()
            .new_agent();
        Ok(Client {
            agent,
            trace: options.trace.clone(),
        })
    }

    /// Runs one inspection to the end and gives the token cache back.
    pub fn inspect(
        &self,
        reference: Reference,
        options: Options,
        tokens: TokenCache,
    ) -> (Result<Outcome, regpeek_proto::Error>, TokenCache) {
        self.run(Flow::new(reference, options, tokens))
    }

    /// The main loop: poll the flow, perform each request, hand the response back.
    pub fn run(&self, mut flow: Flow) -> (Result<Outcome, regpeek_proto::Error>, TokenCache) {
        loop {
            match flow.poll_action(SystemTime::now()) {
                Action::Done(result) => return (result, flow.into_tokens()),
                Action::Wait(until) => {
                    let wait = until.duration_since(SystemTime::now()).unwrap_or_default();
                    self.trace(&format!(
                        "! the registry asked to slow down: retrying in {:.1}s",
                        wait.as_secs_f64()
                    ));
                    std::thread::sleep(wait);
                }
                Action::Send(send) => match self.perform(send.request, send.max_body) {
                    Ok(response) => flow.handle_response(SystemTime::now(), response),
                    Err((kind, message)) => {
                        flow.handle_transport_error(SystemTime::now(), kind, &message)
                    }
                },
            }
        }
    }

    fn trace(&self, line: &str) {
        if let Some(t) = &self.trace {
            t(line);
        }
    }

    /// Performs one request, reading at most `max_body + 1` body bytes.
    pub fn perform(
        &self,
        request: http::Request<Vec<u8>>,
        max_body: usize,
    ) -> Result<http::Response<Vec<u8>>, (TransportErrorKind, String)> {
        if self.trace.is_some() {
            self.trace(&format!(
                "> {} {}",
                request.method(),
                redact_url(&request.uri().to_string())
            ));
            for (k, v) in request.headers() {
                self.trace(&format!("> {k}: {}", redact_header(k.as_str(), v)));
            }
        }
        let (parts, body) = request.into_parts();
        let result = if body.is_empty() {
            self.agent.run(http::Request::from_parts(parts, ()))
        } else {
            self.agent.run(http::Request::from_parts(parts, body))
        };
        let mut response = result.map_err(|e| {
            let (kind, message) = classify(e);
            self.trace(&format!("! {message}"));
            (kind, message)
        })?;
        let mut bytes = Vec::new();
        response
            .body_mut()
            .as_reader()
            .take(max_body as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| (TransportErrorKind::Other, format!("reading the body: {e}")))?;
        let (parts, _) = response.into_parts();
        if self.trace.is_some() {
            self.trace(&format!("< {:?} {}", parts.version, parts.status));
            for (k, v) in &parts.headers {
                self.trace(&format!("< {k}: {}", redact_header(k.as_str(), v)));
            }
            self.trace(&format!("< ({} body bytes)", bytes.len()));
        }
        Ok(http::Response::from_parts(parts, bytes))
    }
}

/// The certificates in a PEM bundle (other items are skipped).
pub fn pem_certificates(pem: &[u8]) -> Vec<Certificate<'static>> {
    ureq::tls::parse_pem(pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect()
}

fn classify(e: ureq::Error) -> (TransportErrorKind, String) {
    use TransportErrorKind as K;
    match e {
        ureq::Error::Timeout(t) => (K::Timeout, format!("timed out ({t})")),
        ureq::Error::HostNotFound => (K::Connect, "cannot resolve host".to_owned()),
        ureq::Error::ConnectionFailed => (K::Connect, "cannot connect".to_owned()),
        ureq::Error::Io(io) => {
            if let Some(tls) = io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
                return classify_tls(tls);
            }
            let kind = match io.kind() {
                std::io::ErrorKind::ConnectionRefused
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::NotFound
                | std::io::ErrorKind::AddrNotAvailable => K::Connect,
                std::io::ErrorKind::TimedOut => K::Timeout,
                // rustls reports handshake failures as InvalidData inside io errors.
                std::io::ErrorKind::InvalidData => K::Tls,
                _ => K::Other,
            };
            let what = if kind == K::Tls {
                "TLS handshake failed"
            } else {
                "cannot connect"
            };
            (kind, format!("{what}: {io}"))
        }
        ureq::Error::Rustls(e) => classify_tls(&e),
        ureq::Error::Tls(e) => (K::Tls, format!("TLS error: {e}")),
        other => (K::Other, other.to_string()),
    }
}

/// A certificate the client refused is not a reason to try plain http; a server that
/// does not speak TLS at all is.
fn classify_tls(e: &rustls::Error) -> (TransportErrorKind, String) {
    match e {
        // The peer sent something that is not TLS at all: a plain-http server.
        rustls::Error::InvalidMessage(_) => (
            TransportErrorKind::Tls,
            format!("TLS handshake failed: {e}"),
        ),
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => (
            TransportErrorKind::Certificate,
            format!("TLS certificate not trusted: {e} (use --ca-file for a private CA)"),
        ),
        rustls::Error::AlertReceived(_) => (
            TransportErrorKind::Certificate,
            format!(
                "TLS handshake refused by the server: {e} (does it want a client certificate? see --cert-dir)"
            ),
        ),
        // Anything else TLS-related is not fixed by speaking plain http either.
        _ => (
            TransportErrorKind::Certificate,
            format!("TLS handshake failed: {e}"),
        ),
    }
}

/// Header values safe to show: credentials and cookies become `<redacted>` (the scheme
/// is kept).
pub fn redact_header(name: &str, value: &http::HeaderValue) -> String {
    let v = value.to_str().unwrap_or("<binary>");
    match name.to_ascii_lowercase().as_str() {
        "authorization" | "proxy-authorization" => match v.split_once(' ') {
            Some((scheme, _)) => format!("{scheme} <redacted>"),
            None => "<redacted>".to_owned(),
        },
        "cookie" | "set-cookie" => "<redacted>".to_owned(),
        _ => v.to_owned(),
    }
}

/// A URL safe to show: query values other than the token protocol's own are redacted
/// (signed blob URLs carry credentials in the query).
pub fn redact_url(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let safe = ["service", "scope", "client_id", "n", "last"];
    let parts: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if safe.contains(&k) => format!("{k}={v}"),
            Some((k, _)) => format!("{k}=<redacted>"),
            None => kv.to_owned(),
        })
        .collect();
    format!("{base}?{}", parts.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction() {
        let v = http::HeaderValue::from_static("Bearer abc.def");
        assert_eq!(redact_header("Authorization", &v), "Bearer <redacted>");
        let v = http::HeaderValue::from_static("application/json");
        assert_eq!(redact_header("content-type", &v), "application/json");
        assert_eq!(
            redact_url("https://cdn/x?X-Amz-Signature=s3cr3t&scope=repository:a:pull"),
            "https://cdn/x?X-Amz-Signature=<redacted>&scope=repository:a:pull"
        );
        assert_eq!(redact_url("https://a/b"), "https://a/b");
    }

    #[test]
    fn a_bad_ca_file_is_a_clear_error() {
        let opts = ClientOptions {
            tls: TlsOptions {
                extra_roots: vec![("/x/ca.pem".into(), b"not pem".to_vec())],
                ..TlsOptions::default()
            },
            ..ClientOptions::default()
        };
        let e = Client::new(&opts).err().unwrap();
        assert_eq!(e.to_string(), "CA file /x/ca.pem: no PEM certificate found");
    }
}
