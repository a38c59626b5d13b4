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

/// How long a 429 (or 5xx) asks to wait, in every form registries say it
/// (docs/protocol.md §9.1): `Retry-After`; else a rate-limit reset header
/// (`RateLimit-Reset`, `X-RateLimit-Reset`: seconds from now, or a Unix time against
/// the response's `Date`); else a `retry-after: <Go duration>` phrase in the body
/// (GitHub's registry: `retry-after: 129µs, allowed: 44000/minute`).
pub(crate) fn wait_asked(resp: &http::Response<Vec<u8>>) -> Option<Duration> {
    let h = resp.headers();
    if let Some(d) = retry_after(h) {
        return Some(d);
    }
    if let Some(d) = reset_header(h) {
        return Some(d);
    }
    body_phrase(resp.body()).and_then(|(_, d)| d)
}

/// What a 429 said of when to retry, as it said it, for messages: `Retry-After`'s
/// value, the reset header, or the body's phrase.
pub(crate) fn wait_asked_text(resp: &http::Response<Vec<u8>>) -> Option<String> {
    let h = resp.headers();
    let header = |name: &str| h.get(name).and_then(|v| v.to_str().ok());
    if let Some(v) = header("retry-after") {
        return Some(v.to_owned());
    }
    for name in RESET_HEADERS {
        if let Some(v) = header(name) {
            return Some(format!("{name}: {v}"));
        }
    }
    body_phrase(resp.body()).map(|(text, _)| text)
}

/// The rate-limit reset headers, in the order they are believed.
const RESET_HEADERS: [&str; 2] = ["ratelimit-reset", "x-ratelimit-reset"];

/// A reset header as a wait: small numbers are seconds from now, large ones a Unix
/// time, measured against the response's `Date`.
fn reset_header(h: &HeaderMap) -> Option<Duration> {
    let v = RESET_HEADERS
        .iter()
        .find_map(|n| h.get(*n)?.to_str().ok())?
        .trim();
    // `RateLimit-Reset` of the IETF draft may carry parameters: `30;w=60`.
    let n: u64 = v.split(';').next()?.trim().parse().ok()?;
    const A_YEAR: u64 = 365 * 24 * 3600;
    if n <= A_YEAR {
        return Some(Duration::from_secs(n));
    }
    let date = h
        .get(DATE)
        .and_then(|d| d.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d).ok())?;
    let at = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(n))?;
    Some(at.duration_since(date).unwrap_or_default())
}

/// `retry-after: <Go duration>` in the first 4 KiB of a body: the phrase as written
/// (at most 100 characters) and the duration, if it parses.
fn body_phrase(body: &[u8]) -> Option<(String, Option<Duration>)> {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]).into_owned();
    let at = text.to_ascii_lowercase().find("retry-after:")?;
    let rest = text.get(at + "retry-after:".len()..)?.trim_start();
    let value: String = rest
        .chars()
        .take_while(|c| !matches!(c, ',' | ';' | '"' | '\n' | '}'))
        .take(100)
        .collect();
    let value = value.trim();
    Some((format!("retry-after: {value}"), go_duration(value)))
}

/// A Go duration (`129µs`, `1.5s`, `2m3s`, `1h`), at most a day.
pub(crate) fn go_duration(s: &str) -> Option<Duration> {
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let units = [
            ("ns", 1e-9),
            ("us", 1e-6),
            ("µs", 1e-6),
            ("μs", 1e-6),
            ("ms", 1e-3),
            ("s", 1.0),
            ("m", 60.0),
            ("h", 3600.0),
        ];
        let (unit, scale) = units.iter().find(|(u, _)| rest.starts_with(u))?;
        rest = &rest[unit.len()..];
        total += n * scale;
    }
    (total.is_finite() && total <= 86_400.0).then(|| Duration::from_secs_f64(total))
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
