//! The lab's throw-away PKI: a CA, a server certificate for 127.0.0.1/127.0.0.2/localhost
//! and the token issuer's signing certificate. Generated fresh for every lab.

use std::net::{IpAddr, Ipv4Addr};

use anyhow::Result;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData, SanType,
};
use sha2::{Digest as _, Sha256};

/// PEM material for one lab.
pub struct Pki {
    /// The CA certificate (trust this).
    pub ca_pem: String,
    /// Server certificate (127.0.0.1, 127.0.0.2, localhost), signed by the CA.
    pub server_cert_pem: String,
    /// Its private key.
    pub server_key_pem: String,
    /// A client certificate signed by the CA (for mTLS).
    pub client_cert_pem: String,
    /// Its private key.
    pub client_key_pem: String,
    /// The token issuer's self-signed certificate (distribution's `rootcertbundle`).
    pub issuer_cert_pem: String,
    /// The issuer's PKCS#8 private key (DER), for signing tokens.
    pub issuer_key_pkcs8: Vec<u8>,
    /// The libtrust key ID of the issuer key (the JWT `kid`).
    pub issuer_kid: String,
}

fn params(cn: &str, sans: &[IpAddr], dns: &[&str]) -> Result<CertificateParams> {
    let mut p = CertificateParams::new(dns.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())?;
    p.distinguished_name.push(DnType::CommonName, cn);
    for ip in sans {
        p.subject_alt_names.push(SanType::IpAddress(*ip));
    }
    Ok(p)
}

/// distribution's libtrust key ID: SHA-256 of the DER public key, first 30 bytes, base32
/// without padding, in 12 groups of 4 joined by `:`.
pub fn libtrust_kid(spki_der: &[u8]) -> String {
    let hash = Sha256::digest(spki_der);
    let b32 = data_encoding::BASE32_NOPAD.encode(&hash[..30]);
    b32.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

impl Pki {
    /// Generates everything.
    pub fn generate() -> Result<Pki> {
        let ca_key = KeyPair::generate()?;
        let mut ca = params("regpeek lab CA (throw-away)", &[], &[])?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key)?;
        let ca_issuer = Issuer::new(ca, ca_key);

        let loopback = [
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
        ];
        let server_key = KeyPair::generate()?;
        let mut server = params("127.0.0.1", &loopback, &["localhost"])?;
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let server_cert = server.signed_by(&server_key, &ca_issuer)?;

        let client_key = KeyPair::generate()?;
        let mut client = params("regpeek lab client", &[], &[])?;
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        client.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let client_cert = client.signed_by(&client_key, &ca_issuer)?;

        let issuer_key = KeyPair::generate()?;
        let issuer = params("regpeek lab token issuer", &[], &[])?;
        let issuer_cert = issuer.self_signed(&issuer_key)?;
        let issuer_kid = libtrust_kid(&issuer_key.subject_public_key_info());

        Ok(Pki {
            ca_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
            issuer_cert_pem: issuer_cert.pem(),
            issuer_key_pkcs8: issuer_key.serialize_der(),
            issuer_kid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kid_shape() {
        let kid = libtrust_kid(b"anything");
        assert_eq!(kid.len(), 12 * 4 + 11);
        assert_eq!(kid.split(':').count(), 12);
        assert!(
            kid.chars()
                .all(|c| c == ':' || c.is_ascii_uppercase() || c.is_ascii_digit())
        );
    }
}
