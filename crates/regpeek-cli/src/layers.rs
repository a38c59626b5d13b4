//! Reading layers without pulling the image: one layer blob streamed from the
//! registry through its digest, a decompressor and a tar reader, never held whole in
//! memory. Nothing unverified is used: what a caller keeps of a layer (a file's
//! bytes, its entries) is handed over only once the whole layer has hashed to its
//! digest and size. Bounds a hostile image cannot pass: the compressed size its
//! descriptor states, decompressed bytes (absolute, and as a ratio to the compressed
//! ones: a gzip bomb), entries, path length; truncated streams and lying tar headers
//! fail the tar reader or the digest. Layers, whiteouts and opaque directories:
//! docs/protocol.md §8.2.

use std::io::{Read, Write};

use anyhow::{Context, Result, bail};
use regpeek_proto::manifest::Descriptor;
use regpeek_proto::{Digest, Flow, Goal, Reference};
use sha2::Digest as _;

use crate::args::Common;
use crate::session::Session;

/// The most a layer may decompress to.
pub const MAX_UNPACKED: u64 = 8 << 30;
/// The most a layer may decompress to per compressed byte (gzip tops out near 1032
/// for runs of one byte; real layers are far below 100).
pub const MAX_RATIO: u64 = 250;
/// The most entries a layer may hold.
pub const MAX_ENTRIES: u64 = 1_000_000;
/// The longest path an entry may have.
pub const MAX_PATH: usize = 4096;
/// The largest zstd window a layer may ask for (the decoder holds one window in
/// memory; `zstd` uses 8 MiB at level 19, 128 MiB only with `--ultra -22` or `--long`).
pub const MAX_ZSTD_WINDOW: u64 = 32 << 20;
/// What a file read out of a layer may hold in memory before it spills to a
/// temporary file.
pub const IN_MEMORY: usize = 8 << 20;

/// The most memory [`Index`] gives entries in all (as [`Entry::weight`] counts it).
pub const MAX_INDEXED: usize = 16 << 20;

/// What the layers read in this run hold (their entries, never their bytes), by
/// digest, once each layer has verified: a lookup that a layer read before can answer
/// is answered without fetching it again (`os` trying its release files, `cat` after
/// a link, images of a batch that share a base). Bounded by [`MAX_INDEXED`] entries
/// bytes in all; a layer past the bound is simply read again when asked.
#[derive(Default)]
pub struct Index {
    layers: std::sync::Mutex<Held>,
}

/// The entries held, by digest, and their weight in all.
type Held = (
    std::collections::HashMap<String, std::sync::Arc<Vec<Entry>>>,
    usize,
);

impl Index {
    /// The entries of the layer `digest`, if this run has read it.
    pub fn get(&self, digest: &Digest) -> Option<std::sync::Arc<Vec<Entry>>> {
        let held = self.layers.lock().ok()?;
        held.0.get(&digest.to_string()).cloned()
    }

    /// Keeps the entries of the verified layer `digest`, if there is room.
    pub fn put(&self, digest: &Digest, entries: Vec<Entry>) -> std::sync::Arc<Vec<Entry>> {
        let weight: usize = entries.iter().map(Entry::weight).sum();
        let entries = std::sync::Arc::new(entries);
        if let Ok(mut held) = self.layers.lock()
            && held.1 + weight <= MAX_INDEXED
            && !held.0.contains_key(&digest.to_string())
        {
            held.1 += weight;
            held.0.insert(digest.to_string(), entries.clone());
        }
        entries
    }
}

/// Whether `e` is one of the image's files: an eStargz layer's own TOC is not.
pub fn of_the_image(desc: &Descriptor, e: &Entry) -> bool {
    !(e.path == "stargz.index.json" && desc.annotations.contains_key(crate::estargz::TOC_DIGEST))
}

/// How a layer's bytes are packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    Tar,
    Gzip,
    Zstd,
}

/// The packing of a layer by its media type; `Err` says why it is not read.
pub fn packing(media_type: &str) -> Result<Packing, String> {
    let t = media_type.to_ascii_lowercase();
    if t.contains("nondistributable") || t.contains("foreign") {
        return Err(format!(
            "{media_type}: a foreign layer, not served by the registry"
        ));
    }
    if t.ends_with("+zstd") || t.ends_with(".zstd") {
        return Ok(Packing::Zstd);
    }
    if t.ends_with("+gzip") || t.ends_with(".gzip") || t.ends_with(".tar.gzip") {
        return Ok(Packing::Gzip);
    }
    if t.ends_with(".tar") || t.ends_with("tar") {
        return Ok(Packing::Tar);
    }
    Err(format!("{media_type}: not a layer regpeek can read"))
}

