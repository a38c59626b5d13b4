//! Looking inside an image without pulling it: `blob`, `cat`, `ls` and `os`. Layers
//! are streamed and verified by [`crate::layers`]; nothing of a layer is printed
//! before the whole layer has hashed to its digest. `cat` and `os` read layers from
//! the top down, only as far as the one that decides.

use std::io::{Read, Seek, Write};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use regpeek_client::image::{Image, Miss, Node};
use regpeek_client::layers;
use regpeek_layer::{Entry, Kind};
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
fn lines_out(
    session: &Session,
    images: &Images,
    one: impl Fn(&str, &Common) -> Result<Vec<Value>> + Sync,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let mut failed = false;
    images.each(one, |i, found| {
        let (image, source) = &images.list[i];
        let rows = match found {
            Ok(rows) => rows.into_iter().map(Ok).collect(),
            Err(e) => vec![Err(e)],
        };
        for row in rows {
            let (row, fails) = crate::output::answer_line(image, source.as_deref(), row);
            failed |= fails;
            session.out.line(out, &row)?;
        }
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

/// `ls IMAGE… [PATH]`: the merged file system as a container sees it (or one layer's
/// own entries, whiteouts included, with `--layer`); with several images (or
/// `--file`, `--from`), each row led by its image's `Reference` (and `Source`).
pub fn ls(
    session: &Session,
    images: &Images,
    path: Option<&str>,
    layer: Option<&str>,
    format: OutputFormat,
    common: &Common,
    out: &mut impl Write,
) -> Result<ExitCode> {
    if format == OutputFormat::Table {
        session.out.refuse_table_with_jq()?;
        if !images.single {
            return Err(crate::errors::usage(
                "-o table lists one image; several print JSON lines",
            ));
        }
    }
    let one = |image: &str, common: &Common| ls_rows(session, common, image, path, layer);
    if images.single {
        let rows = one(&images.list[0].0, common)?;
        match format {
            OutputFormat::Json => {
                for row in &rows {
                    session.out.line(out, row)?;
                }
            }
            OutputFormat::Table => {
                let table: Vec<Vec<String>> = rows.iter().map(ls_l).collect();
                crate::output::print_columns(
                    out,
                    &["MODE", "UID:GID", "SIZE", "MTIME", "LAYER", "PATH"],
                    &table,
                )?;
            }
        }
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    lines_out(session, images, one, out)
}

/// The rows `ls` prints for one image: the merged file system (or one layer's own
/// entries with `--layer`), under `path` when given. Links on the path are followed,
/// and the last one too when the path ends in `/`, as `ls` does.
fn ls_rows(
    session: &Session,
    common: &Common,
    image: &str,
    path: Option<&str>,
    layer: Option<&str>,
) -> Result<Vec<Value>> {
    let r = crate::flags::parse_reference(image)?;
    let source = Reading { session, common };
    let image = Image::open(&source, &session.layer_index, &r)?;
    let layers = image.layers();
    if let Some(l) = layer {
        let chosen = match l.parse::<usize>() {
            Ok(n) if n < layers.len() => n,
            Ok(n) => bail!(
                "--layer {n}: {} has {} layers (0 is the base)",
                r.familiar(),
                layers.len()
            ),
            Err(_) => layers
                .iter()
                .position(|d| {
                    d.digest.to_string() == l
                        || d.digest
                            .to_string()
                            .split(':')
                            .nth(1)
                            .is_some_and(|h| h.starts_with(l))
                })
                .with_context(|| {
                    format!("--layer {l}: no layer of {} has that digest", r.familiar())
                })?,
        };
        if let Err(why) = layers::packing(&layers[chosen].media_type) {
            bail!("layer {chosen} cannot be read: {why}");
        }
        // One layer's own entries, whiteouts included, under the path as written.
        let prefix = path.map(regpeek_layer::normalize).unwrap_or_default();
        let shown =
            |p: &str| prefix.is_empty() || p == prefix || p.starts_with(&format!("{prefix}/"));
        let own = image.entries(chosen)?;
        return Ok(own
            .iter()
            .filter(|e| shown(&e.path))
            .map(|e| {
                let marker = regpeek_layer::whiteout(&e.path)
                    .map(|(_, opaque)| if opaque { "opaque" } else { "whiteout" });
                entry_json(e, chosen, &layers[chosen].digest, marker)
            })
            .collect());
    }
    let tree = image.tree()?;
    // How many paths are each file (hard links), counted once for the listing.
    let mut links: std::collections::HashMap<&(usize, String), usize> = Default::default();
    for file in tree.nodes().filter_map(|n| n.file.as_ref()) {
        *links.entry(file).or_default() += 1;
    }
    let row = |n: &Node| {
        let mut v = entry_json(&n.entry, n.layer, &layers[n.layer].digest, None);
        // A hard link is the file it shares: its size, and how many paths it has.
        if let Some(size) = n.shared_size {
            v["Size"] = json!(size);
        }
        if let Some(file) = &n.file {
            v["Links"] = json!(links.get(file).copied().unwrap_or(1));
        }
        v
    };
    let Some(asked) = path else {
        return Ok(tree.nodes().map(row).collect());
    };
    let shown = format!("/{}", regpeek_layer::normalize(asked));
    let at = match tree.resolve(asked, asked.ends_with('/')) {
        Ok(at) => at,
        Err(Miss::NotFound(_)) => bail!("{shown}: no such file or directory in {}", r.familiar()),
        Err(Miss::NotADirectory(at)) => bail!("{shown}: /{at} is not a directory"),
        Err(Miss::Loop) => bail!(
            "{shown}: more than {} links to follow",
            regpeek_client::image::overlay::MAX_HOPS
        ),
    };
    let mut rows: Vec<Value> = tree.get(&at).map(row).into_iter().collect();
    rows.extend(tree.under(&at).map(row));
    if rows.is_empty() && !at.is_empty() {
        bail!("{shown}: no such file or directory in {}", r.familiar());
    }
    Ok(rows)
}

fn entry_json(e: &Entry, layer: usize, digest: &Digest, marker: Option<&str>) -> Value {
    let (kind, target) = match &e.kind {
        Kind::File => ("file", None),
        Kind::Dir => ("dir", None),
        Kind::Symlink(t) => ("symlink", Some(t.clone())),
        Kind::Hardlink(t) => ("hardlink", Some(format!("/{t}"))),
        Kind::Other(_) => ("other", None),
    };
    let mtime = jiff::Timestamp::from_second(e.mtime as i64)
        .map(|t| t.to_string())
        .ok();
    json!({
        "Path": format!("/{}", e.path),
        "Type": marker.unwrap_or(kind),
        "Target": target,
        "Mode": format!("{:04o}", e.mode & 0o7777),
        "Uid": e.uid,
        "Gid": e.gid,
        "Size": e.size,
        "Mtime": mtime,
        "Layer": layer,
        "LayerDigest": digest.to_string(),
    })
}

/// A row as `ls -l` shows it.
fn ls_l(v: &Value) -> Vec<String> {
    let t = v["Type"].as_str().unwrap_or("");
    let mode = u32::from_str_radix(v["Mode"].as_str().unwrap_or("0"), 8).unwrap_or(0);
    // A whiteout is a file in its layer's tar, and a hard link is a file.
    let kind = match t {
        "dir" => 'd',
        "symlink" => 'l',
        "other" => '?',
        _ => '-',
    };
    let mut s = String::from(kind);
    // The set-user-ID, set-group-ID and sticky bits take the execute places.
    for (shift, special, set) in [(6, 0o4000, 's'), (3, 0o2000, 's'), (0, 0o1000, 't')] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(match (bits & 1 != 0, mode & special != 0) {
            (true, true) => set,
            (false, true) => set.to_ascii_uppercase(),
            (true, false) => 'x',
            (false, false) => '-',
        });
    }
    // `->` is a symbolic link's; a hard link is shown as the file it is.
    let path = match (t, v["Target"].as_str()) {
        ("symlink", Some(target)) => format!("{} -> {target}", v["Path"].as_str().unwrap_or("")),
        _ => v["Path"].as_str().unwrap_or("").to_owned(),
    };
    vec![
        s,
        format!("{}:{}", v["Uid"], v["Gid"]),
        v["Size"].to_string(),
        v["Mtime"].as_str().unwrap_or("").to_owned(),
        v["Layer"].to_string(),
        path,
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn mode_of(kind: &str, mode: &str) -> String {
        super::ls_l(&json!({"Type": kind, "Mode": mode, "Path": "/x", "Target": "/y"}))[0].clone()
    }

    #[test]
    fn ls_l_shows_the_special_bits_and_hard_links_as_files() {
        assert_eq!(mode_of("file", "4755"), "-rwsr-xr-x");
        assert_eq!(mode_of("file", "2755"), "-rwxr-sr-x");
        assert_eq!(mode_of("file", "6644"), "-rwSr-Sr--");
        assert_eq!(mode_of("dir", "1777"), "drwxrwxrwt");
        assert_eq!(mode_of("dir", "1770"), "drwxrwx--T");
        assert_eq!(mode_of("hardlink", "0644"), "-rw-r--r--");
        assert_eq!(mode_of("whiteout", "0644"), "-rw-r--r--");
        let row = |kind| {
            super::ls_l(&json!({"Type": kind, "Mode": "0777", "Path": "/x", "Target": "/y"}))
        };
        assert_eq!(row("hardlink")[5], "/x");
        assert_eq!(row("symlink")[5], "/x -> /y");
    }
}
