//! The one redaction policy: what of a URL, a header or a body is a secret, for
//! anything that shows or keeps an exchange (a driver's trace, a recorder, an error).
//!
//! - **URLs:** query values are secrets unless their key is on a short list of the
//!   registry protocol's own (`service`, `scope`, `client_id`, `n`, `last`): signed
//!   blob URLs on S3 or a CDN carry bearer secrets there (`X-Amz-Signature`, `sig`,
//!   `token`, …). A user and password in the authority are secrets too.
//! - **Headers:** `Authorization` and `Proxy-Authorization` keep their scheme only;
//!   `Cookie`, `Set-Cookie` and `X-Amz-Security-Token` are hidden whole; headers that
//!   carry URLs (`Location`, `Content-Location`, `Link`) go through the URL rule.
//! - **Token replies:** [`TOKEN_FIELDS`] hold secrets.
//! - **Errors** name a URL without its query at all (`without_query`, the core's).
//! - **Echoes:** a server can repeat what it was sent in any header or body;
//!   [`echoes`] hides every occurrence of the secrets a request carried.
//!
//! The placeholder is `REDACTED` in URLs (so a redacted URL stays a URL, and a
//! replayed flow can follow it) and `<redacted>` elsewhere.

/// Query keys whose values are never secrets: the token protocol's and pagination's.
const SAFE_QUERY_KEYS: [&str; 5] = ["service", "scope", "client_id", "n", "last"];

/// The fields of a token reply that carry a secret (Docker's token protocol and
/// OAuth2's).
pub const TOKEN_FIELDS: [&str; 4] = ["token", "access_token", "refresh_token", "id_token"];

/// `url` with the value of every query key not on the safe list (and any user and
/// password before the host) replaced by `REDACTED`. Also takes a `Link` header
/// value (`<URL>; rel="next"`), whose tail is kept.
pub fn url(url: &str) -> String {
    let url = userinfo(url);
    let Some((base, rest)) = url.split_once('?') else {
        return url;
    };
    // A `Link` value goes on after the URL: `<…?a=b>; rel="next"`; a fragment is not
    // part of the query.
    let end = rest.find(['>', '#']).unwrap_or(rest.len());
    let (query, tail) = rest.split_at(end);
    let parts: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if SAFE_QUERY_KEYS.contains(&k) => format!("{k}={v}"),
            Some((k, _)) => format!("{k}=REDACTED"),
            None => kv.to_owned(),
        })
        .collect();
    format!("{base}?{}{tail}", parts.join("&"))
}

/// A URL for an error message: without its query, fragment, user or password (the
/// core's errors name where, never with what).
pub(crate) fn without_query(u: &url::Url) -> String {
    let mut u = u.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

/// `scheme://user:password@host…` → `scheme://REDACTED@host…`.
fn userinfo(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let authority_end = url[start..]
        .find(['/', '?', '#', '>'])
        .map_or(url.len(), |i| start + i);
    match url[start..authority_end].rfind('@') {
        Some(at) => format!("{}REDACTED{}", &url[..start], &url[start + at..]),
        None => url.to_owned(),
    }
}

/// Whether a header's whole value is a secret (its scheme aside, for the
/// `Authorization` kinds).
pub(crate) fn is_secret_header(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "authorization"
            | "proxy-authorization"
            | "cookie"
            | "set-cookie"
            | "x-amz-security-token"
            | "x-registry-auth"
    )
}

/// A header value safe to show: see the module's rules. A value that is not text
/// shows as `<binary>`.
pub fn header(name: &str, value: &[u8]) -> String {
    let Ok(v) = std::str::from_utf8(value) else {
        return "<binary>".to_owned();
    };
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "authorization" | "proxy-authorization" => match v.split_once(' ') {
            Some((scheme, _)) => format!("{scheme} <redacted>"),
            None => "<redacted>".to_owned(),
        },
        _ if is_secret_header(&lower) => "<redacted>".to_owned(),
        "location" | "content-location" | "link" => url(v),
        _ => v.to_owned(),
    }
}

/// The secrets a request's headers carry (its `Authorization` and the like): what
/// [`echoes`] hides wherever a server repeats them.
pub fn secrets_of(headers: &http::HeaderMap) -> Vec<String> {
    headers
        .iter()
        .filter(|(k, _)| is_secret_header(k.as_str()))
        .flat_map(|(_, v)| authorization_secrets(&String::from_utf8_lossy(v.as_bytes())))
        .collect()
}

/// The secrets an `Authorization` value carries: the credential after the scheme,
/// and for Basic the password decoded (a server may echo either).
pub(crate) fn authorization_secrets(value: &str) -> Vec<String> {
    use base64::Engine as _;
    let Some((scheme, credential)) = value.trim().split_once(' ') else {
        return vec![value.trim().to_owned()];
    };
    let credential = credential.trim();
    let mut out = vec![credential.to_owned()];
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(credential);
        if let Some((_, password)) = decoded
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .as_deref()
            .and_then(|d| d.split_once(':'))
        {
            out.push(password.to_owned());
        }
    }
    out
}

/// `text` with every occurrence of each secret replaced by `<redacted>`. Secrets
/// shorter than 4 characters are left alone (they would hide ordinary text and
/// protect nothing).
pub fn echoes(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "<redacted>");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            url("https://cdn/x?X-Amz-Signature=s3cr3t&scope=repository:a:pull&sig=1&token=t"),
            "https://cdn/x?X-Amz-Signature=REDACTED&scope=repository:a:pull&sig=REDACTED&token=REDACTED"
        );
        assert_eq!(url("https://a/b"), "https://a/b");
        assert_eq!(
            url(r#"</v2/a/tags/list?last=b&sig=x>; rel="next""#),
            r#"</v2/a/tags/list?last=b&sig=REDACTED>; rel="next""#
        );
        assert_eq!(
            url("https://user:pw@cdn.example/b?n=2#frag"),
            "https://REDACTED@cdn.example/b?n=2#frag"
        );
        assert_eq!(url("https://cdn.example/a@b"), "https://cdn.example/a@b");
    }

    #[test]
    fn headers() {
        assert_eq!(
            header("Authorization", b"Bearer abc.def"),
            "Bearer <redacted>"
        );
        assert_eq!(header("cookie", b"a=b"), "<redacted>");
        assert_eq!(header("X-Amz-Security-Token", b"t"), "<redacted>");
        assert_eq!(
            header("content-type", b"application/json"),
            "application/json"
        );
        assert_eq!(
            header(
                "location",
                b"https://s3/b?X-Amz-Credential=k&X-Amz-Signature=s"
            ),
            "https://s3/b?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED"
        );
        assert_eq!(header("x", b"\xff"), "<binary>");
    }

    #[test]
    fn echoed_secrets() {
        let secrets = authorization_secrets("Basic dXNlcjpodW50ZXIy");
        assert_eq!(secrets, ["dXNlcjpodW50ZXIy", "hunter2"]);
        assert_eq!(
            echoes("you sent Basic dXNlcjpodW50ZXIy (hunter2)", &secrets),
            "you sent Basic <redacted> (<redacted>)"
        );
        assert_eq!(authorization_secrets("Bearer tok"), ["tok"]);
        assert_eq!(echoes("a b", &["a".into()]), "a b");
    }
}