/// One entry of a layer, as its tar header says.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Normalised: no leading `/` or `./`, no `.` or `..` components.
    pub path: String,
    pub kind: Kind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    pub mtime: u64,
}

impl Entry {
    /// About what the entry holds in memory, in bytes.
    pub fn weight(&self) -> usize {
        let link = match &self.kind {
            Kind::Symlink(t) | Kind::Hardlink(t) => t.len(),
            _ => 0,
        };
        std::mem::size_of::<Entry>() + self.path.len() + link
    }
}

/// What an entry is.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    File,
    Dir,
    Symlink(String),
    /// A hard link to another path of the image.
    Hardlink(String),
    Other(char),
}

/// What a visitor asks of the entry it was shown.
pub enum Take {
    /// Nothing more.
    Skip,
    /// Its bytes, to `sink` (verified with the layer before the caller uses them).
    Bytes(Box<dyn Write>),
}

/// A blob of `r`'s repository, streamed.
pub fn open(
    session: &Session,
    common: &Common,
    r: &Reference,
    digest: &Digest,
) -> Result<Box<dyn Read + Send>> {
    Ok(open_range(session, common, r, digest, None)?.0)
}

/// [`open`], of the bytes `range` names (first and last included) when given: the
/// body, and whether it is that range (`false`: the registry sent the whole blob).
pub fn open_range(
    session: &Session,
    common: &Common,
    r: &Reference,
    digest: &Digest,
    range: Option<(u64, u64)>,
) -> Result<(Box<dyn Read + Send>, bool)> {
    let (mut options, client) = session.prepare(r, common, Goal::Blob(digest.clone()))?;
    options.range = range;
    let flow = Flow::new(r.clone(), options, session.cached_tokens());
    let (result, tokens) = client.run_blob(flow);
    session.keep_tokens(&tokens);
    let (outcome, body) = result?;
    let partial = matches!(outcome, regpeek_proto::Outcome::Blob { partial: true, .. });
    Ok((Box::new(body.into_reader()), partial))
}

/// Copies the blob `digest` of `r`'s repository to `sink` (`size` bytes when given,
/// else `limit` at most) and checks it: on `Err`, nothing written to `sink` may be
/// used. `blob` spools to a temporary file, attestation documents to memory.
pub fn read_blob(
    session: &Session,
    common: &Common,
    r: &Reference,
    digest: &Digest,
    size: Option<u64>,
    limit: u64,
    sink: &mut impl Write,
) -> Result<()> {
    if let Some(size) = size.filter(|s| *s > limit) {
        bail!("{digest}: a blob of {size} bytes, over the {limit} read");
    }
    let body = open(session, common, r, digest)?;
    let mut hashing = Hashing::new(body, digest, size.unwrap_or(limit))?;
    std::io::copy(&mut hashing, sink).context("reading the blob")?;
    hashing.verify(digest, size)
}

/// Hashes what is read through it, and stops past `limit` bytes.
pub struct Hashing<R> {
    inner: R,
    hasher: Hasher,
    read: u64,
    limit: u64,
}

enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl<R: Read> Hashing<R> {
    /// `inner`, which must hash to `digest`, `limit` bytes at most.
    pub fn new(inner: R, digest: &Digest, limit: u64) -> Result<Self> {
        let hasher = match digest.to_string().split(':').next() {
            Some("sha256") => Hasher::Sha256(sha2::Sha256::new()),
            Some("sha512") => Hasher::Sha512(sha2::Sha512::new()),
            _ => bail!("{digest}: an algorithm regpeek cannot check"),
        };
        Ok(Hashing {
            inner,
            hasher,
            read: 0,
            limit,
        })
    }

    /// Reads what is left, then says whether all of it hashed to `digest` (and, when
    /// given, was exactly `size` bytes).
    pub fn verify(mut self, digest: &Digest, size: Option<u64>) -> Result<()> {
        std::io::copy(&mut self, &mut std::io::sink()).context("reading the rest of the blob")?;
        let hex = match self.hasher {
            Hasher::Sha256(h) => hex(&h.finalize()),
            Hasher::Sha512(h) => hex(&h.finalize()),
        };
        let got = format!(
            "{}:{hex}",
            digest.to_string().split(':').next().unwrap_or("")
        );
        if got != digest.to_string() {
            bail!(
                "blob {digest} does not match its digest (it hashes to {got}): nothing of it is used"
            );
        }
        if let Some(size) = size.filter(|s| *s != self.read) {
            bail!(
                "blob {digest} is {} bytes where its descriptor says {size}: nothing of it is used",
                self.read
            );
        }
        Ok(())
    }
}

