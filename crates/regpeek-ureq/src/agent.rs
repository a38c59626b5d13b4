//! The ureq agents of a client: trust roots (the system's, plus extra CAs), client
//! certificates for mTLS, status codes as data, no redirects, and ureq's connector
//! chain with marks that name the stage a timeout hit.

use std::cell::Cell;

use regpeek_proto::TimeoutStage;
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::unversioned::transport::{
    ConnectProxyConnector, ConnectionDetails, Connector, RustlsConnector, TcpConnector, Transport,
};

use crate::{Client, ClientOptions, Error, TlsOptions};

thread_local! {
    /// How far the request on this thread got, for naming the stage of a timeout; set by
    /// [`Mark`] connectors (ureq's blocking calls run on the caller's thread).
    pub(crate) static STAGE: Cell<TimeoutStage> = const { Cell::new(TimeoutStage::Response) };
}

/// A connector that only records how far connecting has got.
#[derive(Debug)]
struct Mark(TimeoutStage);

impl<In: Transport> Connector<In> for Mark {
    type Out = In;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<In>, ureq::Error> {
        let stage = match self.0 {
            TimeoutStage::TlsHandshake if details.uri.scheme_str() != Some("https") => {
                TimeoutStage::Response
            }
            stage => stage,
        };
        STAGE.with(|s| s.set(stage));
        Ok(chained)
    }
}

impl Client {
    /// One agent: its own pool, with `tls` on every connection.
    pub(crate) fn agent(options: &ClientOptions, tls: &TlsOptions) -> Result<ureq::Agent, Error> {
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
            .unversioned_rustls_crypto_provider(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .root_certs(roots)
            .client_cert(client_cert)
            .disable_verification(tls.insecure)
            .build();
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(options.user_agent.as_str())
            // Direct unless a request is given a proxy (ClientOptions::proxy_for):
            // never ureq's own reading of the environment.
            .proxy(None)
            .timeout_connect(Some(options.idle_timeout))
            .timeout_per_read(Some(options.idle_timeout))
            .timeout_per_write(Some(options.idle_timeout))
            .tls_config(tls_config)
            .build();
        // ureq's own chain (CONNECT proxy, TCP, rustls), with marks between the steps so
        // that a timeout can say whether it hit the connect or the TLS handshake.
        let connector =
            ().chain(Mark(TimeoutStage::Connect))
                .chain(ConnectProxyConnector::default())
                .chain(TcpConnector::default())
                .chain(Mark(TimeoutStage::TlsHandshake))
                .chain(RustlsConnector::default())
                .chain(Mark(TimeoutStage::Response));
        Ok(ureq::Agent::with_parts(
            config,
            connector,
            ureq::unversioned::resolver::DefaultResolver::default(),
        ))
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
