//! `replay DIR`: a recording's command line, run again in a session of its own with
//! the recording answering in the network's place; its exit code as it was.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use std::ffi::OsString;

use anyhow::{Context, Result};

use crate::args::Cli;

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
            dir: dir.to_owned(),
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

/// Refuses, before anything runs, a replayed command line that could write anything
/// or read the user's own files: recordings are attached to bug reports, so they come
/// from strangers. Only commands that write nothing run (`pin` only with `--diff` or
/// `--check`); every file an argument names (`--file`, `--from`, a file of `pin` or
/// `outdated`, `--authfile`, `--ca-file`, `--cert-dir`, a local image) must lie inside
/// the recording, symlinks resolved; `--record` is refused (`--cache-dir` is harmless:
/// a replay opens no cache).
pub fn refuse_unsafe(cli: &Cli, argv: &[OsString], dir: &Path) -> Result<()> {
    use crate::args::Command as C;
    let refuse = |what: String| -> Result<()> {
        Err(crate::errors::usage(format!(
            "replay: the recorded command line {what}; a replay runs only commands that write nothing, on files inside the recording"
        )))
    };
    match &cli.command {
        C::Man { .. } => return refuse("writes manual pages (man)".into()),
        C::Login { .. } | C::Logout { .. } => {
            return refuse("changes stored credentials (login, logout)".into());
        }
        C::Cache { .. } => return refuse("changes the cache (cache)".into()),
        C::Replay { .. } => return refuse("is itself a replay".into()),
        C::Pin {
            diff: false,
            check: false,
            ..
        } => return refuse("rewrites files (pin without --diff or --check)".into()),
        _ => {}
    }
    if cli.record.is_some() {
        return refuse("records (--record)".into());
    }
    let inside = dir
        .canonicalize()
        .with_context(|| format!("replay: {}", dir.display()))?;
    let check = |what: &str, path: &Path| -> Result<()> {
        match path.canonicalize() {
            Ok(real) if real.starts_with(&inside) => Ok(()),
            _ => refuse(format!(
                "names {what} {} outside the recording",
                path.display()
            )),
        }
    };
    // Flags naming files, however spelled (`--flag VALUE`, `--flag=VALUE`).
    const FILE_FLAGS: [&str; 5] = ["--file", "--from", "--authfile", "--ca-file", "--cert-dir"];
    let args: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    for (i, arg) in args.iter().enumerate() {
        let (flag, value) = match arg.split_once('=') {
            Some((f, v)) if FILE_FLAGS.contains(&f) => (f, Some(v.to_owned())),
            _ if FILE_FLAGS.contains(&arg.as_str()) => (arg.as_str(), args.get(i + 1).cloned()),
            _ => ("", None),
        };
        if let Some(v) = value
            && v != "-"
        {
            check(flag, Path::new(&v))?;
        }
        // A local image anywhere: its layout or archive.
        if let Some(path) = crate::local::path_of(arg) {
            check("the local image", &path)?;
        }
    }
    match &cli.command {
        C::Pin { files, .. } => {
            for f in files {
                check("the file", f)?;
            }
        }
        C::Outdated { targets, .. } => {
            for t in targets {
                if Path::new(t).exists() {
                    check("the file", Path::new(t))?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}
