//! `replay DIR`: a recording's command line, run again in a session of its own with
//! the recording answering in the network's place; its exit code as it was.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;

use crate::record;

/// How a command line is run (`main`'s), for the recorded one.
pub type Execute = fn(Vec<std::ffi::OsString>, Option<crate::session::Replayed>) -> ExitCode;

/// `replay DIR`: the recorded command line, run by `execute` in a session of its own.
pub fn replay(dir: &Path, execute: Execute) -> Result<ExitCode> {
    let recorded = record::load(dir)?;
    let replaying = Arc::new(recorded.exchanges);
    let mut argv = vec![std::ffi::OsString::from("regpeek")];
    argv.extend(recorded.argv);
    let code = execute(
        argv,
        Some(crate::session::Replayed {
            exchanges: replaying.clone(),
            credentials: recorded.credentials,
            names: recorded.names,
        }),
    );
    let unused = replaying.unused();
    if unused > 0 {
        eprintln!(
            "regpeek: replay: {unused} recorded exchange{} never asked for (the command went another way)",
            if unused == 1 { " was" } else { "s were" }
        );
    }
    Ok(code)
}
