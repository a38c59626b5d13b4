//! Looking inside an image without pulling it: `blob`, `cat`, `ls` and `os`. Layers
//! are streamed and verified by [`crate::layers`]; nothing of a layer is printed
//! before the whole layer has hashed to its digest. `cat` and `os` read layers from
//! the top down, only as far as the one that decides.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{Read, Seek, Write};
use std::process::ExitCode;
use std::rc::Rc;

use anyhow::{Context, Result, bail};
use regpeek_proto::manifest::{Descriptor, Manifest};
use regpeek_proto::{Digest, Goal, Reference};
use serde_json::{Value, json};

use crate::args::{Common, OutputFormat};
use crate::layers::{self, Entry, Kind, Take};
use crate::session::Session;

use super::Images;

/// The most symbolic links one lookup follows.
const MAX_HOPS: usize = 40;

/// `blob IMAGE DIGEST`: one blob's bytes, verified before any is written.
pub fn blob(
    session: &Session,
    image: &str,
    digest: &str,
    common: &Common,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let r = crate::flags::parse_reference(image)?;
    let digest = Digest::parse(digest).map_err(|e| crate::errors::usage(e.to_string()))?;
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
        session,
        common,
        &r,
        &digest,
        None,
        layers::MAX_UNPACKED,
        &mut spool,
    )?;
    spool.rewind()?;
    std::io::copy(&mut spool, out)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The layers of the image `r` names (for an index, the platform's), base first.
fn layers_of(session: &Session, common: &Common, r: &Reference) -> Result<Vec<Descriptor>> {
    let platform = crate::flags::platform(common)?;
    let insp = session
        .run(r, common, Goal::Manifest(Some(platform)))?
        .into_image()?;
    match insp.manifest.and_then(|m| m.manifest) {
        Some(Manifest::Image(m)) => Ok(m.layers),
        Some(_) => bail!("{} has no image manifest to read layers from", r.familiar()),
        None => bail!("the registry sent no manifest for {}", r.familiar()),
    }
}

/// What the top-most layer that mentions a path says of it.
enum Decision {
    /// A regular file: its bytes, verified.
    File(tempfile::SpooledTempFile),
    Dir,
    Symlink(String),
    Hardlink(String),
    /// A symbolic link at a leading part of the path (`bin` for `bin/sh`).
    Through {
        at: String,
        target: String,
    },
    /// Deleted (a whiteout, or under an opaque directory).
    Deleted,
    NotADirectory(String),
    Other(char),
}

/// The most a layer scan keeps of small files (for [`layers::Index::put_files`]).
const SMALL_PER_LAYER: u64 = 2 << 20;

/// Bytes a sink writes and the scan reads back.
type Shared = Rc<RefCell<Vec<u8>>>;

/// A sink into a shared buffer.
struct Kept(Shared);

impl Write for Kept {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the entries of one layer say of `path`, seen one at a time (a later entry
/// for the same path wins; an exact entry wins over a deleting one).
struct Judge<'a> {
    path: &'a str,
    exact: Option<Decision>,
    through: Option<Decision>,
    deleted: bool,
}

impl<'a> Judge<'a> {
    fn new(path: &'a str) -> Self {
        Judge {
            path,
            exact: None,
            through: None,
            deleted: false,
        }
    }

    /// Takes in one entry; true when it is the regular file asked for (whose bytes
    /// the caller then keeps, as [`Decision::File`]).
    fn see(&mut self, e: &Entry) -> bool {
        let path = self.path;
        if let Some((gone, opaque)) = layers::whiteout(&e.path) {
            let under = gone.is_empty() || path.starts_with(&format!("{gone}/"));
            self.deleted |= under || (!opaque && path == gone);
            return false;
        }
        if e.path == path {
            self.exact = match &e.kind {
                Kind::File => None,
                Kind::Dir => Some(Decision::Dir),
                Kind::Symlink(t) => Some(Decision::Symlink(t.clone())),
                Kind::Hardlink(t) => Some(Decision::Hardlink(t.clone())),
                Kind::Other(c) => Some(Decision::Other(*c)),
            };
            return e.kind == Kind::File;
        }
        if path.starts_with(&format!("{}/", e.path)) {
            self.through = match &e.kind {
                Kind::Dir => None,
                Kind::Symlink(t) => Some(Decision::Through {
                    at: e.path.clone(),
                    target: t.clone(),
                }),
                _ => Some(Decision::NotADirectory(e.path.clone())),
            };
        }
        false
    }

    /// The layer's say, when the file itself was not found in it.
    fn verdict(self) -> Option<Decision> {
        self.exact
            .or(self.through)
            .or(self.deleted.then_some(Decision::Deleted))
    }
}

/// What `entries` (one layer's) say of `path`: `None` when the file's bytes are
/// needed (it is a regular file of that layer), else the layer's say.
fn judge_entries<'e>(
    entries: impl IntoIterator<Item = &'e Entry>,
    path: &str,
) -> Option<Option<Decision>> {
    let mut judge = Judge::new(path);
    let mut file = false;
    for e in entries {
        if e.path == path {
            file = false;
        }
        file |= judge.see(e);
    }
    (!file).then(|| judge.verdict())
}

/// Scans one layer for `path`; `None` when the layer says nothing of it. The layer's
/// entries go to the run's index once it has verified.
fn scan(
    index: &layers::Index,
    body: impl Read + Send,
    desc: &Descriptor,
    path: &str,
) -> Result<Option<Decision>> {
    let spool: Rc<RefCell<Option<Rc<RefCell<tempfile::SpooledTempFile>>>>> = Rc::default();
    let mut judge = Judge::new(path);
    // Kept for the index while they fit in it: the entries, and small files' bytes.
    let (mut entries, mut weight) = (Some(Vec::new()), 0);
    let small: Rc<RefCell<BTreeMap<String, Shared>>> = Rc::default();
    let mut small_total = 0u64;
    layers::read_layer(body, desc, |e: &Entry| {
        if !layers::of_the_image(desc, e) {
            return Take::Skip;
        }
        if let Some(all) = &mut entries {
            weight += e.weight();
            all.push(e.clone());
            if weight > layers::MAX_INDEXED {
                entries = None;
            }
        }
        // A later entry for the same path wins.
        small.borrow_mut().remove(&e.path);
        if e.path == path {
            *spool.borrow_mut() = None;
        }
        if judge.see(e) {
            let s = Rc::new(RefCell::new(layers::spool()));
            *spool.borrow_mut() = Some(s.clone());
            return Take::Bytes(Box::new(layers::SharedSpool(s)));
        }
        if e.kind == Kind::File
            && e.size <= layers::SMALL_FILE
            && small_total + e.size <= SMALL_PER_LAYER
        {
            small_total += e.size;
            let kept = Rc::new(RefCell::new(Vec::new()));
            small.borrow_mut().insert(e.path.clone(), kept.clone());
            return Take::Bytes(Box::new(Kept(kept)));
        }
        Take::Skip
    })?;
    if let Some(all) = entries {
        index.put(&desc.digest, all);
    }
    let files = std::mem::take(&mut *small.borrow_mut())
        .into_iter()
        .map(|(p, b)| (p, b.take()))
        .collect();
    index.put_files(&desc.digest, files);
    if let Some(s) = spool.borrow_mut().take() {
        let mut file = Rc::try_unwrap(s)
            .map_err(|_| anyhow::anyhow!("internal: the spool is still shared"))?
            .into_inner();
        file.rewind()?;
        return Ok(Some(Decision::File(file)));
    }
    Ok(judge.verdict())
}

/// [`scan`] for an eStargz layer from its TOC and the file's chunks alone (`Range`
/// reads); `Ok(None)` when the layer is no eStargz or the registry ignores `Range`.
fn scan_toc(
    session: &Session,
    common: &Common,
    r: &Reference,
    desc: &Descriptor,
    path: &str,
) -> Result<Option<Option<Decision>>> {
    let Some(toc) = crate::estargz::toc(session, common, r, desc)? else {
        return Ok(None);
    };
    let entries = session.layer_index.put(&desc.digest, toc.as_entries());
    if let Some(decision) = judge_entries(entries.iter(), path) {
        return Ok(Some(decision));
    }
    let mut spool = layers::spool();
    match crate::estargz::read_file(session, common, r, desc, &toc, path, &mut spool)? {
        Some(()) => {
            spool.rewind()?;
            Ok(Some(Some(Decision::File(spool))))
        }
        None => Ok(None),
    }
}

/// Where a link at `at` pointing to `target` leads, inside the image's root.
fn follow(at: &str, target: &str) -> String {
    if target.starts_with('/') {
        return layers::normalize(target);
    }
    let dir = at.rsplit_once('/').map_or("", |(d, _)| d);
    layers::normalize(&format!("{dir}/{target}"))
}

/// What a lookup found.
enum Found {
    File(tempfile::SpooledTempFile),
    /// No layer has it.
    Missing,
    /// Deleted by this layer (a whiteout, or an opaque directory above it).
    Deleted(usize),
}

impl Found {
    /// The file, or an error saying why there is none.
    fn file(self, path: &str, r: &Reference) -> Result<tempfile::SpooledTempFile> {
        match self {
            Found::File(f) => Ok(f),
            Found::Missing => bail!("{path}: no such file in {}", r.familiar()),
            Found::Deleted(i) => bail!(
                "{path}: deleted in layer {i} of {} (a whiteout or an opaque directory)",
                r.familiar()
            ),
        }
    }

    fn into_file(self) -> Option<tempfile::SpooledTempFile> {
        match self {
            Found::File(f) => Some(f),
            _ => None,
        }
    }
}

/// A file's bytes, read from the top layer down to the one that decides, links
/// followed inside the root (at most [`MAX_HOPS`]).
fn find(
    session: &Session,
    common: &Common,
    r: &Reference,
    layers: &[Descriptor],
    wanted: &str,
) -> Result<Found> {
    let mut path = layers::normalize(wanted);
    let mut hops = 0;
    let mut top = layers.len();
    'lookup: loop {
        if path.is_empty() {
            bail!("/ is a directory");
        }
        for i in (0..top).rev() {
            let desc = &layers[i];
            if let Err(why) = layers::packing(&desc.media_type) {
                session.warn_once(&format!("layer {i} skipped: {why}"));
                continue;
            }
            let within = || format!("layer {i} ({})", desc.digest);
            // A layer this run has read: its entries say whether it must be fetched.
            let indexed = session.layer_index.get(&desc.digest);
            let known = indexed
                .as_ref()
                .and_then(|entries| judge_entries(entries.iter(), &path));
            // Its file's bytes, when the scan that indexed it kept them.
            let kept = match (&indexed, &known) {
                (Some(_), None) => session.layer_index.file(&desc.digest, &path),
                _ => None,
            };
            let decision = match (known, kept) {
                (Some(decision), _) => decision,
                (None, Some(bytes)) => {
                    let mut f = layers::spool();
                    f.write_all(&bytes)?;
                    f.rewind()?;
                    Some(Decision::File(f))
                }
                (None, None) => {
                    match scan_toc(session, common, r, desc, &path).with_context(within)? {
                        // An eStargz layer: its TOC and the file's chunks alone.
                        Some(decision) => decision,
                        None => {
                            let body = layers::open(session, common, r, &desc.digest)?;
                            scan(&session.layer_index, body, desc, &path).with_context(within)?
                        }
                    }
                }
            };
            let next = match decision {
                None => continue,
                Some(Decision::File(f)) => return Ok(Found::File(f)),
                Some(Decision::Dir) => bail!("/{path} is a directory"),
                Some(Decision::Deleted) => return Ok(Found::Deleted(i)),
                Some(Decision::NotADirectory(at)) => bail!("/{at} is not a directory"),
                Some(Decision::Other(t)) => bail!("/{path} is not a regular file (tar type {t:?})"),
                Some(Decision::Symlink(target)) => (follow(&path, &target), layers.len()),
                // A hard link names a file of the same layer or a lower one.
                Some(Decision::Hardlink(target)) => (target, i + 1),
                Some(Decision::Through { at, target }) => {
                    let rest = &path[at.len() + 1..];
                    (format!("{}/{rest}", follow(&at, &target)), layers.len())
                }
            };
            hops += 1;
            if hops > MAX_HOPS {
                bail!("/{wanted}: more than {MAX_HOPS} links to follow");
            }
            (path, top) = next;
            continue 'lookup;
        }
        return Ok(Found::Missing);
    }
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
    common: &Common,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let file_of = |image: &str| -> Result<tempfile::SpooledTempFile> {
        let r = crate::flags::parse_reference(image)?;
        let layers = layers_of(session, common, &r)?;
        find(session, common, &r, &layers, path)?.file(path, &r)
    };
    if images.single {
        session.out.refuse_jq(
            "--jq reads JSON lines: cat of one image prints the file's bytes (several images, or --file, print JSON lines)",
        )?;
        let mut file = file_of(&images.list[0].0)?;
        std::io::copy(&mut file, out)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let shown = format!("/{}", layers::normalize(path));
    let one = |image: &str| -> Result<Vec<Value>> {
        let mut file = file_of(image)?;
        let mut bytes = Vec::new();
        Read::by_ref(&mut file)
            .take(MAX_IN_LINE + 1)
            .read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX_IN_LINE {
            bail!(
                "{shown}: larger than {MAX_IN_LINE} bytes, too large for a JSON line: cat it from one image"
            );
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
    one: impl Fn(&str) -> Result<Vec<Value>> + Sync,
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

/// `os IMAGE…`: the distribution and version.
pub fn os(
    session: &Session,
    images: &Images,
    common: &Common,
    out: &mut impl Write,
) -> Result<ExitCode> {
    lines_out(
        session,
        images,
        |image| os_of(session, common, image).map(|v| vec![v]),
        out,
    )
}

fn os_of(session: &Session, common: &Common, image: &str) -> Result<Value> {
    let r = crate::flags::parse_reference(image)?;
    let layers = layers_of(session, common, &r)?;
    if layers.is_empty() {
        return Ok(
            json!({"ID": "scratch", "VersionID": null, "PrettyName": "scratch (no layers)", "ReleaseFile": null}),
        );
    }
    let text = |path: &str| -> Result<Option<String>> {
        Ok(
            match find(session, common, &r, &layers, path)?.into_file() {
                Some(mut f) => {
                    let mut s = String::new();
                    Read::by_ref(&mut f)
                        .take(64 << 10)
                        .read_to_string(&mut s)
                        .ok();
                    Some(s)
                }
                None => None,
            },
        )
    };
    let missing = |e: &anyhow::Error| {
        e.to_string().contains("is a directory") || e.to_string().contains("not a")
    };
    for path in ["etc/os-release", "usr/lib/os-release"] {
        match text(path) {
            Ok(Some(body)) => {
                let vars = os_release(&body);
                return Ok(json!({
                    "ID": vars.get("ID"),
                    "VersionID": vars.get("VERSION_ID"),
                    "PrettyName": vars.get("PRETTY_NAME"),
                    "ReleaseFile": format!("/{path}"),
                }));
            }
            Ok(None) => {}
            Err(e) if missing(&e) => {}
            Err(e) => return Err(e),
        }
    }
    for (path, id, name) in [
        ("etc/alpine-release", "alpine", "Alpine Linux"),
        ("etc/debian_version", "debian", "Debian GNU/Linux"),
        ("etc/redhat-release", "rhel", ""),
    ] {
        if let Some(body) = text(path).ok().flatten() {
            let version = body.trim().to_owned();
            let pretty = if name.is_empty() {
                version.clone()
            } else {
                format!("{name} {version}")
            };
            return Ok(
                json!({"ID": id, "VersionID": version, "PrettyName": pretty, "ReleaseFile": format!("/{path}")}),
            );
        }
    }
    if text("bin/busybox").ok().flatten().is_some() {
        return Ok(
            json!({"ID": "busybox", "VersionID": null, "PrettyName": "BusyBox", "ReleaseFile": "/bin/busybox"}),
        );
    }
    Ok(
        json!({"ID": null, "VersionID": null, "PrettyName": null, "ReleaseFile": null, "Note": "no os-release or release file: scratch-like (a static binary, perhaps)"}),
    )
}

/// `KEY=value` lines of an os-release file, quotes removed.
fn os_release(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            (k.trim().to_owned(), v.replace("\\\"", "\""))
        })
        .collect()
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
    let one = |image: &str| ls_rows(session, common, image, path, layer);
    if images.single {
        let rows = one(&images.list[0].0)?;
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

/// How many layers of one image `ls` reads at once.
const LAYERS_AT_ONCE: usize = 4;

/// What the layer `desc` (the image's `i`th) holds: from the run's index, else an
/// eStargz layer's TOC, else the layer read whole; indexed once verified.
fn layer_entries(
    session: &Session,
    common: &Common,
    r: &Reference,
    desc: &Descriptor,
    i: usize,
) -> Result<std::sync::Arc<Vec<Entry>>> {
    if let Some(own) = session.layer_index.get(&desc.digest) {
        return Ok(own);
    }
    let within = || format!("layer {i} ({})", desc.digest);
    if let Some(toc) = crate::estargz::toc(session, common, r, desc).with_context(within)? {
        return Ok(session.layer_index.put(&desc.digest, toc.as_entries()));
    }
    let body = layers::open(session, common, r, &desc.digest)?;
    let mut own = Vec::new();
    layers::read_layer(body, desc, |e| {
        if layers::of_the_image(desc, e) {
            own.push(e.clone());
        }
        Take::Skip
    })
    .with_context(within)?;
    Ok(session.layer_index.put(&desc.digest, own))
}

/// The rows `ls` prints for one image.
fn ls_rows(
    session: &Session,
    common: &Common,
    image: &str,
    path: Option<&str>,
    layer: Option<&str>,
) -> Result<Vec<Value>> {
    let r = crate::flags::parse_reference(image)?;
    let layers = layers_of(session, common, &r)?;
    let prefix = path.map(layers::normalize).unwrap_or_default();
    let mut rows: Vec<(Entry, usize, Option<&'static str>)> = Vec::new();
    let chosen: Option<usize> = match layer {
        None => None,
        Some(l) => Some(match l.parse::<usize>() {
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
        }),
    };
    // The layers to read: every one (or the one chosen) that regpeek can read. They
    // are read several at a time (each is read whole anyway), then laid on in order.
    let wanted: Vec<usize> = (0..layers.len())
        .filter(|i| chosen.is_none_or(|c| c == *i))
        .filter(|&i| match layers::packing(&layers[i].media_type) {
            Ok(_) => true,
            Err(why) => {
                session.warn_once(&format!("layer {i} skipped: {why}"));
                false
            }
        })
        .collect();
    let mut read: Vec<Result<std::sync::Arc<Vec<Entry>>>> = Vec::new();
    super::in_order(
        wanted.len(),
        LAYERS_AT_ONCE,
        |k| layer_entries(session, common, &r, &layers[wanted[k]], wanted[k]),
        |_, entries| {
            read.push(entries);
            Ok(())
        },
    )?;
    let mut merged: BTreeMap<String, (Entry, usize)> = BTreeMap::new();
    for (&i, own) in wanted.iter().zip(read) {
        let own = own?;
        if chosen.is_some() {
            for e in own.iter().cloned() {
                let marker = layers::whiteout(&e.path)
                    .map(|(_, opaque)| if opaque { "opaque" } else { "whiteout" });
                rows.push((e, i, marker));
            }
            continue;
        }
        // This layer's whiteouts hide what lies below; then its entries are laid on.
        for e in own.iter() {
            if let Some((gone, opaque)) = layers::whiteout(&e.path) {
                let under = format!("{gone}/");
                // An opaque directory keeps itself and hides what lies below it; a
                // whiteout deletes the path and everything under it.
                merged.retain(|p, _| {
                    let below = gone.is_empty() || p.starts_with(&under);
                    !(below || !opaque && *p == gone)
                });
            }
        }
        for e in own.iter() {
            if layers::whiteout(&e.path).is_none() {
                merged.insert(e.path.clone(), (e.clone(), i));
            }
        }
    }
    if chosen.is_none() {
        rows = merged.into_values().map(|(e, i)| (e, i, None)).collect();
    }
    let shown = |p: &str| prefix.is_empty() || p == prefix || p.starts_with(&format!("{prefix}/"));
    Ok(rows
        .iter()
        .filter(|(e, _, _)| shown(&e.path))
        .map(|(e, i, marker)| entry_json(e, *i, &layers[*i].digest, *marker))
        .collect())
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
    let kind = match t {
        "dir" => 'd',
        "symlink" => 'l',
        "whiteout" | "opaque" => 'w',
        "other" => '?',
        _ => '-',
    };
    let mut s = String::from(kind);
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    let path = match v["Target"].as_str() {
        Some(target) => format!("{} -> {target}", v["Path"].as_str().unwrap_or("")),
        None => v["Path"].as_str().unwrap_or("").to_owned(),
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