/// Bytes as lowercase hex (a digest's, a path's).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            return Err(std::io::Error::other(format!(
                "the blob is larger than the {} bytes it was said to be",
                self.limit
            )));
        }
        match &mut self.hasher {
            Hasher::Sha256(h) => h.update(&buf[..n]),
            Hasher::Sha512(h) => h.update(&buf[..n]),
        }
        Ok(n)
    }
}

/// Counts decompressed bytes and stops at the caps: absolute, and per compressed byte
/// read so far (with a floor, for the first blocks).
struct Unpacked<R> {
    inner: R,
    read: u64,
    compressed: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Unpacked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        let compressed = self.compressed.load(std::sync::atomic::Ordering::Relaxed);
        let cap = MAX_UNPACKED.min(compressed.saturating_mul(MAX_RATIO).max(64 << 20));
        if self.read > cap {
            return Err(std::io::Error::other(format!(
                "the layer unpacks to more than {cap} bytes ({} per compressed byte at most, {MAX_UNPACKED} in all): refused as a decompression bomb",
                MAX_RATIO
            )));
        }
        Ok(n)
    }
}

/// Every frame of a zstd stream, in order, with skippable frames skipped (zstd:chunked
/// layers hold many frames, and their TOC in skippable ones); each frame's window is
/// bounded by [`MAX_ZSTD_WINDOW`]. The frames are decoded by `ruzstd`.
struct ZstdFrames<R> {
    source: R,
    decoder: ruzstd::decoding::FrameDecoder,
    in_frame: bool,
}

impl<R: std::io::BufRead> ZstdFrames<R> {
    fn new(source: R) -> Self {
        let mut decoder = ruzstd::decoding::FrameDecoder::new();
        decoder.set_max_window_size(MAX_ZSTD_WINDOW);
        ZstdFrames {
            source,
            decoder,
            in_frame: false,
        }
    }
}

impl<R: std::io::BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
        let zstd = |e: FrameDecoderError| std::io::Error::other(format!("zstd: {e}"));
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.in_frame {
                while self.decoder.can_collect() == 0 && !self.decoder.is_finished() {
                    self.decoder
                        .decode_blocks(
                            &mut self.source,
                            ruzstd::decoding::BlockDecodingStrategy::UptoBlocks(1),
                        )
                        .map_err(zstd)?;
                }
                let n = self.decoder.read(buf)?;
                if n > 0 {
                    return Ok(n);
                }
                self.in_frame = false;
            }
            if self.source.fill_buf()?.is_empty() {
                return Ok(0);
            }
            match self.decoder.init(&mut self.source) {
                Ok(()) => self.in_frame = true,
                Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame {
                    length,
                    ..
                })) => {
                    let skipped = std::io::copy(
                        &mut (&mut self.source).take(u64::from(length)),
                        &mut std::io::sink(),
                    )?;
                    if skipped < u64::from(length) {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "zstd: the stream ends inside a skippable frame",
                        ));
                    }
                }
                Err(FrameDecoderError::WindowSizeTooBig { requested, max }) => {
                    return Err(std::io::Error::other(format!(
                        "zstd: a frame asks for a {requested}-byte window, more than the {max} bytes regpeek allows a layer"
                    )));
                }
                Err(e) => return Err(zstd(e)),
            }
        }
    }
}

