//! Transitions of tag and catalog listings: pages, `Link` pagination (same origin
//! only, no loops, at most [`MAX_PAGES`]), `limit`.

use url::Url;

use super::check::{check_size, same_origin, strip_query};
use super::{Action, Flow, Go, Goal, MAX_PAGES, Next, Outcome, Step, Wait};
use crate::error::Error;
use crate::list::Listing;
use crate::uri;

impl Flow {
    /// The first page's URL, with `n=` when a page size or limit was asked.
    pub(super) fn first_page(&self) -> Result<Url, Error> {
        let path = match self.cfg.goal {
            Goal::Catalog { .. } => "/v2/_catalog".to_owned(),
            _ => format!("/v2/{}/tags/list", self.cfg.reference.repository()),
        };
        let (limit, page_size) = self.cfg.goal.listing().unwrap_or_default();
        let limit = limit.map(|l| u32::try_from(l.min(1000)).unwrap_or(1000));
        let path = match page_size.or(limit) {
            Some(n) => format!("{path}?n={n}"),
            None => path,
        };
        uri::join(&self.state.at.base, &path).map_err(|reason| Error::InvalidUrl {
            what: self.subject().to_string(),
            url: path,
            reason,
        })
    }

    /// A page arrived: keep its entries, then follow `Link` or finish.
    pub(super) fn on_page(&mut self, url: &Url, page: Url, resp: http::Response<Vec<u8>>) -> Next {
        let subject = self.subject();
        check_size(resp.body(), self.cfg.limits.list, subject.clone())?;
        let key = match self.cfg.goal {
            Goal::Catalog { .. } => "repositories",
            _ => "tags",
        };
        let entries = crate::list::parse_page(resp.body(), key)?;
        if key == "tags" {
            let page = self.state.at.result.seen_pages.len();
            let details = crate::list::parse_details(resp.body(), page);
            self.state.at.result.details.extend(details);
        }
        self.state.at.result.seen_pages.push(page);
        self.state.at.result.items.extend(entries);
        let (limit, _) = self.cfg.goal.listing().unwrap_or_default();
        let next = next_page(resp.headers(), url, &subject)?;
        if let Some(l) = limit
            && self.state.at.result.items.len() >= l
        {
            let more = self.state.at.result.items.len() > l || next.is_some();
            self.state.at.result.items.truncate(l);
            return Ok(self.listing_done(!more).into());
        }
        let Some(next) = next else {
            return Ok(self.listing_done(true).into());
        };
        self.state.at.step = Step::Page(self.follow(next, &subject)?);
        Ok(Go::Issue)
    }

    /// `next`, if it may be followed: on the registry's origin, not a page seen
    /// before, within [`MAX_PAGES`]. `what` names the listing in the error.
    pub(super) fn follow(&self, next: Url, what: &dyn std::fmt::Display) -> Result<Url, Error> {
        if !same_origin(&next, &self.state.at.base) {
            return Err(Error::InvalidListing {
                detail: format!(
                    "{what}: next page {} is on another origin",
                    strip_query(&next)
                ),
            });
        }
        if self.state.at.result.seen_pages.contains(&next)
            || self.state.at.result.seen_pages.len() >= MAX_PAGES
        {
            return Err(Error::InvalidListing {
                detail: format!("{what}: pagination loops or exceeds {MAX_PAGES} pages"),
            });
        }
        Ok(next)
    }

    fn listing_done(&mut self, complete: bool) -> (Wait, Action) {
        let r = std::mem::take(&mut self.state.at.result);
        // Details of the tags kept (a limit cuts the list, not the pages' maps).
        let kept: std::collections::HashSet<&str> = r.items.iter().map(String::as_str).collect();
        let details = r
            .details
            .iter()
            .filter(|d| kept.contains(d.tag.as_str()))
            .cloned()
            .collect();
        (
            Wait::Done,
            Action::Done(Ok(Outcome::List(Listing {
                details,
                items: r.items,
                pages: r.seen_pages.len(),
                complete,
            }))),
        )
    }
}

/// The next page a `Link` header names, relative to the page at `url`;
/// `what` names the listing in the error.
pub(super) fn next_page(
    headers: &http::HeaderMap,
    url: &Url,
    what: &dyn std::fmt::Display,
) -> Result<Option<Url>, Error> {
    crate::list::next_link(
        headers
            .get_all(http::header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok()),
        url,
    )
    .map_err(|reason| Error::InvalidListing {
        detail: format!("{what}: the next page's Link is unusable: {reason}"),
    })
}
