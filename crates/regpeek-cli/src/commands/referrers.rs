//! `referrers`: signatures, SBOMs and attestations that refer to an image.

use std::io::Write;

use anyhow::{Result, bail};
use regpeek_proto::{Goal, Outcome};

use crate::args::{Common, OutputFormat};
use crate::flags::{explicit_platform, parse_reference};
use crate::output;
use crate::session::Session;
use crate::summary;

/// `referrers REF`.
pub fn referrers(
    session: &Session,
    reference: &str,
    artifact_type: Option<&str>,
    format: OutputFormat,
    common: &Common,
    out: &mut impl Write,
) -> Result<()> {
    let r = parse_reference(reference)?;
    let goal = Goal::Referrers {
        platform: explicit_platform(common)?,
        artifact_type: artifact_type.map(str::to_owned),
    };
    let Outcome::Referrers(found) = session.run(&r, common, goal)? else {
        bail!("the flow ended without a list of referrers");
    };
    print_referrers(session, out, &found, format)
}

fn print_referrers(
    session: &Session,
    out: &mut impl Write,
    found: &regpeek_proto::Referrers,
    format: OutputFormat,
) -> Result<()> {
    let rows = summary::referrer_rows(found);
    let header = [
        "ARTIFACT TYPE",
        "DIGEST",
        "SIZE",
        "SOURCE",
        "PREDICATE TYPES",
    ];
    session.out.rows(out, &rows, format, &header, |r| {
        vec![
            r.artifact_type.clone().unwrap_or_else(|| "-".into()),
            r.digest.clone(),
            output::human_size(r.size),
            r.source.to_owned(),
            if r.predicate_types.is_empty() {
                "-".into()
            } else {
                r.predicate_types.join(", ")
            },
        ]
    })
}
