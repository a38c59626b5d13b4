//! `diff A B`: two images compared (exit 0 equal, 1 different, 2 on error, as diff(1)).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use regpeek_proto::Goal;

use crate::args::Common;
use crate::flags::{parse_reference, platform};
use crate::output;
use crate::session::Session;

/// `diff A B`.
pub fn diff(
    session: &Session,
    a: &str,
    b: &str,
    common: &Common,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let platform = platform(common)?;
    session.scope_credentials(common, [a, b])?;
    let ia = inspect(session, a, common, Goal::Inspect(platform.clone()))?;
    let ib = inspect(session, b, common, Goal::Inspect(platform))?;
    session.warn(&ia.warnings);
    session.warn(&ib.warnings);
    let d = crate::diff::compare(a, &ia, b, &ib);
    let printed = if session.out.tty && session.out.jq.is_none() {
        crate::diff::print_human(out, &d, session.out.color)
    } else {
        session.out.json(out, &d)
    }
    .and_then(|()| Ok(out.flush()?));
    status(printed, d.equal)
}

/// A diff's exit status once it is printed (`printed`): 0 equal, 1 different, as
/// diff(1); a reader that went away does not change the answer.
pub(super) fn status(printed: Result<()>, equal: bool) -> Result<ExitCode> {
    match printed {
        // Nobody reads the diff any more; the status still tells the answer.
        Err(e) if crate::errors::broken_pipe(&e) => {}
        other => other?,
    }
    Ok(if equal {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// One image, as `diff` compares them (what it fetched kept in the cache).
pub(super) fn inspect(
    session: &Session,
    reference: &str,
    common: &Common,
    goal: Goal,
) -> Result<regpeek_proto::Inspection> {
    let r = parse_reference(reference)?;
    let insp = session.run(&r, common, goal)?.into_image()?;
    session.remember(&insp);
    if common.verbose > 0 {
        for (mirror, e) in &insp.skipped_mirrors {
            eprintln!(
                "regpeek: mirror {mirror} failed: {}",
                output::safe_line(&e.to_string())
            );
        }
        if let Some(m) = &insp.mirror {
            eprintln!("regpeek: answered by mirror {m}");
        }
    }
    Ok(insp)
}
