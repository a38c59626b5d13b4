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

/// A transport of one's own, in the network's place: the loop drives it as it drives
/// the network, and a streamed `2xx` body comes back with the outcome.
struct Canned;

impl Transport for Canned {
    fn send(&self, send: &Transmit, _budget: Option<Duration>) -> Result<Reply, TransportFailure> {
        assert!(send.stream, "a blob flow streams its body");
        let response = http::Response::builder()
            .status(200)
            .header("content-length", "2")
            .body(Vec::new())
            .unwrap();
        Ok(Reply {
            response,
            body: Some(Blob::new(std::io::Cursor::new(b"{}".to_vec()))),
        })
    }
}

#[test]
fn any_transport_drives_a_flow_and_hands_back_a_streamed_body() {
    use std::io::Read;
    let digest = regpeek_proto::Digest::sha256(b"{}");
    let r = Reference::parse("registry.example/a:v1").unwrap();
    let flow = Flow::new(
        r,
        Options::new(regpeek_proto::Goal::Blob(digest.clone())),
        TokenCache::default(),
    );
    let (result, _) = run_blob(&Canned, flow);
    let (outcome, body) = result.unwrap();
    assert!(matches!(outcome, Outcome::Blob { digest: d, .. } if d == digest));
    let mut bytes = Vec::new();
    body.into_reader().read_to_end(&mut bytes).unwrap();
    assert_eq!(bytes, b"{}");
}
