//! `man`, `completions` and `ref`: what needs no registry.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use crate::args::{Cli, Common};
use crate::flags::{parse_reference, security};
use crate::session::Session;
use crate::{output, summary};

/// `man DIR`: regpeek.1 and one page per command.
pub fn man(dir: &Path) -> Result<()> {
    let cmd = <Cli as clap::CommandFactory>::command();
    std::fs::create_dir_all(dir)?;
    clap_mangen::generate_to(cmd.clone(), dir)
        .with_context(|| format!("writing man pages to {}", dir.display()))?;
    // The main page again, with the sections a user looks for first.
    let page = dir.join("regpeek.1");
    let mut text = Vec::new();
    output::man_page(cmd, &mut text)?;
    std::fs::write(&page, text).with_context(|| format!("writing {}", page.display()))
}

/// `completions SHELL`.
pub fn completions(shell: clap_complete::Shell, out: &mut impl Write) -> Result<()> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    // Into memory first: clap_complete panics when its writer fails (a closed pipe,
    // `regpeek completions bash | head`); ours ends quietly.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "regpeek", &mut script);
    // References complete to the repository's tags (`REPO:<TAB>`).
    let script = super::complete::glue(shell, String::from_utf8_lossy(&script).into_owned());
    out.write_all(script.as_bytes())?;
    Ok(())
}

/// `ref REF`: how a reference is read, and where it would go (the core's scheme rule).
pub fn reference(
    session: &Session,
    reference: &str,
    common: &Common,
    out: &mut impl Write,
) -> Result<()> {
    let r = parse_reference(reference)?;
    let security = security(common).resolve(&r);
    session
        .out
        .json(out, &summary::reference_output(reference, &r, security))
}

/// `regpeek version [-o json]`.
pub fn version(session: &Session, json: bool, out: &mut impl Write) -> Result<()> {
    let v = serde_json::json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "Commit": env!("REGPEEK_COMMIT"),
        "Dirty": match env!("REGPEEK_DIRTY") {
            "true" => serde_json::Value::Bool(true),
            "false" => serde_json::Value::Bool(false),
            _ => serde_json::Value::Null,
        },
        "Rustc": env!("REGPEEK_RUSTC"),
        "Tls": crate::args::TLS_BACKEND,
    });
    if json {
        session.out.line(out, &v)?;
    } else {
        writeln!(out, "regpeek {}", crate::args::LONG_VERSION)?;
    }
    Ok(())
}
