//! The transition table as data, as h11 keeps its own: every (state, input, next
//! state) the flow may take. `graph.md` says the same rows in words, in the same
//! order, with the action each hands out (a unit test holds the two together), and
//! [`Flow::step`](super::Flow) checks every transition it takes against this table in
//! debug builds: every test, and the fuzz targets, run under it.
//!
//! An input is seen as the table needs it, from the input alone: a poll, a response
//! by its status class, or a transport failure. Two ways out of a state do not
//! depend on the input: an error that ends the flow, and an error on a mirror that
//! moves on to the next endpoint; their rows say so.

use super::{Action, Input, Wait};

/// A state's name, as the graph spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Name {
    Start,
    Resource,
    Token,
    Ping,
    Backoff,
    Done,
}

use Name::{Backoff, Done, Ping, Resource, Start, Token};

impl Name {
    /// Every state.
    pub(super) const ALL: [Name; 6] = [Start, Resource, Token, Ping, Backoff, Done];

    pub(super) fn of(wait: &Wait) -> Name {
        match wait {
            Wait::Start => Start,
            Wait::Resource { .. } => Resource,
            Wait::Token { .. } => Token,
            Wait::Ping => Ping,
            Wait::Backoff { .. } => Backoff,
            Wait::Done => Done,
        }
    }

    pub(super) const fn as_str(self) -> &'static str {
        match self {
            Start => "Start",
            Resource => "Resource",
            Token => "Token",
            Ping => "Ping",
            Backoff => "Backoff",
            Done => "Done",
        }
    }
}

/// An input, as the table tells inputs apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum On {
    Poll,
    /// 2xx.
    Success,
    /// 3xx.
    Redirect,
    /// 401.
    Unauthorized,
    /// 429, 502, 503, 504: the statuses retried.
    Retryable,
    /// Any other status.
    Status,
    /// A transport failure.
    Failure,
}

use On::{Failure, Poll, Redirect, Retryable, Status, Success, Unauthorized};

impl On {
    pub(super) fn of(input: &Input) -> On {
        match input {
            Input::Poll => Poll,
            Input::Failure(_) => Failure,
            Input::Response(r) => match r.status().as_u16() {
                200..=299 => Success,
                300..=399 => Redirect,
                401 => Unauthorized,
                429 | 502..=504 => Retryable,
                _ => Status,
            },
        }
    }
}

/// What takes a row: an input of these kinds, or a way out whatever the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Via {
    Input(&'static [On]),
    /// The flow ends with an error (`Action::Done(Err(..))`).
    Error,
    /// An error on a mirror: the flow moves on to the next endpoint.
    NextEndpoint,
}

/// One row: from any of `from`, by `via`, to `to`. `input` is the graph's words.
#[derive(Debug)]
pub(super) struct Row {
    pub(super) from: &'static [Name],
    pub(super) input: &'static str,
    pub(super) via: Via,
    pub(super) to: Name,
}

const fn row(from: &'static [Name], input: &'static str, via: Via, to: Name) -> Row {
    Row {
        from,
        input,
        via,
        to,
    }
}

const ANY: &[Name] = &Name::ALL;
const AT_LOCATION: &str = "an error status, or refused or reset, at a blob's remembered location";

