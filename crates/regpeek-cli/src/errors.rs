//! The CLI's own errors: usage errors (exit 2) and a reader that went away.

/// Whether `err` comes from writing to a pipe nobody reads any more, however it was
/// wrapped on the way (context, serde_json's writer).
pub fn broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        let kind = if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            Some(io.kind())
        } else {
            cause
                .downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
        };
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// The core's error behind `err`, however it was wrapped (the ureq driver's
/// [`regpeek_ureq::RunError`], context): what next steps and exit codes are chosen by.
pub fn core_error(err: &anyhow::Error) -> Option<&regpeek_proto::Error> {
    err.chain().find_map(|cause| {
        cause
            .downcast_ref::<regpeek_ureq::RunError>()
            .map(|r| &r.error)
            .or_else(|| cause.downcast_ref::<regpeek_proto::Error>())
    })
}

/// A usage error found after parsing (arguments clap cannot judge alone: flags that
/// do not go together, values that cannot be right): exit 2, like clap's own.
#[derive(Debug)]
pub struct Usage(String);

/// A [`Usage`] error.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    Usage(message.into()).into()
}

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}
