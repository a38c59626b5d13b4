//! The rustls configuration of a connection: the same trust and client certificates as
//! the HTTP/1.1 client's ([`TlsOptions`]), with ALPN offering HTTP/2.

use std::sync::Arc;

use regpeek_ureq::{Error, TlsOptions};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

/// ALPN's name of HTTP/2.
pub(crate) const H2: &[u8] = b"h2";

/// A client configuration for `tls`: the system's roots through the platform verifier,
/// plus the extra CAs; the client certificate; no verification when `insecure`; ALPN
/// offering `alpn` in order.
pub(crate) fn config(tls: &TlsOptions, alpn: &[&[u8]]) -> Result<Arc<ClientConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut extra = Vec::new();
    for (path, pem) in &tls.extra_roots {
        let certs = certificates(pem);
        if certs.is_empty() {
            return Err(Error::CaFile {
                path: path.clone(),
                reason: "no PEM certificate found".into(),
            });
        }
        extra.extend(certs);
    }
    let verifier: Arc<dyn ServerCertVerifier> = if tls.insecure {
        Arc::new(NoVerification(provider.clone()))
    } else {
        let verifier = if extra.is_empty() {
            rustls_platform_verifier::Verifier::new(provider.clone())
        } else {
            rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
        };
        Arc::new(verifier.map_err(|e| Error::Setup {
            what: "the system's trust roots".into(),
            reason: e.to_string(),
        })?)
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Setup {
            what: "the TLS configuration".into(),
            reason: e.to_string(),
        })?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match &tls.client_cert {
        None => builder.with_no_client_auth(),
        Some((path, cert_pem, key_pem)) => {
            let bad = |reason: &str| Error::ClientCert {
                path: path.clone(),
                reason: reason.to_owned(),
            };
            let chain = certificates(cert_pem);
            if chain.is_empty() {
                return Err(bad("no PEM certificate found"));
            }
            let key = PrivateKeyDer::from_pem_slice(key_pem)
                .map_err(|_| bad("its .key file holds no usable PEM private key"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| bad(&e.to_string()))?
        }
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The certificates of a PEM bundle (other items are skipped).
fn certificates(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem)
        .filter_map(Result::ok)
        .collect()
}

/// `--insecure`: any certificate is accepted, but the handshake's signatures are still
/// checked (the peer must hold the key of the certificate it sent).
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
