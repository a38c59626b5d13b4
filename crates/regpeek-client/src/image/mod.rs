//! The image model: an image's layers as the one file system a container sees, read
//! without pulling the image. `ls` (the merged [`Tree`]), `cat` and `os` ([`Image::find`],
//! top-down, reading only the layers that decide) answer from it, with the same
//! overlay rules ([`overlay`]), so they cannot disagree.
//!
//! Layers come from a [`Source`] (the registry, a recording, a local layout); each is
//! verified whole before anything of it is used, and what it holds is kept in the
//! run's [`Index`], so no layer is read twice in a run.

pub mod compare;
pub mod installed;
pub mod os;
pub mod overlay;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, Write};
use std::rc::Rc;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use regpeek_layer::{Entry, Kind, Take};
use regpeek_proto::Reference;
use regpeek_proto::manifest::Descriptor;

use crate::contents::{Contents, Learn};
use crate::layers::{self, Index};
pub use crate::source::Source;
pub use overlay::{Miss, Node, Outcome, Tree};

/// How many layers of one image are read at once when all are needed.
const LAYERS_AT_ONCE: usize = 4;
/// How many layers a lookup asks for ahead, below the one it reads.
const LAYERS_AHEAD: usize = 8;
/// The most a layer scan keeps of small files (for [`Index::put_files`]).
const SMALL_PER_LAYER: u64 = 2 << 20;

/// One image: its reference and layers, and where to read them.
pub struct Image<'a> {
    source: &'a dyn Source,
    index: &'a Index,
    reference: Reference,
    layers: Vec<Descriptor>,
}

/// A file found in an image: its bytes (verified), and the layer that holds them.
pub struct File {
    /// The bytes: in memory, or a temporary file past [`layers::IN_MEMORY`].
    pub bytes: tempfile::SpooledTempFile,
    /// The layer whose entry it is.
    pub layer: usize,
    /// Its path in that layer (where links led).
    pub path: String,
}

