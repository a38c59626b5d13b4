//! `exists REF…`: whether references resolve, by `HEAD` only, as an exit code (the
//! check CI scripts write with `docker manifest inspect`).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use super::Images;
use crate::output::safe_line;
use crate::session::Session;

/// Exit 0: every reference resolves; 1: some do not exist, and nothing else failed;
/// 2: some could not be answered (auth, network, a broken registry). Missing
/// references are printed (one line each) when there are several, or with `-v`;
/// with `-v`, found ones too, with their digest. Errors go to standard error.
pub fn exists(session: &Session, images: &Images, out: &mut impl Write) -> Result<ExitCode> {
    let references: Vec<String> = images.list.iter().map(|(r, _)| r.clone()).collect();
    let verbose = images.common.verbose > 0;
    let found = crate::pipeline::existence(
        session,
        &images.common,
        references.clone(),
        images.jobs.clone(),
    )?;
    let (mut missing, mut failed) = (false, false);
    for (reference, found) in references.iter().zip(found) {
        let shown = safe_line(reference);
        match found {
            Ok(insp) => {
                if verbose {
                    writeln!(out, "{shown}: {}", insp.digest)?;
                }
            }
            Err(e) if not_found(&e) => {
                missing = true;
                if verbose || !images.single {
                    writeln!(out, "{shown}: not found")?;
                }
            }
            Err(e) => {
                failed = true;
                eprintln!(
                    "regpeek: error: {shown}: {}",
                    safe_line(&crate::local::humane(&format!("{e:#}")))
                );
            }
        }
    }
    out.flush()?;
    Ok(match (failed, missing) {
        (true, _) => ExitCode::from(2),
        (false, true) => ExitCode::from(1),
        (false, false) => ExitCode::SUCCESS,
    })
}

/// Whether the registry said the reference does not exist (not that it could not
/// answer, or would not); with `--platform`, an index without that platform.
fn not_found(e: &anyhow::Error) -> bool {
    crate::errors::core_error(e).is_some_and(|e| {
        e.is_not_found() || matches!(e, regpeek_proto::Error::NoMatchingPlatform { .. })
    })
}
