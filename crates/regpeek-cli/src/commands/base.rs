//! `base IMAGE…`: whether each image was built on a base that has since moved (as
//! `regctl image check-base` does). The image's manifest (that of `--platform`, else
//! this machine's, for an index) names its base in the OCI annotations
//! `org.opencontainers.image.base.name` and `.base.digest`; the base's tag is asked
//! where it points now. Exit 0: every image is on its base as it is; 1: a rebuild is
//! due; 2: something could not be told (as `diff` and diff(1) use them). The
//! annotations: docs/protocol.md §8.5.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use regpeek_proto::{Goal, Inspection, manifest::Manifest};
use serde_json::{Value, json};

use crate::args::{BatchArgs, Common, OutputFormat};
use crate::session::Session;

/// The annotation that names the base image.
const BASE_NAME: &str = "org.opencontainers.image.base.name";
/// The annotation that gives the base's digest when the image was built.
const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

pub fn base(
    session: &Session,
    references: &[String],
    stated: Option<&str>,
    format: OutputFormat,
    batch: &BatchArgs,
    common: &Common,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let images = super::images_of(session, references, batch, common)?;
    if let Some(b) = stated {
        crate::flags::parse_reference(b)
            .map_err(|e| crate::errors::usage(format!("--base {b}: {e:#}")))?;
    }
    if format == OutputFormat::Table {
        session.out.refuse_table_with_jq()?;
    }
    let (mut failed, mut due) = (false, false);
    let mut table = Vec::new();
    images.each(
        |reference, common| check(session, common, reference, stated),
        |i, found| {
            let (reference, source) = &images.list[i];
            let (row, fails) = crate::output::answer_line(reference, source.as_deref(), found);
            due |= row["Rebuild"] == true;
            failed |= fails;
            match format {
                OutputFormat::Json => {
                    session.out.line(out, &row)?;
                    out.flush()?;
                }
                OutputFormat::Table => {
                    let cell = |k: &str| match &row[k] {
                        Value::String(s) => s.clone(),
                        Value::Bool(b) => b.to_string(),
                        _ => String::new(),
                    };
                    let last = match row["Error"].as_str() {
                        Some(e) => e.to_owned(),
                        None => cell("From"),
                    };
                    table.push(vec![cell("Reference"), cell("Base"), cell("Rebuild"), last]);
                }
            }
            Ok(())
        },
    )?;
    if format == OutputFormat::Table {
        crate::output::print_columns(out, &["REFERENCE", "BASE", "REBUILD", "FROM"], &table)?;
        out.flush()?;
    }
    Ok(ExitCode::from(match (failed, due) {
        (true, _) => 2,
        (false, true) => 1,
        (false, false) => 0,
    }))
}

/// One image: its base as recorded and as it is now.
fn check(
    session: &Session,
    common: &Common,
    reference: &str,
    stated: Option<&str>,
) -> Result<Value> {
    let r = crate::flags::parse_reference(reference)?;
    let platform = crate::flags::platform(common)?;
    let image = session
        .run(&r, common, Goal::Manifest(Some(platform.clone())))?
        .into_image()?;
    let notes = annotations(&image);
    let (name, recorded, from) = match (notes.get(BASE_NAME), notes.get(BASE_DIGEST)) {
        (Some(name), Some(digest)) => (name.clone(), digest.clone(), "annotations"),
        (Some(name), None) => bail!(
            "{} names its base {name} but not its digest ({BASE_DIGEST})",
            r.familiar()
        ),
        // No annotation: the one image its provenance lists among its materials.
        (None, _) => {
            let want = super::attest::Want::Provenance;
            let docs = super::attest::documents(session, common, &r, want)?;
            match (docs.iter().find_map(super::attest::base_from), stated) {
                (Some((name, digest)), _) => (name, digest, "provenance"),
                // What the user states: the digest it was built on, else its layers.
                (None, Some(b)) => match b.rsplit_once('@') {
                    Some((name, digest)) => (name.to_owned(), digest.to_owned(), "--base"),
                    None => return by_layers(session, common, &image, b, platform),
                },
                (None, None) => bail!(
                    "{} says nothing of its base (no {BASE_NAME} annotation, and no provenance that names one image among its materials); state it with --base IMAGE[@DIGEST]",
                    r.familiar()
                ),
            }
        }
    };
    let (name, recorded) = (&name, &recorded);
    let base = crate::flags::parse_reference(name)
        .with_context(|| format!("the base {name:?} the image names"))?;
    // The base's index and the platform's manifest: either may be what was recorded.
    let platform = image.platform.clone().unwrap_or(platform);
    let now = session
        .run(&base, common, Goal::Digest(Some(platform)))?
        .into_image()?;
    let mut current = vec![now.digest.to_string()];
    current.extend(now.manifest.as_ref().map(|m| m.digest.to_string()));
    Ok(json!({
        "Base": name,
        "BaseDigest": recorded,
        "Current": current[0],
        "Rebuild": !current.contains(recorded),
        "From": from,
    }))
}

/// With a base stated without its digest: the image is on the base as it is when the
/// base's layers (for the image's platform) are its own first layers, as regctl tells.
fn by_layers(
    session: &Session,
    common: &Common,
    image: &Inspection,
    stated: &str,
    platform: regpeek_proto::Platform,
) -> Result<Value> {
    let base = crate::flags::parse_reference(stated)?;
    let platform = image.platform.clone().unwrap_or(platform);
    let now = session
        .run(&base, common, Goal::Manifest(Some(platform)))?
        .into_image()?;
    let layers = |i: &Inspection| -> Vec<String> {
        match i.manifest.as_ref().and_then(|m| m.manifest.as_ref()) {
            Some(Manifest::Image(m)) => m.layers.iter().map(|d| d.digest.to_string()).collect(),
            _ => Vec::new(),
        }
    };
    let (mine, theirs) = (layers(image), layers(&now));
    if theirs.is_empty() {
        bail!("the base {stated} has no layers to compare");
    }
    Ok(json!({
        "Base": stated,
        "BaseDigest": null,
        "Current": now.digest.to_string(),
        "Rebuild": !mine.starts_with(&theirs),
        "From": "--base (layers)",
    }))
}

/// The annotations that may name the base: the platform's manifest's, then the
/// index entry's, then the index's.
fn annotations(i: &Inspection) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(index) = &i.index {
        out.extend(index.annotations.clone());
        let chosen = i.manifest.as_ref().map(|m| &m.digest);
        if let Some(entry) = index.manifests.iter().find(|d| Some(&d.digest) == chosen) {
            out.extend(entry.annotations.clone());
        }
    }
    if let Some(Manifest::Image(m)) = i.manifest.as_ref().and_then(|m| m.manifest.as_ref()) {
        out.extend(m.annotations.clone());
    }
    out
}
