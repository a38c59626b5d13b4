//! The error of the string parsers (references, platforms, digests): kept apart from
//! [`Error`](crate::Error), which names these types, so that they need not name it.

/// Why a reference, platform or digest string was rejected; shown as
/// `invalid <what> "<input>": <reason>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {input:?}: {reason}")]
pub struct ParseError {
    what: &'static str,
    input: String,
    reason: String,
}

impl ParseError {
    pub(crate) fn new(what: &'static str, input: &str, reason: impl Into<String>) -> Self {
        ParseError {
            what,
            input: input.to_owned(),
            reason: reason.into(),
        }
    }

    /// What is wrong, without the input.
    pub(crate) fn reason(&self) -> &str {
        &self.reason
    }
}
