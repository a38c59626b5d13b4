//! The core's one URL type is [`url::Url`]. A URL enters the core in five places: the
//! registry's API base, a mirror endpoint, a token realm, a redirect's `Location` and a
//! listing's `Link`. Each goes through [`checked`], which also asks `http::Uri` (the type
//! of the requests the core hands out), so nothing accepted by one parser is refused by
//! the next: a request is only ever built from a URL both accept.

use url::Url;

/// `url` if it can be requested: http or https, a host, and a valid `http::Uri`.
pub(crate) fn checked(url: Url) -> Result<Url, &'static str> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err("only http and https URLs are used");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host");
    }
    if url.as_str().len() > 8 * 1024 {
        return Err("the URL is longer than 8 KiB");
    }
    http::Uri::try_from(url.as_str()).map_err(|_| "not a valid request URI")?;
    Ok(url)
}

/// `reference` resolved against `base` (absolute or relative), then [`checked`]; the
/// fragment is dropped.
pub(crate) fn join(base: &Url, reference: &str) -> Result<Url, &'static str> {
    let mut url = base.join(reference).map_err(|_| "not a valid URL")?;
    url.set_fragment(None);
    checked(url)
}

/// The request URI of a checked URL.
pub(crate) fn to_uri(url: &Url) -> Result<http::Uri, &'static str> {
    http::Uri::try_from(url.as_str()).map_err(|_| "not a valid request URI")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_parsers_agree() {
        let base = Url::parse("https://reg.example/v2/a/tags/list").unwrap();
        for ok in [
            "/v2/a/tags/list?last=b",
            "https://other.example:5000/x",
            "http://[::1]:5000/v2/",
        ] {
            let u = join(&base, ok).unwrap();
            assert!(to_uri(&u).is_ok(), "{ok}");
        }
        for bad in [
            "http://auth.`x/token",
            "ftp://reg.example/",
            "data:text/plain,x",
            "http://a b/",
            "http://[zz]/",
        ] {
            assert!(join(&base, bad).is_err(), "{bad}");
        }
        // Scheme-relative-looking paths stay on the origin once resolved.
        let u = join(&base, "/.//other.host:5000/v2/x/tags/list?last=b").unwrap();
        assert_eq!(u.host_str(), Some("reg.example"));
    }
}