impl<'a> Image<'a> {
    /// The image `r` names, its layers asked of `source`.
    pub fn open(source: &'a dyn Source, index: &'a Index, r: &Reference) -> Result<Image<'a>> {
        let layers = source.layers(r)?;
        Ok(Image::with_layers(source, index, r, layers))
    }

    /// The image `r` names, whose layers the caller already has.
    pub fn with_layers(
        source: &'a dyn Source,
        index: &'a Index,
        r: &Reference,
        layers: Vec<Descriptor>,
    ) -> Image<'a> {
        Image {
            source,
            index,
            reference: r.clone(),
            layers,
        }
    }

    /// The image's layers, base first.
    pub fn layers(&self) -> &[Descriptor] {
        &self.layers
    }

    /// The image's reference.
    pub fn reference(&self) -> &Reference {
        &self.reference
    }

    /// Whether layer `i` can be read (a foreign or unknown layer is passed over, said once).
    fn readable(&self, i: usize) -> bool {
        match layers::packing(&self.layers[i].media_type) {
            Ok(_) => true,
            Err(why) => {
                self.source.warn(&format!("layer {i} skipped: {why}"));
                false
            }
        }
    }

    /// The layers that can be read, base first (a foreign or unknown one is passed
    /// over, said once).
    pub fn readable_layers(&self) -> Vec<usize> {
        (0..self.layers.len())
            .filter(|&i| self.readable(i))
            .collect()
    }

    /// What layer `i` holds: from the run's index (or the cache), else an eStargz
    /// layer's TOC, else the layer read whole; indexed once verified.
    pub fn entries(&self, i: usize) -> Result<Arc<Contents>> {
        let desc = &self.layers[i];
        if let Some(own) = self.index.get(&desc.digest) {
            return Ok(own);
        }
        let within = || format!("layer {i} ({})", desc.digest);
        let r = &self.reference;
        if let Some(toc) = crate::estargz::toc(self.source, r, desc).with_context(within)? {
            return Ok(self.index.put(&desc.digest, crate::estargz::contents(&toc)));
        }
        let body = self.source.blob(r, &desc.digest, None)?.0;
        let mut learn = Learn::default();
        layers::read_layer(body, desc, |e| {
            if crate::estargz::of_the_image(desc, e) {
                learn.see(e, None)
            } else {
                Take::Skip
            }
        })
        .with_context(within)?;
        let contents = learn.finish().with_context(|| {
            format!(
                "{}: more entries than regpeek keeps of a layer ({} MiB)",
                within(),
                crate::contents::MAX_LISTED >> 20
            )
        })?;
        Ok(self.index.put(&desc.digest, contents))
    }

    /// The entries of the layers `wanted` (readable ones), read several at a time.
    pub fn entries_of(&self, wanted: &[usize]) -> Result<Vec<Arc<Contents>>> {
        let mut read = Vec::with_capacity(wanted.len());
        // One registry: one lane of the batch engine.
        crate::batch::run(
            &vec![String::new(); wanted.len()],
            LAYERS_AT_ONCE,
            |k| self.entries(wanted[k]),
            |_, entries| {
                read.push(entries);
                Ok(())
            },
        )?;
        read.into_iter().collect()
    }

    /// The merged file system: every readable layer laid on in order.
    pub fn tree(&self) -> Result<Tree> {
        let wanted = self.readable_layers();
        let mut tree = Tree::new();
        for (&i, own) in wanted.iter().zip(self.entries_of(&wanted)?) {
            tree.apply(i, &own);
        }
        Ok(tree)
    }

    /// What the layer `i` says of `path` for the judge `lookup` hands out: from the
    /// index, its kept small file, an eStargz TOC and chunks, or the layer scanned.
    /// `opened`: the layer's body, when it was asked for ahead ([`Image::find`]).
    fn judge(
        &self,
        i: usize,
        lookup: &overlay::Lookup,
        opened: Option<Box<dyn Read + Send>>,
    ) -> Result<Judged> {
        let desc = &self.layers[i];
        let path = lookup.path();
        if let Some(entries) = self.index.get(&desc.digest) {
            let mut judge = lookup.judge();
            let file = entries.iter().fold(false, |file, e| {
                let this = judge.see(e);
                if e.path == path { this } else { file }
            });
            let (say, dirs) = judge.verdict();
            if !file {
                return Ok((say, dirs, None));
            }
            if let Some(bytes) = self.index.file(&desc.digest, path) {
                let mut f = layers::spool();
                f.write_all(&bytes)?;
                f.rewind()?;
                return Ok((say, dirs, Some(f)));
            }
        }
        let within = || format!("layer {i} ({})", desc.digest);
        let r = &self.reference;
        if let Some(toc) = crate::estargz::toc(self.source, r, desc).with_context(within)? {
            let entries = self.index.put(&desc.digest, crate::estargz::contents(&toc));
            let mut judge = lookup.judge();
            for e in entries.iter() {
                judge.see(e);
            }
            let (say, dirs) = judge.verdict();
            if say != Some(overlay::Say::File) {
                return Ok((say, dirs, None));
            }
            let mut spool = layers::spool();
            if crate::estargz::read_file(self.source, r, desc, &toc, path, &mut spool)
                .with_context(within)?
                .is_some()
            {
                spool.rewind()?;
                return Ok((say, dirs, Some(spool)));
            }
        }
        let body = match opened {
            Some(body) => body,
            None => self.source.blob(r, &desc.digest, None)?.0,
        };
        scan(self.index, body, desc, lookup).with_context(within)
    }

    /// Looks `path` up from the top layer down, links followed inside the image;
    /// reads only the layers down to the one that decides. The top layer is read
    /// alone (a file there costs nothing more); when it does not decide, the layers
    /// below that may still be needed are asked for together (eight at
    /// most, not yet indexed) and read top-down as they arrive: a file in the base of
    /// a small image costs two rounds of requests, not one per layer.
    pub fn find(&self, path: &str) -> Result<Found> {
        std::thread::scope(|s| {
            let mut opening: BTreeMap<usize, std::sync::mpsc::Receiver<_>> = BTreeMap::new();
            let mut asked_ahead = false;
            let mut lookup = overlay::Lookup::new(path, self.layers.len());
            while let Some(i) = lookup.layer() {
                if !self.readable(i) {
                    lookup.take(None, Default::default());
                    continue;
                }
                // A body asked for ahead serves the layer's first read.
                let opened = match opening.remove(&i).map(|rx| rx.recv()) {
                    Some(Ok(body)) => Some(body?),
                    _ => None,
                };
                let (say, dirs, bytes) = self.judge(i, &lookup, opened)?;
                let found_path = lookup.path().to_owned();
                lookup.take(say, dirs);
                if let (Some(Outcome::File { .. }), Some(bytes)) = (lookup.outcome(), bytes) {
                    let file = File {
                        bytes,
                        layer: i,
                        path: found_path,
                    };
                    return Ok(Found {
                        outcome: lookup.outcome().cloned().unwrap_or(Outcome::Missing),
                        file: Some(file),
                        resolved: lookup.path().to_owned(),
                    });
                }
                if lookup.outcome().is_none() && !asked_ahead {
                    asked_ahead = true;
                    for k in self.ahead(i) {
                        let (tx, rx) = std::sync::mpsc::channel();
                        let (source, r) = (self.source, &self.reference);
                        let digest = &self.layers[k].digest;
                        s.spawn(move || {
                            let _ = tx.send(source.blob(r, digest, None).map(|(body, _)| body));
                        });
                        opening.insert(k, rx);
                    }
                }
            }
            Ok(Found {
                outcome: lookup.outcome().cloned().unwrap_or(Outcome::Missing),
                file: None,
                resolved: lookup.path().to_owned(),
            })
        })
    }

    /// The layers below `i` worth asking for ahead: readable, not yet indexed, read
    /// whole (not eStargz, whose reads are ranges), nearest first.
    fn ahead(&self, i: usize) -> Vec<usize> {
        (0..i)
            .rev()
            .filter(|&k| {
                let d = &self.layers[k];
                layers::packing(&d.media_type).is_ok()
                    && self.index.get(&d.digest).is_none()
                    && !d.annotations.contains_key(crate::estargz::TOC_DIGEST)
            })
            .take(LAYERS_AHEAD)
            .collect()
    }

    /// The regular file at `path` (links followed), or an error saying why there is none
    /// in the user's terms: a directory names how to list it, a path through a file is
    /// not a directory (a trailing `/` too), and a dangling link says where it led.
    pub fn file(&self, path: &str) -> Result<File> {
        let normal = regpeek_layer::normalize(path);
        let shown = format!("/{normal}");
        let name = self.reference.familiar();
        let found = self.find(path)?;
        let led = if found.resolved != normal && !found.resolved.is_empty() {
            format!(" (links lead to /{}, which does not exist)", found.resolved)
        } else {
            String::new()
        };
        match (found.outcome, found.file) {
            (_, Some(_)) if path.ends_with('/') => bail!("{shown}/: not a directory in {name}"),
            (_, Some(file)) => Ok(file),
            (Outcome::Missing, _) | (Outcome::File { .. }, None) => {
                bail!("{shown}: no such file in {name}{led}")
            }
            (Outcome::Deleted(i), _) => {
                bail!("{shown}: deleted in layer {i} of {name} (a whiteout or an opaque directory)")
            }
            (Outcome::Dir(_), _) => {
                bail!("{shown} is a directory in {name}: list it with `regpeek ls {name} {shown}`")
            }
            (Outcome::NotADirectory(at), _) => bail!("/{at} is not a directory in {name}"),
            (Outcome::NotRegular(p, t), _) => bail!("/{p} is not a regular file (tar type {t:?})"),
            (Outcome::Loop, _) => bail!("{shown}: more than {} links to follow", overlay::MAX_HOPS),
        }
    }
}

