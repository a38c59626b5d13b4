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
    /// What the registry's pages said of each tag beyond its name, where they say it
    /// (Google Container Registry and Artifact Registry: the `manifest` map of
    /// `tags/list`); empty elsewhere.
    pub details: Vec<TagDetail>,
}

/// What a tag list says of one tag beyond its name: Google Container Registry's and
/// Artifact Registry's `manifest` map, keyed by digest (docs/protocol.md §2.1).
/// A registry's own claim: a caller checks it against a `HEAD` before trusting it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TagDetail {
    /// The tag.
    pub tag: String,
    /// The digest the registry says it points at.
    pub digest: crate::Digest,
    /// Its media type.
    pub media_type: Option<String>,
    /// `imageSizeBytes`: the image's size as the registry counts it.
    pub size: Option<u64>,
    /// `timeCreatedMs`: the image's creation, in milliseconds since the epoch.
    pub created_ms: Option<u64>,
    /// `timeUploadedMs`: when it was pushed, in milliseconds since the epoch.
    pub uploaded_ms: Option<u64>,
    /// The page (from 0) that said it.
    pub page: usize,
}

/// The `manifest` map of a tag list page (GCR, Artifact Registry), one detail per
/// tag it names; entries that cannot be read are skipped.
pub(crate) fn parse_details(body: &[u8], page: usize) -> Vec<TagDetail> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Vec::new();
    };
    let Some(map) = v.get("manifest").and_then(|m| m.as_object()) else {
        return Vec::new();
    };
    // Numbers come as strings ("1234") or as numbers.
    let number = |v: Option<&serde_json::Value>| -> Option<u64> {
        match v? {
            serde_json::Value::String(s) => s.parse().ok(),
            n => n.as_u64(),
        }
    };
    let mut details = Vec::new();
    for (digest, entry) in map {
        let Ok(digest) = crate::Digest::parse(digest) else {
            continue;
        };
        let tags = entry.get("tag").and_then(|t| t.as_array());
        for tag in tags.into_iter().flatten().filter_map(|t| t.as_str()) {
            details.push(TagDetail {
                tag: tag.to_owned(),
                digest: digest.clone(),
                media_type: entry
                    .get("mediaType")
                    .and_then(|m| m.as_str())
                    .map(str::to_owned),
                size: number(entry.get("imageSizeBytes")),
                created_ms: number(entry.get("timeCreatedMs")),
                uploaded_ms: number(entry.get("timeUploadedMs")),
                page,
            });
        }
    }
    details
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
    fn gcr_details() {
        let d = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
        let body = format!(
            r#"{{"name":"p/app","tags":["a","b"],"manifest":{{"{d}":{{"imageSizeBytes":"1234","mediaType":"application/vnd.oci.image.manifest.v1+json","tag":["a","b"],"timeCreatedMs":"1577836800000","timeUploadedMs":1577836801000}},"not-a-digest":{{"tag":["c"]}}}}}}"#
        );
        let got = parse_details(body.as_bytes(), 3);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].tag, "a");
        assert_eq!(got[1].tag, "b");
        assert_eq!(got[0].digest.to_string(), d);
        assert_eq!(got[0].size, Some(1234));
        assert_eq!(got[0].created_ms, Some(1_577_836_800_000));
        assert_eq!(got[0].uploaded_ms, Some(1_577_836_801_000));
        assert_eq!(got[0].page, 3);
        assert!(parse_details(br#"{"tags":["a"]}"#, 0).is_empty());
        assert!(parse_details(b"<html>", 0).is_empty());
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
