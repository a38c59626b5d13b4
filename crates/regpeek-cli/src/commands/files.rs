//! Looking inside an image without pulling it: `blob`, `cat`, `ls` and `os`. Layers
//! are streamed and verified by [`crate::layers`]; nothing of a layer is printed
//! before the whole layer has hashed to its digest. `cat` and `os` read layers from
//! the top down, only as far as the one that decides.

use std::io::{Read, Seek, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use regpeek_client::image::Image;
use regpeek_client::layers;
use regpeek_proto::Digest;
use serde_json::{Value, json};

use crate::args::{Common, OutputFormat};
use crate::layers::Reading;
use crate::session::Session;

use super::Images;

/// `blob IMAGE DIGEST` (or `blob REPO@DIGEST`): one blob's bytes, verified before any
/// is written.
pub fn blob(
    session: &Session,
    image: &str,
    digest: Option<&str>,
    output: Option<&std::path::Path>,
    common: &Common,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let r = crate::flags::parse_reference(image)?;
    let (r, digest) = match (digest, r.digest()) {
        (Some(d), _) => (
            r,
            Digest::parse(d).map_err(|e| crate::errors::usage(e.to_string()))?,
        ),
        // crane's form: the digest names the blob, in the repository.
        (None, Some(d)) => (crate::flags::parse_reference(&r.name())?, d.clone()),
        (None, None) => {
            return Err(crate::errors::usage(
                "give the blob's digest: blob IMAGE DIGEST, or blob REPO@DIGEST",
            ));
        }
    };
    if common.platform.is_some()
        || common.override_os.is_some()
        || common.override_arch.is_some()
        || common.override_variant.is_some()
    {
        return Err(crate::errors::usage(
            "blob names its blob by digest: --platform does not apply",
        ));
    }
    let mut spool = layers::spool();
    layers::read_blob(
        &Reading { session, common },
        &r,
        &digest,
        None,
        layers::MAX_UNPACKED,
        &mut spool,
    )?;
    spool.rewind()?;
    deliver(session, spool, output, out)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes verified bytes where the user asked: `output` (atomically: a temporary file
/// beside it, renamed), `-` or nothing for standard output. Binary bytes are not
/// written to a terminal unless asked for with `-o -`.
fn deliver(
    session: &Session,
    mut bytes: tempfile::SpooledTempFile,
    output: Option<&std::path::Path>,
    out: &mut impl Write,
) -> Result<()> {
    match output {
        Some(path) if path != std::path::Path::new("-") => {
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => std::path::Path::new("."),
            };
            let mut tmp = tempfile::NamedTempFile::new_in(dir)
                .with_context(|| format!("writing {}", path.display()))?;
            std::io::copy(&mut bytes, &mut tmp)?;
            tmp.as_file().sync_all()?;
            tmp.persist(path)
                .with_context(|| format!("writing {}", path.display()))?;
            return Ok(());
        }
        Some(_) => {}
        None if session.out.tty => {
            let mut head = Vec::new();
            Read::by_ref(&mut bytes)
                .take(8 << 10)
                .read_to_end(&mut head)?;
            bytes.rewind()?;
            let binary = head.contains(&0)
                || std::str::from_utf8(&head).is_err_and(|e| e.error_len().is_some());
            if binary {
                return Err(crate::errors::usage(
                    "these bytes are binary and standard output is a terminal: write them with -o FILE, or -o - to see them anyway",
                ));
            }
        }
        None => {}
    }
    std::io::copy(&mut bytes, out)?;
    out.flush()?;
    Ok(())
}

/// The most of a file `cat` puts in a JSON line (several images): larger files are
/// written alone, as bytes.
const MAX_IN_LINE: u64 = 4 << 20;

/// `cat IMAGE… PATH`: a file's exact bytes (one image typed alone), or for each image a
/// JSON line with the file as `Text` (UTF-8) or `Base64`, its `Size` and `Digest`.
pub fn cat(
    session: &Session,
    images: &Images,
    path: &str,
    output: Option<&std::path::Path>,
    common: &Common,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let file_of = |image: &str, common: &Common| -> Result<tempfile::SpooledTempFile> {
        let source = Reading { session, common };
        let r = crate::flags::parse_reference(image)?;
        let image = Image::open(&source, &session.layer_index, &r)?;
        Ok(image.file(path)?.bytes)
    };
    if images.single {
        session.out.refuse_jq(
            "--jq reads JSON lines: cat of one image prints the file's bytes (several images, or --file, print JSON lines)",
        )?;
        let file = file_of(&images.list[0].0, common)?;
        deliver(session, file, output, out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let shown = format!("/{}", regpeek_layer::normalize(path));
    let one = |image: &str, common: &Common| -> Result<Vec<Value>> {
        let mut file = file_of(image, common)?;
        let mut bytes = Vec::new();
        Read::by_ref(&mut file)
            .take(MAX_IN_LINE + 1)
            .read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX_IN_LINE {
            // Too large for a JSON line: its size and digest, without its content.
            let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
            sha2::Digest::update(&mut hasher, &bytes);
            let rest = std::io::copy(&mut file, &mut hasher)?;
            let hex = regpeek_layer::hex(&sha2::Digest::finalize(hasher));
            return Ok(vec![json!({
                "Path": shown,
                "Size": bytes.len() as u64 + rest,
                "Digest": format!("sha256:{hex}"),
                "Note": format!("the content is left out: over {MAX_IN_LINE} bytes for a JSON line; cat it from one image"),
            })]);
        }
        let mut row = json!({
            "Path": shown,
            "Size": bytes.len(),
            "Digest": Digest::sha256(&bytes).to_string(),
        });
        match String::from_utf8(bytes) {
            Ok(text) => row["Text"] = Value::String(text),
            Err(e) => {
                use base64::Engine as _;
                row["Base64"] =
                    Value::String(base64::engine::general_purpose::STANDARD.encode(e.into_bytes()));
            }
        }
        Ok(vec![row])
    };
    lines_out(session, images, one, out)
}

/// Answers each image with `one` (`--jobs` at a time) and prints its lines as soon as
/// the images before it are printed: its `Reference`, `Source`, then each row found,
/// or its `Error`; exit 1 when any failed.
/// One image's rows as JSON lines led by its `Reference` (and `Source`), or its error
/// line: whether it failed.
pub(super) fn answer_lines(
    session: &Session,
    out: &mut impl Write,
    image: &str,
    source: Option<&str>,
    found: Result<Vec<Value>>,
) -> Result<bool> {
    let rows = match found {
        Ok(rows) => rows.into_iter().map(Ok).collect(),
        Err(e) => vec![Err(e)],
    };
    let mut failed = false;
    for row in rows {
        let (row, fails) = crate::output::answer_line(image, source, row);
        failed |= fails;
        session.out.line(out, &row)?;
    }
    Ok(failed)
}

pub(super) fn lines_out(
    session: &Session,
    images: &Images,
    one: impl Fn(&str, &Common) -> Result<Vec<Value>> + Sync,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let mut failed = false;
    images.each(one, |i, found| {
        let (image, source) = &images.list[i];
        failed |= answer_lines(session, out, image, source.as_deref(), found)?;
        out.flush()?;
        Ok(())
    })?;
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `os IMAGE…`: the distribution and version; JSON lines, or a table (a
/// `REFERENCE` column first when there are several images).
pub fn os(
    session: &Session,
    images: &Images,
    format: OutputFormat,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let one = |image: &str, common: &Common| os_of(session, common, image).map(|v| vec![v]);
    if format == OutputFormat::Json {
        return lines_out(session, images, one, out);
    }
    session.out.refuse_table_with_jq()?;
    let mut failed = false;
    let mut table = Vec::new();
    images.each(one, |i, found| {
        let (image, _) = &images.list[i];
        let mut row = if images.single {
            vec![]
        } else {
            vec![image.clone()]
        };
        match found {
            Ok(rows) => {
                let v = &rows[0];
                let cell = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
                let pretty = match v["Note"].as_str() {
                    Some(note) => note.to_owned(),
                    None => cell("PrettyName"),
                };
                row.extend([cell("ID"), cell("VersionID"), pretty]);
            }
            Err(e) => {
                failed = true;
                row.push(format!("error: {e:#}"));
            }
        }
        table.push(row);
        Ok(())
    })?;
    let header: &[&str] = if images.single {
        &["ID", "VERSION", "NAME"]
    } else {
        &["REFERENCE", "ID", "VERSION", "NAME"]
    };
    crate::output::print_columns(out, header, &table)?;
    out.flush()?;
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn os_of(session: &Session, common: &Common, image: &str) -> Result<Value> {
    let r = crate::flags::parse_reference(image)?;
    let source = Reading { session, common };
    let os = Image::open(&source, &session.layer_index, &r)?.os()?;
    Ok(serde_json::to_value(os)?)
}
