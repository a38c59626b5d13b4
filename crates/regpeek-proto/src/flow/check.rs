//! Checks and readings of responses, shared by the transitions.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, DATE, RETRY_AFTER, WARNING};
use url::Url;

use crate::digest::Digest;
use crate::error::{Error, Subject};
use crate::manifest::{Descriptor, bare_media_type};

pub(super) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

pub(super) use crate::redact::without_query as strip_query;

pub(super) fn check_size(body: &[u8], limit: usize, subject: Subject) -> Result<(), Error> {
    if body.len() > limit {
        return Err(Error::BodyTooLarge { subject, limit });
    }
    Ok(())
}

pub(super) fn verify(desc: &Descriptor, body: &[u8], subject: Subject) -> Result<(), Error> {
    if body.len() as u64 != desc.size {
        return Err(Error::SizeMismatch {
            subject,
            expected: desc.size,
            actual: body.len() as u64,
        });
    }
    let actual = desc.digest.algorithm().digest(body);
    if actual != desc.digest {
        return Err(Error::DigestMismatch {
            subject,
            expected: desc.digest.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(())
}

pub(super) fn content_type(h: &HeaderMap) -> Option<String> {
    h.get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(bare_media_type)
        .filter(|t| !t.is_empty())
}

pub(super) fn content_length(h: &HeaderMap) -> Option<u64> {
    h.get(CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

pub(super) fn docker_digest(h: &HeaderMap) -> Result<Option<Digest>, Error> {
    let Some(v) = h.get("docker-content-digest") else {
        return Ok(None);
    };
    let s = v.to_str().map_err(|_| Error::InvalidHeader {
        header: "Docker-Content-Digest",
        detail: "not ASCII".into(),
    })?;
    Digest::parse(s.trim())
        .map(Some)
        .map_err(|e| Error::InvalidHeader {
            header: "Docker-Content-Digest",
            detail: e.to_string(),
        })
}

/// Collects `Warning: 299 - "text"` values, deduplicated.
pub(super) fn collect_warnings(h: &HeaderMap, out: &mut Vec<String>) {
    for v in h.get_all(WARNING) {
        let Ok(s) = v.to_str() else { continue };
        let Some(rest) = s.trim().strip_prefix("299") else {
            continue;
        };
        let text = rest
            .trim()
            .trim_start_matches('-')
            .trim()
            .trim_matches('"')
            .to_owned();
        if !text.is_empty() && !out.contains(&text) {
            out.push(text);
        }
    }
}

/// What a registry says of its pull limit (Docker Hub's `ratelimit-limit`,
/// `ratelimit-remaining`, `docker-ratelimit-source`), the last response's that said it.
pub(super) fn collect_rate_limit(h: &HeaderMap, out: &mut Option<crate::RateLimit>) {
    let get = |name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned())
    };
    let (limit, remaining) = (get("ratelimit-limit"), get("ratelimit-remaining"));
    if limit.is_none() && remaining.is_none() {
        return;
    }
    *out = Some(crate::RateLimit {
        limit,
        remaining,
        source: get("docker-ratelimit-source"),
    });
}

/// `Retry-After` as a duration: delta-seconds, or an HTTP-date measured against the
/// response's own `Date` (the core has no clock of its own).
pub(crate) fn retry_after(h: &HeaderMap) -> Option<Duration> {
    let v = h.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at: SystemTime = httpdate::parse_http_date(v).ok()?;
    let date = h
        .get(DATE)
        .and_then(|d| d.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d).ok())?;
    Some(at.duration_since(date).unwrap_or_default())
}
