//! Tag and catalog listings: page bodies and `Link` pagination (docs/protocol.md §2).

use url::Url;

use crate::error::Error;

/// What a finished listing flow hands back.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Listing {
    /// Tags or repository names, in the order the registry sent them.
    pub items: Vec<String>,
    /// How many pages were fetched.
    pub pages: usize,
    /// False when `limit` stopped the listing before the registry's last page.
    pub complete: bool,
}

/// Reads one page: `{"tags": [...]}` or `{"repositories": [...]}`. `null` lists are
/// empty and `null` or non-string entries are skipped (Nexus, Artifactory).
pub(crate) fn parse_page(body: &[u8], key: &str) -> Result<Vec<String>, Error> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| Error::InvalidListing {
        detail: format!("not JSON: {e}"),
    })?;
    let obj = v.as_object().ok_or_else(|| Error::InvalidListing {
        detail: "not a JSON object".into(),
    })?;
    match obj.get(key) {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::Array(a)) => Ok(a
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect()),
        Some(_) => Err(Error::InvalidListing {
            detail: format!("\"{key}\" is not a list"),
        }),
    }
}

/// The `rel="next"` target of `Link` header values, resolved against `current`;
/// an error when the target cannot be requested.
pub(crate) fn next_link<'a>(
    values: impl IntoIterator<Item = &'a str>,
    current: &Url,
) -> Result<Option<Url>, &'static str> {
    for value in values {
        // A header may hold several comma-separated links; a URL may hold commas too,
        // so split on `<` instead.
        for part in value.split('<').skip(1) {
            let Some((target, params)) = part.split_once('>') else {
                continue;
            };
            let is_next = params.split(';').skip(1).any(|p| {
                let p = p.trim().trim_end_matches(',').trim();
                let Some((k, v)) = p.split_once('=') else {
                    return false;
                };
                k.trim().eq_ignore_ascii_case("rel")
                    && v.trim()
                        .trim_matches('"')
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
            });
            if is_next {
                return crate::uri::join(current, target.trim()).map(Some);
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages() {
        assert_eq!(
            parse_page(br#"{"name":"a","tags":["b","a"]}"#, "tags").unwrap(),
            ["b", "a"]
        );
        assert!(
            parse_page(br#"{"name":"a","tags":null}"#, "tags")
                .unwrap()
                .is_empty()
        );
        assert!(parse_page(br#"{"name":"a"}"#, "tags").unwrap().is_empty());
        assert_eq!(
            parse_page(br#"{"tags":["x",null,"sha256:abc",7]}"#, "tags").unwrap(),
            ["x", "sha256:abc"]
        );
        assert_eq!(
            parse_page(br#"{"repositories":["r"]}"#, "repositories").unwrap(),
            ["r"]
        );
        assert!(parse_page(br#"{"tags":"x"}"#, "tags").is_err());
        assert!(parse_page(b"[]", "tags").is_err());
        assert!(parse_page(b"<html>", "tags").is_err());
    }

    #[test]
    fn links() {
        let cur = Url::parse("https://r.example/v2/a/tags/list?n=2").unwrap();
        let next = |v: &str| next_link([v], &cur).unwrap().map(|u| u.to_string());
        assert_eq!(
            next(r#"</v2/a/tags/list?n=2&last=b>; rel="next""#).as_deref(),
            Some("https://r.example/v2/a/tags/list?n=2&last=b")
        );
        assert_eq!(
            next(r#"<https://other.example/v2/a/tags/list?last=b>; rel=next"#).as_deref(),
            Some("https://other.example/v2/a/tags/list?last=b")
        );
        assert_eq!(
            next(r#"</first>; rel="first", </v2/a/tags/list?last=c,d>; rel="prev next""#)
                .as_deref(),
            Some("https://r.example/v2/a/tags/list?last=c,d")
        );
        assert_eq!(next(r#"</x>; rel="prev""#), None);
        assert_eq!(next("garbage"), None);
        assert_eq!(next(""), None);
        // Found by fuzzing: a path of `//` once became a scheme-relative URL on re-join.
        assert_eq!(
            next(r#"</.//other.host:5000/v2/x/tags/list?last=b>; rel="next""#).as_deref(),
            Some("https://r.example//other.host:5000/v2/x/tags/list?last=b")
        );
        assert!(next_link([r#"<http://a`b/x>; rel="next""#], &cur).is_err());
    }
}