/// What a lookup found ([`Image::find`]).
pub struct Found {
    /// How it ended.
    pub outcome: Outcome,
    /// The file, when it is a regular one.
    pub file: Option<File>,
    /// The path the links on the way led to (normalised, no leading `/`).
    pub resolved: String,
}

/// Bytes a sink writes and the scan reads back.
type Buffer = Rc<RefCell<Vec<u8>>>;

/// A sink into a shared buffer.
struct Kept(Buffer);

impl Write for Kept {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A layer's say of a path, the directories on the path down to it, and the file's
/// bytes when it is a regular file of that layer.
type Judged = (
    Option<overlay::Say>,
    BTreeSet<String>,
    Option<tempfile::SpooledTempFile>,
);

/// Reads one layer for the path `lookup` asks of it, keeping the file's bytes when it
/// is a regular file of this layer. The layer's entries and small files go to the
/// run's index once it has verified.
fn scan(
    index: &Index,
    body: impl Read + Send,
    desc: &Descriptor,
    lookup: &overlay::Lookup,
) -> Result<Judged> {
    let path = lookup.path();
    let spool: Rc<RefCell<Option<Rc<RefCell<tempfile::SpooledTempFile>>>>> = Rc::default();
    let mut judge = lookup.judge();
    // What the layer holds, for the index; and small files' bytes.
    let mut learn = Learn::default();
    let small: Rc<RefCell<BTreeMap<String, Buffer>>> = Rc::default();
    let mut small_total = 0u64;
    layers::read_layer(body, desc, |e: &Entry| {
        if !crate::estargz::of_the_image(desc, e) {
            return Take::Skip;
        }
        // A later entry for the same path wins.
        small.borrow_mut().remove(&e.path);
        if e.path == path {
            *spool.borrow_mut() = None;
        }
        if judge.see(e) {
            let s = Rc::new(RefCell::new(layers::spool()));
            *spool.borrow_mut() = Some(s.clone());
            return learn.see(e, Some(Box::new(layers::SharedSpool(s))));
        }
        if e.kind == Kind::File
            && e.size <= layers::SMALL_FILE
            && small_total + e.size <= SMALL_PER_LAYER
        {
            small_total += e.size;
            let kept = Rc::new(RefCell::new(Vec::new()));
            small.borrow_mut().insert(e.path.clone(), kept.clone());
            return learn.see(e, Some(Box::new(Kept(kept))));
        }
        learn.see(e, None)
    })?;
    if let Some(contents) = learn.finish() {
        index.put(&desc.digest, contents);
    }
    let files = std::mem::take(&mut *small.borrow_mut())
        .into_iter()
        .map(|(p, b)| (p, b.take()))
        .collect();
    index.put_files(&desc.digest, files);
    let (say, dirs) = judge.verdict();
    if let Some(s) = spool.borrow_mut().take() {
        let mut file = Rc::try_unwrap(s)
            .map_err(|_| anyhow::anyhow!("internal: the spool is still shared"))?
            .into_inner();
        file.rewind()?;
        return Ok((say, dirs, Some(file)));
    }
    Ok((say, dirs, None))
}
