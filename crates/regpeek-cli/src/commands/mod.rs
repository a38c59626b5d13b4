//! One module per command; [`run`] dispatches a parsed command line to it, within a
//! [`Session`]. Every command that takes image references goes through one pipeline
//! ([`crate::pipeline`]): a reference is a batch of one.

mod attest;
pub mod auth;
mod base;
mod cache;
mod complete;
mod contents_diff;
mod diff;
mod exists;
mod files;
mod help;
mod inventory;
mod listing;
mod ls;
mod outdated;
mod packages;
mod pin;
mod referrers;
pub mod replay;
mod waste;

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
    pub jobs: regpeek_client::batch::Jobs,
    /// The command's flags; each image gets them with its own start
    /// ([`crate::args::Common::starting_now`]): its deadline counts from there.
    pub common: crate::args::Common,
}

/// The images of a command line; a usage error (exit 2, before any image is asked
/// for) when there are none, or when the platform flags name no one platform.
pub(crate) fn images_of(
    session: &Session,
    typed: &[String],
    batch: &crate::args::BatchArgs,
    common: &crate::args::Common,
) -> Result<Images> {
    crate::flags::platform(common)?;
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
    session.scope_credentials(common, list.iter().map(|(r, _)| r.as_str()))?;
    Ok(Images {
        single: list.len() == 1 && batch.file.is_none() && batch.from.is_none(),
        list,
        jobs: session.jobs(batch.jobs),
        common: common.clone(),
    })
}

impl Images {
    /// `one` of each image through the batch engine (`--jobs` per registry), handed to
    /// `each` in the order given as soon as the images before it are done: output
    /// streams. An `Err` of `each` (stdout closed) stops it.
    pub fn each<T: Send>(
        &self,
        one: impl Fn(&str, &crate::args::Common) -> Result<T> + Sync,
        each: impl FnMut(usize, Result<T>) -> Result<()>,
    ) -> Result<()> {
        let lanes: Vec<String> = self
            .list
            .iter()
            .map(|(r, _)| crate::flags::lane_of(r))
            .collect();
        regpeek_client::batch::run(
            &lanes,
            self.jobs.clone(),
            |i| one(&self.list[i].0, &self.common.starting_now()),
            each,
        )
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
        Command::Complete { word } => complete::complete(session, word, out)?,
        Command::Version { output } => help::version(session, output == "json", out)?,
        Command::Ref { reference, common } => help::reference(session, reference, common, out)?,
        Command::Diff {
            a,
            b,
            files,
            common,
        } => {
            if files.files || files.packages {
                return contents_diff::diff(session, a, b, files, common, out);
            }
            return diff::diff(session, a, b, common, out);
        }
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
            inventory,
            sizes,
            common,
        } => {
            let asked = inventory::Asked {
                list,
                inventory,
                sizes: *sizes,
            };
            return listing::tags(session, repository, &asked, common, out);
        }
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
                output: session.out.format_or_default(*output, true),
                batch,
                common,
            };
            return outdated::outdated(session, &args, out);
        }
        Command::Base {
            references,
            base,
            output,
            batch,
            common,
        } => {
            let format = session.out.format_or_default(*output, true);
            let stated = base.as_deref();
            return base::base(session, references, stated, format, batch, common, out);
        }
        Command::Blob {
            image,
            digest,
            output,
            common,
        } => {
            return files::blob(
                session,
                image,
                digest.as_deref(),
                output.as_deref(),
                common,
                out,
            );
        }
        Command::Cat {
            args,
            output,
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
            let images = images_of(session, typed, batch, common)?;
            if output.is_some() && !images.single {
                return Err(crate::errors::usage(
                    "--output writes one file: several images print JSON lines",
                ));
            }
            return files::cat(session, &images, path, output.as_deref(), common, out);
        }
        Command::Ls {
            args,
            layer,
            output,
            directory,
            depth,
            human_readable,
            batch,
            common,
            ..
        } => {
            // The last argument is the path when it starts with `/`, or when it does
            // not parse as a reference (a note says so); the ones before it, images.
            let (typed, path) = match args.split_last() {
                Some((last, rest)) if last.starts_with('/') => (rest, Some(last.as_str())),
                Some((last, rest))
                    if !rest.is_empty() && crate::flags::parse_reference(last).is_err() =>
                {
                    eprintln!(
                        "regpeek: note: taking {} as a path in the image (it is not a reference)",
                        crate::output::safe_line(last)
                    );
                    (rest, Some(last.as_str()))
                }
                _ => (&args[..], None),
            };
            let images = images_of(session, typed, batch, common)?;
            // `ls -l`'s table shows one image.
            let format = session.out.format_or_default(*output, images.single);
            let listing = ls::Listing {
                path,
                layer: layer.as_deref(),
                directory: *directory,
                depth: *depth,
                human: *human_readable,
            };
            return ls::ls(session, &images, &listing, format, common, out);
        }
        Command::Os {
            images,
            output,
            batch,
            common,
        } => {
            let images = images_of(session, images, batch, common)?;
            let format = session.out.format_or_default(*output, true);
            return files::os(session, &images, format, out);
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
            let format = session.out.format_or_default(*output, !*raw);
            let images = images_of(session, images, batch, common)?;
            return attest::run(session, want, &images, *raw, format, out);
        }
        Command::Packages {
            images,
            asked,
            batch,
            common,
        } => {
            let images = images_of(session, images, batch, common)?;
            let format = asked
                .output
                .unwrap_or(match session.out.format_or_default(None, true) {
                    crate::args::OutputFormat::Table => crate::args::PackageFormat::Table,
                    crate::args::OutputFormat::Json => crate::args::PackageFormat::Json,
                });
            let asked = packages::Asked {
                languages: asked.languages,
                scan: asked.scan,
                format,
            };
            return packages::packages(session, &images, &asked, out);
        }
        Command::Waste {
            images,
            gates,
            output,
            batch,
            common,
        } => {
            let gates = waste::gates(
                gates.ci_config.as_deref(),
                &[
                    ("lowest-efficiency", gates.lowest_efficiency.as_ref()),
                    ("highest-wasted-bytes", gates.highest_wasted_bytes.as_ref()),
                    (
                        "highest-user-wasted-percent",
                        gates.highest_user_wasted_percent.as_ref(),
                    ),
                ],
            )?;
            let images = images_of(session, images, batch, common)?;
            let format = session.out.format_or_default(*output, images.single);
            return waste::waste(session, &images, &gates, format, out);
        }
        Command::Exists {
            references,
            batch,
            common,
        } => {
            let images = images_of(session, references, batch, common)?;
            return exists::exists(session, &images, out);
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

#[cfg(test)]
mod tests {
    use super::Images;
    use crate::flags::lane_of;

    #[test]
    fn images_run_in_lanes_by_registry_and_answer_in_order() {
        assert_eq!(lane_of("a.example/x:1"), "a.example");
        assert_eq!(lane_of("nginx"), "docker.io");
        assert_eq!(lane_of("Not A Reference"), "");
        let imgs = Images {
            list: ["a.example/x", "b.example/y", "a.example/z", "bad ref"]
                .iter()
                .map(|r| (r.to_string(), None))
                .collect(),
            single: false,
            jobs: regpeek_client::batch::Jobs::Fixed(2),
            common: crate::args::Common::unset(),
        };
        let mut got = Vec::new();
        imgs.each(
            |r, _| Ok(r.to_owned()),
            |_, r| {
                got.push(r?);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(
            got,
            ["a.example/x", "b.example/y", "a.example/z", "bad ref"]
        );
    }
}
