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

/// The images a command line names (typed, then from `--file` and `--from`, each with
/// its `Source`), for the commands that look inside images: `os`, `cat`, `ls`,
/// `sbom`, `provenance`, `base`.
pub(crate) struct Images {
    pub list: Vec<(String, Option<String>)>,
    /// One image, typed alone: printed as itself where the command has such a shape.
    pub single: bool,
    /// `--jobs`: how many images are answered at once.
    pub jobs: usize,
}

/// The images of a command line; a usage error when there are none.
pub(crate) fn images_of(
    session: &Session,
    typed: &[String],
    batch: &crate::args::BatchArgs,
) -> Result<Images> {
    let mut list: Vec<(String, Option<String>)> = typed.iter().map(|t| (t.clone(), None)).collect();
    let collected = crate::inputs::collect(batch, &|p| session.shown(p))?;
    for warning in &collected.warnings {
        session.warn_once(warning);
    }
    list.extend(
        collected
            .references
            .into_iter()
            .zip(collected.sources.into_iter().map(Some)),
    );
    if list.is_empty() {
        return Err(crate::errors::usage(
            "give an image reference (or several, or --file, or --from)",
        ));
    }
    Ok(Images {
        single: list.len() == 1 && batch.file.is_none() && batch.from.is_none(),
        list,
        jobs: batch.jobs as usize,
    })
}

impl Images {
    /// `one` of each image, `--jobs` at a time, in the order given.
    pub fn answer<T: Send>(&self, one: impl Fn(&str) -> Result<T> + Sync) -> Vec<Result<T>> {
        use std::sync::Mutex;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let next = AtomicUsize::new(0);
        let done: Mutex<Vec<Option<Result<T>>>> =
            Mutex::new((0..self.list.len()).map(|_| None).collect());
        std::thread::scope(|s| {
            for _ in 0..self.jobs.clamp(1, self.list.len().max(1)) {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((image, _)) = self.list.get(i) else {
                            break;
                        };
                        let result = one(image);
                        if let Ok(mut d) = done.lock() {
                            d[i] = Some(result);
                        }
                    }
                });
            }
        });
        done.into_inner()
            .unwrap_or_default()
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| Err(anyhow::anyhow!("internal: an image was not answered")))
            })
            .collect()
    }
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
            args,
            batch,
            common,
        } => {
            // The last argument is the path; the ones before it, images.
            let Some((path, typed)) = args.split_last() else {
                return Err(crate::errors::usage("give an image and a path"));
            };
            if typed.is_empty() && batch.file.is_none() && batch.from.is_none() {
                return Err(crate::errors::usage(
                    "give an image and a path (or --file or --from, and a path)",
                ));
            }
            let images = images_of(session, typed, batch)?;
            return files::cat(session, &images, path, common, out);
        }
        Command::Ls {
            args,
            layer,
            output,
            batch,
            common,
        } => {
            let format = output.unwrap_or(crate::args::OutputFormat::Json);
            // A last argument that starts with `/` is the path; the rest are images.
            let (typed, path) = match args.split_last() {
                Some((last, rest)) if last.starts_with('/') => (rest, Some(last.as_str())),
                _ => (&args[..], None),
            };
            let images = images_of(session, typed, batch)?;
            return files::ls(
                session,
                &images,
                path,
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
