//! Transitions of redirects: the flow follows them itself, so that `Authorization`
//! never leaves the registry's origin and https never drops to http.

use std::time::SystemTime;

use http::HeaderMap;
use http::header::LOCATION;
use url::Url;

use super::check::strip_query;
use super::{Flow, MAX_REDIRECTS, Next};
use crate::error::Error;
use crate::uri;

impl Flow {
    /// A 3xx: follow `Location` (at most [`MAX_REDIRECTS`] hops).
    pub(super) fn on_redirect(
        &mut self,
        now: SystemTime,
        from: &Url,
        hops: u8,
        headers: &HeaderMap,
    ) -> Next {
        let location = headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::BadRedirect {
                subject: self.subject(),
                location: String::new(),
                reason: "no usable Location header",
            })?;
        let to = uri::join(from, location).map_err(|reason| Error::BadRedirect {
            subject: self.subject(),
            location: location.split('?').next().unwrap_or_default().to_owned(),
            reason,
        })?;
        if from.scheme() == "https" && to.scheme() == "http" {
            return Err(Error::BadRedirect {
                subject: self.subject(),
                location: strip_query(&to),
                reason: "https to plain http",
            });
        }
        if hops >= MAX_REDIRECTS {
            return Err(Error::TooManyRedirects {
                subject: self.subject(),
                limit: MAX_REDIRECTS,
            });
        }
        self.resource_request(now, to, hops + 1)
    }
}
