//! Reading layers without pulling the image: the blob streamed from a [`Source`] and
//! handed chunk by chunk to the sans-IO [`regpeek_layer::Reader`],
//! which hashes, decompresses and parses it; nothing of a layer is used before the
//! whole of it has hashed to its digest and size. Also: one blob read and verified
//! ([`read_blob`]), the run's index of what the layers read hold ([`Index`]), and the
//! spool where a file's bytes wait. Layers, whiteouts and opaque directories:
//! docs/protocol.md §8.2.

use std::io::{Read, Write};

use anyhow::{Context, Result, bail};
use regpeek_proto::manifest::Descriptor;
use regpeek_proto::{Digest, Reference};

use crate::contents::{Contents, Keep};
use crate::source::Source;

pub use regpeek_layer::{Entry, Kind, MAX_UNPACKED, Take, hex, normalize, packing, whiteout};

/// What a file read out of a layer may hold in memory before it spills to a
/// temporary file.
pub const IN_MEMORY: usize = 8 << 20;

/// The most memory [`Index`] gives entries in all (as [`Entry::weight`] counts it).
pub const MAX_INDEXED: usize = 16 << 20;

/// What the layers read hold ([`Contents`]: entries, file digests, packages), by
/// digest, once each layer has verified: a lookup that a layer read before can answer
/// is answered without fetching it again (`os` trying its release files, `cat` after
/// a link, images of a batch that share a base). Held in memory within
/// [`MAX_INDEXED`] bytes in all, and, with a cache ([`Index::keeping`]), kept there
/// across runs under the layer's digest.
#[derive(Default)]
pub struct Index {
    layers: std::sync::Mutex<Kept>,
    /// The bytes of small regular files of the layers scanned for a path, by layer
    /// digest and path, and their size in all ([`SMALL_FILES`] at most).
    files: std::sync::Mutex<(FileBytes, usize)>,
    /// Where contents last across runs.
    cache: Option<std::sync::Arc<dyn Keep>>,
}

/// Small files' bytes by (layer digest, path).
type FileBytes = std::collections::HashMap<(String, String), std::sync::Arc<Vec<u8>>>;

/// The largest file whose bytes a layer scan keeps for later lookups (an
/// `os-release` reached through a link, a release file `os` tries next).
pub(crate) const SMALL_FILE: u64 = 64 << 10;
/// What the small files kept may hold in all, for the run.
pub(crate) const SMALL_FILES: usize = 8 << 20;

/// The contents held, by digest, and their weight in all.
type Kept = (
    std::collections::HashMap<String, std::sync::Arc<Contents>>,
    usize,
);

impl Index {
    /// An index that keeps what it learns in `cache` too, and looks there first.
    pub fn keeping(cache: Option<std::sync::Arc<dyn Keep>>) -> Index {
        Index {
            cache,
            ..Index::default()
        }
    }

    /// The contents of the layer `digest`, if this run has read it (or the cache
    /// kept it).
    pub fn get(&self, digest: &Digest) -> Option<std::sync::Arc<Contents>> {
        if let Some(held) = self.layers.lock().ok()?.0.get(&digest.to_string()) {
            return Some(held.clone());
        }
        let kept = self.cache.as_ref()?.contents(digest)?;
        Some(self.hold(digest, kept))
    }

    /// Keeps the contents of the verified layer `digest` (in the cache too).
    pub fn put(&self, digest: &Digest, contents: Contents) -> std::sync::Arc<Contents> {
        if let Some(cache) = &self.cache {
            cache.keep(digest, &contents);
        }
        self.hold(digest, contents)
    }

    /// Holds `contents` in memory, if there is room.
    fn hold(&self, digest: &Digest, contents: Contents) -> std::sync::Arc<Contents> {
        let weight = contents.weight();
        let contents = std::sync::Arc::new(contents);
        if let Ok(mut held) = self.layers.lock()
            && held.1 + weight <= MAX_INDEXED
            && !held.0.contains_key(&digest.to_string())
        {
            held.1 += weight;
            held.0.insert(digest.to_string(), contents.clone());
        }
        contents
    }

    /// The bytes of the small file `path` of the verified layer `digest`, if kept.
    pub fn file(&self, digest: &Digest, path: &str) -> Option<std::sync::Arc<Vec<u8>>> {
        let held = self.files.lock().ok()?;
        held.0.get(&(digest.to_string(), path.to_owned())).cloned()
    }

