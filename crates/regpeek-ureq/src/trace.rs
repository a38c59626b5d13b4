//! The `-v` trace's lines of an exchange, secrets redacted by the core's one policy
//! (`regpeek_proto::redact`): shared by every transport that traces (this crate's, and
//! the HTTP/2 one), so that they show the same lines and hide the same things.

use regpeek_proto::redact;

/// Traces a request (`> METHOD URL`, then its headers) and returns what it carries that
/// a server could echo back, for [`trace_head`].
pub fn trace_request(trace: &dyn Fn(&str), request: &http::Request<Vec<u8>>) -> Vec<String> {
    trace(&format!(
        "> {} {}",
        request.method(),
        redact::url(&request.uri().to_string())
    ));
    for (k, v) in request.headers() {
        trace(&format!(
            "> {k}: {}",
            redact::header(k.as_str(), v.as_bytes())
        ));
    }
    redact::secrets_of(request.headers())
}

/// Traces a response's head (`< VERSION STATUS`, then its headers), echoes of
/// `secrets` hidden.
pub fn trace_head(trace: &dyn Fn(&str), parts: &http::response::Parts, secrets: &[String]) {
    trace(&format!("< {:?} {}", parts.version, parts.status));
    for (k, v) in &parts.headers {
        let shown = redact::header(k.as_str(), v.as_bytes());
        trace(&format!("< {k}: {}", redact::echoes(&shown, secrets)));
    }
}

/// A proxy URL without its `user:password@`, for messages.
pub fn without_userinfo(proxy: &str) -> String {
    match proxy.split_once("://") {
        Some((scheme, rest)) => {
            let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            format!("{scheme}://{rest}")
        }
        None => proxy.rsplit_once('@').map_or(proxy, |(_, h)| h).to_owned(),
    }
}
