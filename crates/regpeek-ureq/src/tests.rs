//! Unit tests of the client: its set-up errors and how failures are classified.
use super::*;
use regpeek_proto::TimeoutStage;

#[test]
fn a_name_the_resolver_cannot_find_is_a_resolve_failure() {
    // What ureq hands over when getaddrinfo fails (the message is all that says so).
    for message in [
        "failed to lookup address information: Name or service not known",
        "failed to lookup address information: Temporary failure in name resolution",
    ] {
        let e = ureq::Error::Io(std::io::Error::other(message));
        assert_eq!(
            classify::classify(&e, TimeoutStage::Connect),
            TransportErrorKind::Resolve
        );
    }
    let refused = ureq::Error::Io(std::io::ErrorKind::ConnectionRefused.into());
    assert_eq!(
        classify::classify(&refused, TimeoutStage::Connect),
        TransportErrorKind::Connect
    );
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
