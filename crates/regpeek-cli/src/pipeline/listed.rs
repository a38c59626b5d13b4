//! What a registry's own tag list says each tag points at, where it says it (Google
//! Container Registry and Artifact Registry: the `manifest` map of `tags/list`, kept by
//! the core as [`regpeek_proto::TagDetail`]): no `HEAD` a tag then, but one a page,
//! to check the registry's word. A page whose checked tag disagrees, or a tag the map
//! leaves out, sends every tag back to its own `HEAD`.

use regpeek_client::batch::Jobs;
use std::collections::HashMap;

use anyhow::Result;
use regpeek_proto::TagDetail;

use super::inventory::{Head, heads};
use crate::args::Common;
use crate::session::Session;

/// Each of `tags` of `name` as it points now: from `details` (checked by one `HEAD`
/// a page) when they name every tag, else by a `HEAD` each.
pub fn heads_of(
    session: &Session,
    common: &Common,
    name: &str,
    tags: &[String],
    details: &[TagDetail],
    jobs: Jobs,
) -> Result<Vec<Result<Head, String>>> {
    let Some((listed, probes)) = from_details(tags, details) else {
        return heads(session, common, name, tags, jobs);
    };
    let probe_tags: Vec<String> = probes.iter().map(|&i| tags[i].clone()).collect();
    let probed = heads(session, common, name, &probe_tags, jobs.clone())?;
    for (&i, probe) in probes.iter().zip(&probed) {
        let said = &listed[i].digest;
        match probe {
            Ok(head) if head.digest == *said => {}
            Ok(head) => {
                session.warn_once(&format!(
                    "{name}: the registry's tag list says {} is {said}, a HEAD says {}: its list is not used, every tag is asked",
                    tags[i], head.digest
                ));
                return heads(session, common, name, tags, jobs);
            }
            // The check could not be made: ask each tag, which says why per tag.
            Err(_) => return heads(session, common, name, tags, jobs),
        }
    }
    Ok(listed.into_iter().map(Ok).collect())
}

/// Each tag as `details` say it, and the first tag of each page (by index), to be
/// checked; `None` unless every tag is named.
fn from_details(tags: &[String], details: &[TagDetail]) -> Option<(Vec<Head>, Vec<usize>)> {
    if details.is_empty() {
        return None;
    }
    let by_tag: HashMap<&str, &TagDetail> = details.iter().map(|d| (d.tag.as_str(), d)).collect();
    let mut seen_pages = Vec::new();
    let mut probes = Vec::new();
    let mut listed = Vec::with_capacity(tags.len());
    for (i, tag) in tags.iter().enumerate() {
        let d = by_tag.get(tag.as_str())?;
        if !seen_pages.contains(&d.page) {
            seen_pages.push(d.page);
            probes.push(i);
        }
        listed.push(Head {
            digest: d.digest.clone(),
            media_type: d.media_type.clone()?,
            pushed: d.uploaded_ms.and_then(rfc3339_of_ms),
        });
    }
    Some((listed, probes))
}

/// Milliseconds since the epoch, as RFC 3339 (UTC, whole seconds).
fn rfc3339_of_ms(ms: u64) -> Option<String> {
    let ts = jiff::Timestamp::from_millisecond(i64::try_from(ms).ok()?).ok()?;
    Some(ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_as_rfc3339() {
        assert_eq!(
            rfc3339_of_ms(1_767_225_600_000).as_deref(),
            Some("2026-01-01T00:00:00Z")
        );
        assert_eq!(rfc3339_of_ms(u64::MAX), None);
    }
}
