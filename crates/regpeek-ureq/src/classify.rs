//! How a failed request is told to the core: ureq's and rustls' errors, and the
//! stage the request had reached, as a `TransportErrorKind`.

use regpeek_proto::{TimeoutStage, TransportErrorKind};

/// A failure while reading a body: a timeout, or a connection closed or reset early.
pub(crate) fn classify_body(e: &std::io::Error) -> TransportErrorKind {
    use std::io::ErrorKind as E;
    let timeout = e.kind() == E::TimedOut
        || e.get_ref()
            .and_then(|i| i.downcast_ref::<ureq::Error>())
            .is_some_and(|u| matches!(u, ureq::Error::Timeout(_)));
    if timeout {
        return TransportErrorKind::Timeout(TimeoutStage::Body);
    }
    match e.kind() {
        E::UnexpectedEof | E::ConnectionReset | E::ConnectionAborted | E::BrokenPipe => {
            TransportErrorKind::Reset
        }
        _ => TransportErrorKind::Other,
    }
}

pub(crate) fn classify(e: &ureq::Error, reached: TimeoutStage) -> TransportErrorKind {
    use TransportErrorKind as K;
    match e {
        ureq::Error::Timeout(t) => K::Timeout(match t {
            ureq::Timeout::Resolve => TimeoutStage::Connect,
            // ureq's connect phase includes the TLS handshake: the mark tells.
            ureq::Timeout::Connect if reached == TimeoutStage::TlsHandshake => reached,
            ureq::Timeout::Connect => TimeoutStage::Connect,
            ureq::Timeout::RecvBody => TimeoutStage::Body,
            ureq::Timeout::SendRequest | ureq::Timeout::SendBody => TimeoutStage::Response,
            _ => reached,
        }),
        ureq::Error::HostNotFound => K::Resolve,
        ureq::Error::ConnectionFailed => K::Connect,
        ureq::Error::Io(io) => {
            if let Some(tls) = io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
                return classify_tls(tls);
            }
            use std::io::ErrorKind as E;
            // The system resolver's failure (getaddrinfo) comes as an uncategorised
            // I/O error: its message is all that tells it.
            if io.to_string().contains("failed to lookup address") {
                return K::Resolve;
            }
            match io.kind() {
                E::ConnectionRefused | E::NotFound | E::AddrNotAvailable => K::Connect,
                E::ConnectionReset | E::ConnectionAborted | E::BrokenPipe | E::UnexpectedEof => {
                    K::Reset
                }
                E::TimedOut | E::WouldBlock => K::Timeout(reached),
                // rustls reports handshake failures as InvalidData inside io errors.
                E::InvalidData if reached == TimeoutStage::TlsHandshake => K::Tls,
                _ => K::Other,
            }
        }
        ureq::Error::Rustls(e) => classify_tls(e),
        ureq::Error::Tls(_) => K::Tls,
        _ => K::Other,
    }
}

/// The kind of a failed TLS handshake, for another transport over the same rustls: a
/// certificate the client refused is not a reason to try plain http; a server that
/// does not speak TLS at all is.
pub fn classify_tls(e: &rustls::Error) -> TransportErrorKind {
    match e {
        // The peer sent something that is not TLS at all: a plain-http server.
        rustls::Error::InvalidMessage(_) => TransportErrorKind::Tls,
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => {
            TransportErrorKind::Certificate
        }
        // The server refused the handshake (often: it wants a client certificate).
        rustls::Error::AlertReceived(_) => TransportErrorKind::TlsRefused,
        // Anything else TLS-related is not fixed by speaking plain http either.
        _ => TransportErrorKind::Certificate,
    }
}