    /// Keeps the small files of the verified layer `digest`, while there is room.
    pub(crate) fn put_files(&self, digest: &Digest, files: Vec<(String, Vec<u8>)>) {
        let Ok(mut held) = self.files.lock() else {
            return;
        };
        for (path, bytes) in files {
            if held.1 + bytes.len() > SMALL_FILES {
                break;
            }
            held.1 += bytes.len();
            held.0
                .insert((digest.to_string(), path), std::sync::Arc::new(bytes));
        }
    }
}

/// Copies the blob `digest` of `r`'s repository to `sink` (`size` bytes when given,
/// else `limit` at most) and checks it: on `Err`, nothing written to `sink` may be
/// used. `blob` spools to a temporary file, attestation documents to memory.
pub fn read_blob(
    source: &dyn Source,
    r: &Reference,
    digest: &Digest,
    size: Option<u64>,
    limit: u64,
    sink: &mut impl Write,
) -> Result<()> {
    if let Some(size) = size.filter(|s| *s > limit) {
        bail!("{digest}: a blob of {size} bytes, over the {limit} read");
    }
    let mut body = source.blob(r, digest, None)?.0;
    let mut check = regpeek_layer::Check::new(digest)?;
    let cap = size.unwrap_or(limit);
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = match body.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(anyhow::Error::new(e).context("reading the blob")),
        };
        check.update(&chunk[..n]);
        if check.read() > cap {
            bail!("reading the blob: the blob is larger than the {cap} bytes it was said to be");
        }
        sink.write_all(&chunk[..n])?;
    }
    check.finish(size)?;
    Ok(())
}

/// Reads the layer `desc` from `body`, chunk by chunk through the sans-IO reader:
/// each entry is shown to `visit`, which may ask for its bytes; the whole layer is
/// hashed and checked against the descriptor before this returns `Ok`. On `Err`,
/// nothing handed to a sink may be used. The body is read on a thread of its own, a
/// few chunks ahead, so that the network and the decompressor overlap.
pub(crate) fn read_layer(
    body: impl Read + Send,
    desc: &Descriptor,
    visit: impl FnMut(&Entry) -> Take,
) -> Result<()> {
    let reader = regpeek_layer::Reader::new(&desc.media_type, &desc.digest, desc.size)?;
    read_layer_with(body, desc, reader, visit).map(drop)
}

/// [`read_layer`] with a reader of the caller's ([`regpeek_layer::Reader::to_the_end`]):
/// how many bytes the layer unpacked to.
pub(crate) fn read_layer_with(
    body: impl Read + Send,
    desc: &Descriptor,
    mut reader: regpeek_layer::Reader,
    mut visit: impl FnMut(&Entry) -> Take,
) -> Result<u64> {
    /// Chunks read ahead: 8 × 64 KiB.
    const AHEAD: usize = 8;
    let (tx, rx) = std::sync::mpsc::sync_channel::<std::io::Result<Vec<u8>>>(AHEAD);
    std::thread::scope(|s| -> Result<()> {
        // Dropped when this returns, early too: the reading thread then stops.
        let rx = rx;
        s.spawn(move || {
            let mut body = body;
            loop {
                let mut chunk = vec![0u8; 64 << 10];
                let sent = match body.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => {
                        chunk.truncate(n);
                        tx.send(Ok(chunk))
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        break;
                    }
                };
                // The reader gave up (an error): stop reading.
                if sent.is_err() {
                    break;
                }
            }
        });
        for chunk in &rx {
            let chunk = chunk.context("reading the layer")?;
            reader.feed(&chunk, &mut visit)?;
            // Broken already: the rest is read only to tell a corrupted blob from a
            // broken one, and not when much is left (a hostile layer of gigabytes).
            if reader.failed() && desc.size.saturating_sub(reader.fed()) > MAX_READ_FOR_CAUSE {
                break;
            }
        }
        Ok(())
    })?;
    if reader.failed() && reader.fed() < desc.size {
        if let Some(e) = reader.into_error() {
            return Err(e.into());
        }
        bail!("internal: a failed layer without its error");
    }
    Ok(reader.finish(&mut visit)?)
}

/// The most of a broken layer still read to check its digest.
const MAX_READ_FOR_CAUSE: u64 = 16 << 20;

/// A buffer for bytes that are not to be used until their layer is verified: memory
/// up to [`IN_MEMORY`], then a temporary file.
pub fn spool() -> tempfile::SpooledTempFile {
    tempfile::spooled_tempfile(IN_MEMORY)
}

/// A [`Write`] into a shared spool, for a [`Take::Bytes`] sink.
pub(crate) struct SharedSpool(pub std::rc::Rc<std::cell::RefCell<tempfile::SpooledTempFile>>);

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
