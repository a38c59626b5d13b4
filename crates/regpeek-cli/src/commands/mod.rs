//! One module per command; [`run`] dispatches a parsed command line to it, within a
//! [`Session`]. Every command that takes image references goes through one pipeline
//! ([`crate::pipeline`]): a reference is a batch of one.

mod attest;
pub mod auth;
mod base;
mod cache;
mod diff;
mod files;
mod help;
mod listing;
mod outdated;
mod pin;
mod referrers;
pub mod replay;

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::args::{AuthCommand, Cli, Command};
use crate::pipeline;
use crate::session::Session;

/// The images of a command line: typed, then from `--file` and `--from`.
fn images_of(
    session: &Session,
    typed: &[String],
    batch: &crate::args::BatchArgs,
) -> Result<Vec<(String, Option<String>)>> {
    let mut images: Vec<(String, Option<String>)> =
        typed.iter().map(|t| (t.clone(), None)).collect();
    let collected = crate::inputs::collect(batch, &|p| session.shown(p))?;
    for warning in &collected.warnings {
        session.warn_once(warning);
    }
    images.extend(
        collected
            .references
            .into_iter()
            .zip(collected.sources.into_iter().map(Some)),
    );
    if images.is_empty() {
        return Err(crate::errors::usage(
            "give an image reference (or several, or --file, or --from)",
        ));
    }
    Ok(images)
}

/// Runs the command of `cli` in `session`, printing to `out`.
pub fn run(cli: &Cli, session: &Session, out: &mut impl Write) -> Result<ExitCode> {
    if let Some(job) = pipeline::Job::from_command(&cli.command, session)? {
        return pipeline::run(job, out);
    }
    match &cli.command {
        Command::Cache { command } => cache::cache(session, command, out)?,
        Command::Man { dir } => help::man(dir)?,
        Command::Completions { shell } => help::completions(*shell, out)?,
        Command::Ref { reference, common } => help::reference(session, reference, common, out)?,
        Command::Diff { a, b, common } => return diff::diff(session, a, b, common, out),
        Command::Referrers {
            reference,
            artifact_type,
            output,
            common,
        } => referrers::referrers(
            session,
            reference,
            artifact_type.as_deref(),
            *output,
            common,
            out,
        )?,
        Command::Tags {
            repository,
            list,
            common,
        } => listing::tags(session, repository, list, common, out)?,
        Command::Catalog {
            registry,
            list,
            common,
        } => listing::catalog(session, registry, list, common, out)?,
        Command::Auth {
            command: AuthCommand::Show { registry, args },
        } => auth::show(session, registry, args, out)?,
        Command::Login { registry, args } => auth::login(session, registry, args, out)?,
        Command::Logout { registry, args } => auth::logout(session, registry, args, out)?,
        Command::Pin {
            files,
            kind,
            check,
            diff,
            update,
            jobs,
            common,
        } => {
            let args = pin::Pin {
                files,
                kind: *kind,
                check: *check,
                diff: *diff,
                update: *update,
                jobs: *jobs,
                common,
            };
            return pin::pin(session, &args, out);
        }
        Command::Outdated {
            targets,
            exit_code,
            output,
            batch,
            common,
        } => {
            let args = outdated::Outdated {
                targets,
                exit_code: *exit_code,
                output: output.unwrap_or(crate::args::OutputFormat::Json),
                batch,
                common,
            };
            return outdated::outdated(session, &args, out);
        }
        Command::Base {
            references,
            batch,
            common,
        } => return base::base(session, references, batch, common, out),
        Command::Blob {
            image,
            digest,
            common,
        } => return files::blob(session, image, digest, common, out),
        Command::Cat {
            image,
            path,
            common,
        } => return files::cat(session, image, path, common, out),
        Command::Ls {
            image,
            path,
            layer,
            output,
            common,
        } => {
            let format = output.unwrap_or(crate::args::OutputFormat::Json);
            return files::ls(
                session,
                image,
                path.as_deref(),
                layer.as_deref(),
                format,
                common,
                out,
            );
        }
        Command::Os {
            images,
            batch,
            common,
        } => {
            let images = images_of(session, images, batch)?;
            return files::os(session, &images, common, out);
        }
        Command::Sbom {
            images,
            batch,
            raw,
            output,
            common,
        }
        | Command::Provenance {
            images,
            batch,
            raw,
            output,
            common,
        } => {
            let want = match &cli.command {
                Command::Sbom { .. } => attest::Want::Sbom,
                _ => attest::Want::Provenance,
            };
            let format = output.unwrap_or(crate::args::OutputFormat::Json);
            let images = images_of(session, images, batch)?;
            return attest::run(session, want, &images, *raw, format, common, out);
        }
        Command::Replay { .. } => bail!("internal: replay runs before a session is made"),
        // The pipeline answered these above.
        Command::Inspect { .. }
        | Command::Platforms { .. }
        | Command::History { .. }
        | Command::Manifest { .. }
        | Command::Config { .. }
        | Command::Digest { .. }
        | Command::Ratelimit { .. } => {
            bail!("internal: a reference command reached the per-command dispatch")
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