/// The table, in the order of `graph.md`'s.
pub(super) const TABLE: &[Row] = &[
    row(&[Start], "poll", Via::Input(&[Poll]), Token),
    row(&[Start], "poll", Via::Input(&[Poll]), Resource),
    row(&[Start], "poll", Via::Input(&[Poll]), Done),
    row(
        &[Start],
        "poll during a registry's hold",
        Via::Input(&[Poll]),
        Start,
    ),
    row(&[Resource], "2xx", Via::Input(&[Success]), Resource),
    row(&[Resource], "2xx", Via::Input(&[Success]), Token),
    row(&[Resource], "2xx", Via::Input(&[Success]), Done),
    row(
        &[Resource],
        AT_LOCATION,
        Via::Input(&[Unauthorized, Retryable, Status, Failure]),
        Resource,
    ),
    row(
        &[Resource],
        AT_LOCATION,
        Via::Input(&[Unauthorized, Retryable, Status, Failure]),
        Token,
    ),
    row(&[Resource], "3xx", Via::Input(&[Redirect]), Resource),
    row(
        &[Resource],
        "401 Bearer",
        Via::Input(&[Unauthorized]),
        Token,
    ),
    row(
        &[Resource],
        "401 Bearer",
        Via::Input(&[Unauthorized]),
        Resource,
    ),
    row(
        &[Resource],
        "401 Basic",
        Via::Input(&[Unauthorized]),
        Resource,
    ),
    row(
        &[Resource],
        "401 without a challenge",
        Via::Input(&[Unauthorized]),
        Ping,
    ),
    row(
        &[Resource],
        "400, 403, 404, 405, 501 to the top HEAD",
        Via::Input(&[Status]),
        Resource,
    ),
    row(
        &[Resource],
        "400, 404, 405 to the referrers API",
        Via::Input(&[Status]),
        Resource,
    ),
    row(
        &[Resource],
        "404 to the referrers tag",
        Via::Input(&[Status]),
        Resource,
    ),
    row(
        &[Resource],
        "404 to the referrers tag",
        Via::Input(&[Status]),
        Done,
    ),
    row(
        &[Resource],
        "429, 502, 503, 504",
        Via::Input(&[Retryable]),
        Backoff,
    ),
    row(
        &[Resource],
        "refused or reset",
        Via::Input(&[Failure]),
        Backoff,
    ),
    row(
        &[Resource],
        "loopback https, no TLS",
        Via::Input(&[Failure]),
        Resource,
    ),
    row(&[Token], "200", Via::Input(&[Success]), Resource),
    row(
        &[Token],
        "404 or 405 to the POST",
        Via::Input(&[Status]),
        Token,
    ),
    row(
        &[Token],
        "5xx to a GET",
        Via::Input(&[Retryable, Status]),
        Backoff,
    ),
    row(
        &[Token],
        "refused or reset",
        Via::Input(&[Failure]),
        Backoff,
    ),
    row(&[Ping], "401 Bearer", Via::Input(&[Unauthorized]), Token),
    row(&[Ping], "401 Bearer", Via::Input(&[Unauthorized]), Resource),
    row(&[Ping], "401 Basic", Via::Input(&[Unauthorized]), Resource),
    row(&[Ping], "refused or reset", Via::Input(&[Failure]), Backoff),
    row(
        &[Ping],
        "loopback https, no TLS",
        Via::Input(&[Failure]),
        Resource,
    ),
    row(
        &[Backoff],
        "poll before its time",
        Via::Input(&[Poll]),
        Backoff,
    ),
    row(
        &[Backoff],
        "poll at its time",
        Via::Input(&[Poll]),
        Resource,
    ),
    row(&[Backoff], "poll at its time", Via::Input(&[Poll]), Token),
    row(&[Backoff], "poll at its time", Via::Input(&[Poll]), Ping),
    row(ANY, "an error, on a mirror", Via::NextEndpoint, Resource),
    row(ANY, "an error, on a mirror", Via::NextEndpoint, Token),
    row(ANY, "an error", Via::Error, Done),
    row(ANY, "past the deadline", Via::Error, Done),
    row(ANY, "offline", Via::Error, Done),
    row(ANY, "no TLS in the driver", Via::Error, Done),
    row(&[Done], "anything", Via::Error, Done),
];

/// How a transition was taken, as the table tells ways apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Taken {
    /// By an input of this kind.
    Input(On),
    /// It ended the flow with an error.
    Error,
    /// It moved on to the next endpoint.
    NextEndpoint,
}

impl Taken {
    pub(super) fn of(on: On, action: &Action, moved: bool) -> Taken {
        match action {
            Action::Done(Err(_)) => Taken::Error,
            _ if moved => Taken::NextEndpoint,
            _ => Taken::Input(on),
        }
    }
}

/// Whether some row takes the flow from `from` to `to` this way.
pub(super) fn allows(from: Name, taken: Taken, to: Name) -> bool {
    TABLE.iter().any(|row| {
        row.to == to
            && row.from.contains(&from)
            && match (row.via, taken) {
                (Via::Input(kinds), Taken::Input(on)) => kinds.contains(&on),
                (Via::Error, Taken::Error) | (Via::NextEndpoint, Taken::NextEndpoint) => true,
                _ => false,
            }
    })
}

/// Checks one transition against the table (debug builds only).
pub(super) fn check(from: Name, on: On, action: &Action, moved: bool, to: Name) {
    let taken = Taken::of(on, action, moved);
    debug_assert!(
        allows(from, taken, to),
        "the flow took a transition its table has no row for: {} by {taken:?} to {} (its rows from {0}: {:?})",
        from.as_str(),
        to.as_str(),
        TABLE
            .iter()
            .filter(|r| r.from.contains(&from))
            .map(|r| (r.input, r.to.as_str()))
            .collect::<Vec<_>>()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table's rows as `graph.md` writes them: (from, input, to).
    fn graph_rows() -> Vec<(String, String, String)> {
        include_str!("graph.md")
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| state"))
            .map(|row| {
                let cols: Vec<String> = row.split('|').map(|c| c.trim().replace('`', "")).collect();
                (cols[1].clone(), cols[2].clone(), cols[3].clone())
            })
            .collect()
    }

    #[test]
    fn the_graph_in_the_docs_is_the_table_in_the_code() {
        let code: Vec<(String, String, String)> = TABLE
            .iter()
            .map(|r| {
                let from = if r.from == ANY {
                    "any".to_owned()
                } else {
                    r.from
                        .iter()
                        .map(|n| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                (from, r.input.to_owned(), r.to.as_str().to_owned())
            })
            .collect();
        assert_eq!(graph_rows(), code, "graph.md and table::TABLE disagree");
    }

    #[test]
    fn the_check_refuses_what_no_row_allows() {
        assert!(allows(Resource, Taken::Input(Success), Done));
        assert!(!allows(Start, Taken::Input(Poll), Backoff));
        assert!(!allows(Token, Taken::Input(Redirect), Resource));
        assert!(!allows(Backoff, Taken::NextEndpoint, Ping));
        assert!(allows(Ping, Taken::NextEndpoint, Token));
    }
}