/// Shares the compressed count with [`Unpacked`].
struct Counting<R> {
    inner: R,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Reads the layer `desc` from `body`: each entry is shown to `visit`, which may ask
/// for its bytes; the whole layer is then hashed to the end and checked against the
/// descriptor before this returns `Ok`. On `Err`, nothing handed to a sink may be used.
pub fn read_layer(
    body: impl Read,
    desc: &Descriptor,
    mut visit: impl FnMut(&Entry) -> Take,
) -> Result<()> {
    let packing = packing(&desc.media_type).map_err(anyhow::Error::msg)?;
    let mut hashing = Hashing::new(body, &desc.digest, desc.size)?;
    {
        let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counting = Counting {
            inner: &mut hashing,
            count: count.clone(),
        };
        let unpacked: Box<dyn Read> = match packing {
            // Every member: pigz and eStargz write several.
            Packing::Gzip => Box::new(flate2::read::MultiGzDecoder::new(counting)),
            Packing::Zstd => Box::new(ZstdFrames::new(std::io::BufReader::new(counting))),
            Packing::Tar => Box::new(counting),
        };
        let unpacked = Unpacked {
            inner: unpacked,
            read: 0,
            compressed: count,
        };
        let mut archive = tar::Archive::new(unpacked);
        let mut n = 0u64;
        for entry in archive.entries().map_err(tar_error)? {
            let mut entry = entry.map_err(tar_error)?;
            n += 1;
            if n > MAX_ENTRIES {
                bail!("the layer has more than {MAX_ENTRIES} entries: refused");
            }
            let Some(e) = describe(&entry)? else { continue };
            if let Take::Bytes(mut sink) = visit(&e) {
                std::io::copy(&mut entry, &mut sink).map_err(tar_error)?;
                sink.flush()?;
            }
        }
    }
    hashing.verify(&desc.digest, Some(desc.size))
}

/// A failure of the tar stream, said plainly: a stream that ends early is truncated,
/// or has a header whose size runs past its end.
fn tar_error(e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::UnexpectedEof || e.to_string().contains("unexpected EOF") {
        return anyhow::anyhow!(
            "reading the layer's tar stream: it ends before its entries do (the layer is truncated, or a tar header states a size its data does not have): {e}"
        );
    }
    anyhow::Error::new(e).context("reading the layer's tar stream")
}

fn describe<R: Read>(entry: &tar::Entry<R>) -> Result<Option<Entry>> {
    let raw = entry.path_bytes();
    if raw.len() > MAX_PATH {
        bail!("an entry's path is longer than {MAX_PATH} bytes: refused");
    }
    let path = normalize(&String::from_utf8_lossy(&raw));
    if path.is_empty() {
        return Ok(None);
    }
    let h = entry.header();
    let link = || -> Result<String> {
        let l = entry.link_name_bytes().context("a link without a target")?;
        if l.len() > MAX_PATH {
            bail!("a link target is longer than {MAX_PATH} bytes: refused");
        }
        Ok(String::from_utf8_lossy(&l).into_owned())
    };
    let t = h.entry_type();
    let kind = if t.is_file() || t == tar::EntryType::Continuous {
        Kind::File
    } else if t.is_dir() {
        Kind::Dir
    } else if t.is_symlink() {
        Kind::Symlink(link()?)
    } else if t.is_hard_link() {
        Kind::Hardlink(normalize(&link()?))
    } else if t.is_pax_global_extensions()
        || t.is_pax_local_extensions()
        || t.is_gnu_longname()
        || t.is_gnu_longlink()
    {
        return Ok(None);
    } else {
        Kind::Other(t.as_byte() as char)
    };
    Ok(Some(Entry {
        path,
        kind,
        mode: h.mode().unwrap_or(0),
        uid: h.uid().unwrap_or(0),
        gid: h.gid().unwrap_or(0),
        size: entry.size(),
        mtime: h.mtime().unwrap_or(0),
    }))
}

/// A path in the image: no leading `/` or `./`, no empty, `.` or `..` components
/// (`..` stops at the root, as in a container).
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

/// The path a whiteout entry deletes (`dir/.wh.name` → `dir/name`), or for an opaque
/// directory marker (`dir/.wh..wh..opq`) the directory whose lower contents it hides.
pub fn whiteout(path: &str) -> Option<(String, bool)> {
    let (dir, name) = match path.rsplit_once('/') {
        Some((d, n)) => (d, n),
        None => ("", path),
    };
    let join = |n: &str| {
        if dir.is_empty() {
            n.to_owned()
        } else {
            format!("{dir}/{n}")
        }
    };
    if name == ".wh..wh..opq" {
        return Some((dir.to_owned(), true));
    }
    name.strip_prefix(".wh.").map(|n| (join(n), false))
}

/// A buffer for bytes that are not to be used until their layer is verified: memory
/// up to [`IN_MEMORY`], then a temporary file.
pub fn spool() -> tempfile::SpooledTempFile {
    tempfile::spooled_tempfile(IN_MEMORY)
}

/// A [`Write`] into a shared spool, for a [`Take::Bytes`] sink.
pub struct SharedSpool(pub std::rc::Rc<std::cell::RefCell<tempfile::SpooledTempFile>>);

impl Write for SharedSpool {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

#[cfg(test)]
mod tests;
