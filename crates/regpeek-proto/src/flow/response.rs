//! A resource request answered: route the response to the concern it belongs to
//! (redirect, auth, retry, manifest walk, listing), and turn error statuses into
//! typed errors.

use std::time::SystemTime;

use http::StatusCode;
use url::Url;

use super::check::{collect_rate_limit, collect_warnings, same_origin, strip_query};
use super::{Action, Flow, Go, Goal, HostAuth, Next, Outcome, Retry, SentAuth, Step, Wait};
use crate::auth::Credentials;
use crate::error::{Error, Peer, parse_registry_errors};

impl Flow {
    pub(super) fn on_resource(
        &mut self,
        now: SystemTime,
        url: Url,
        hops: u8,
        sent: SentAuth,
        resp: http::Response<Vec<u8>>,
    ) -> Next {
        collect_warnings(resp.headers(), &mut self.state.at.result.warnings);
        collect_rate_limit(resp.headers(), &mut self.state.at.result.rate_limit);
        let status = resp.status();
        if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
            return self.on_redirect(now, &url, hops, resp.headers());
        }
        // A remembered location that no longer serves the blob: ask the registry.
        if std::mem::take(&mut self.via_location) && !status.is_success() {
            return Ok(Go::Issue);
        }
        if status == StatusCode::UNAUTHORIZED && same_origin(&url, &self.state.at.base) {
            return self.on_challenge(&resp, sent, false);
        }
        // No referrers API (distribution 2.8 and others): the tag schema instead; no
        // fallback tag: nothing refers to the image that way.
        match (&self.state.at.step, status.as_u16()) {
            (Step::Referrers { subject, .. }, 400 | 404 | 405) => {
                self.state.at.step = Step::ReferrersTag {
                    subject: subject.clone(),
                };
                return Ok(Go::Issue);
            }
            (Step::ReferrersTag { .. }, 404) => return self.next_attestation(),
            _ => {}
        }
        if !status.is_success() {
            if let Some(after) = self.retry_delay(&resp) {
                // A registry that asks for a pause past the deadline is a rate limit,
                // reported at once with when to retry (not a timeout waited for).
                let past_deadline = after
                    .and_then(|a| now.checked_add(a))
                    .zip(self.cfg.deadline)
                    .is_some_and(|(until, deadline)| until >= deadline);
                if status == StatusCode::TOO_MANY_REQUESTS && past_deadline {
                    return Err(self.status_error(&url, &resp));
                }
                let peer = if same_origin(&url, &self.state.at.base) {
                    Peer::Registry
                } else {
                    Peer::Redirect
                };
                let shown = strip_query(&url);
                return self.schedule_retry(
                    now,
                    Some(status.as_u16()),
                    after,
                    Retry::Resource { url, hops },
                    peer,
                    &shown,
                );
            }
            if matches!(self.state.at.step, Step::Top { head: true })
                && matches!(status.as_u16(), 400 | 403 | 404 | 405 | 501)
                && !self.cfg.pull_free
            {
                // A HEAD has no error body, and some registries and proxies do not
                // answer HEAD at all (405, 501): ask again with GET, once, for the
                // content or the registry's error code (MANIFEST_UNKNOWN, NAME_UNKNOWN,
                // DENIED). Never after a 429: on Docker Hub a GET is a pull.
                self.state.at.step = Step::Top { head: false };
                return Ok(Go::Issue);
            }
            return Err(self.status_error(&url, &resp));
        }
        self.state.at.auth_tries = 0;
        self.state.at.retries = 0;
        match self.state.at.step.clone() {
            Step::Top { head: true } => self.on_top_head(&resp),
            Step::Top { head: false } => self.on_top_get(resp),
            Step::Child { desc, depth } => self.on_child(&desc, depth, resp),
            Step::Config(desc) => self.on_config(&desc, resp),
            Step::Blob(digest) => {
                let size = resp
                    .headers()
                    .get(http::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok()?.parse().ok());
                let partial = resp.status() == StatusCode::PARTIAL_CONTENT;
                let location = (!same_origin(&url, &self.state.at.base)).then_some(url);
                Ok(Go::To(
                    Wait::Done,
                    Action::Done(Ok(Outcome::Blob {
                        digest,
                        size,
                        partial,
                        location,
                    })),
                ))
            }
            Step::Page(page) => self.on_page(&url, page, resp),
            Step::Referrers { subject, .. } => self.on_referrers_page(&url, subject, resp),
            Step::ReferrersTag { .. } => self.on_referrers_tag(resp),
            Step::Attestation(desc) => self.on_attestation(&desc, resp),
            Step::Check => {
                let authenticated = !matches!(self.state.at.auth, HostAuth::None)
                    || matches!(self.state.at.credentials, Some(Credentials::Bearer(_)));
                Ok(Go::To(
                    Wait::Done,
                    Action::Done(Ok(Outcome::LoggedIn { authenticated })),
                ))
            }
        }
    }

    /// An error status as a typed error, with the registry's error code and message.
    fn status_error(&self, url: &Url, resp: &http::Response<Vec<u8>>) -> Error {
        let status = resp.status();
        let subject = self.subject();
        let errors = parse_registry_errors(resp.body());
        let first = errors.first();
        let code = first
            .filter(|e| !e.code.is_empty())
            .map(|e| crate::error::RegistryCode::parse(&e.code));
        let message = first.map(|e| e.message.clone()).filter(|m| !m.is_empty());
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        match status.as_u16() {
            429 => Error::RateLimited {
                subject,
                retry_after: super::check::wait_asked_text(resp),
                remaining: header("ratelimit-remaining"),
            },
            s @ (401 | 403) => Error::Denied {
                subject,
                status: s,
                code,
                message,
                anonymous: self.state.at.credentials.is_none(),
            },
            s @ 400..=599 => Error::Registry {
                subject,
                status: s,
                code,
                message,
                default_tag: matches!(self.state.at.step, Step::Top { .. })
                    && self.cfg.reference.tag_is_default()
                    && status == StatusCode::NOT_FOUND
                    && !matches!(self.cfg.goal, Goal::Tags { .. }),
            },
            s => Error::UnexpectedStatus {
                subject,
                status: s,
                url: strip_query(url),
            },
        }
    }
}
