//! What one layer holds, learnt once from its verified bytes and kept under its
//! digest: its entries in tar order (whiteouts included), each regular file's
//! SHA-256, and the packages its package databases list. `ls`, `cat`, `waste`,
//! `diff --files` and `packages` all answer from it, so a layer read by one of them
//! is read by none of them again: within a run from the run's `layers::Index`,
//! across runs from where it is kept ([`Keep`]: the cache).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{Seek, Write};
use std::rc::Rc;

use regpeek_layer::{Entry, Kind, Take};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::packages::{self, Database, Package, golang};

/// What a database's bytes may hold in memory before they spill to a temporary file.
const IN_MEMORY: usize = 8 << 20;

/// Where contents last across runs, by layer digest (the cache is one).
pub trait Keep: Send + Sync {
    /// What was kept of the layer `layer`, if anything.
    fn contents(&self, layer: &regpeek_proto::Digest) -> Option<Contents>;
    /// Keeps what the verified layer `layer` holds.
    fn keep(&self, layer: &regpeek_proto::Digest, contents: &Contents);
}

/// What one layer holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Contents {
    /// The entries, in the layer's order, whiteouts and opaque markers included.
    pub entries: Vec<Entry>,
    /// Each regular file's SHA-256 (hex), by its index in `entries`; `None` for
    /// other entries, and for files of a layer listed from an eStargz TOC without
    /// a digest.
    pub digests: Vec<Option<String>>,
    /// The package databases the layer holds, by path: what each lists, or why it
    /// could not be read.
    pub databases: BTreeMap<String, Result<Vec<Package>, String>>,
}

impl std::ops::Deref for Contents {
    type Target = [Entry];

    fn deref(&self) -> &[Entry] {
        &self.entries
    }
}

impl Contents {
    /// Contents listed without the files' bytes (an eStargz TOC): no database read.
    pub(crate) fn listed(entries: Vec<Entry>, digests: Vec<Option<String>>) -> Contents {
        Contents {
            entries,
            digests,
            databases: BTreeMap::new(),
        }
    }

    /// About what it holds in memory, in bytes.
    pub(crate) fn weight(&self) -> usize {
        let entries: usize = self.entries.iter().map(Entry::weight).sum();
        let digests = self.digests.iter().flatten().count() * DIGEST_WEIGHT;
        let packages: usize = self
            .databases
            .values()
            .map(|d| d.as_ref().map_or(64, |p| p.len() * 160))
            .sum();
        entries + digests + packages
    }

    /// Dive's size of the layer: the sizes its tar headers state, summed.
    pub(crate) fn stated_size(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }

    /// As kept in the cache.
    pub fn to_json(&self) -> Vec<u8> {
        let kept = Kept {
            version: FORMAT,
            entries: self
                .entries
                .iter()
                .zip(&self.digests)
                .map(|(e, d)| Row::of(e, d.clone()))
                .collect(),
            databases: self.databases.clone(),
        };
        serde_json::to_vec(&kept).unwrap_or_default()
    }

    /// From what [`Contents::to_json`] kept; `None` for anything else (another
    /// format, a damaged file).
    pub(crate) fn from_json(bytes: &[u8]) -> Option<Contents> {
        let kept: Kept = serde_json::from_slice(bytes).ok()?;
        if kept.version != FORMAT {
            return None;
        }
        let (entries, digests) = kept
            .entries
            .into_iter()
            .map(Row::into_entry)
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .unzip();
        Some(Contents {
            entries,
            digests,
            databases: kept.databases,
        })
    }
}

/// What a file's digest weighs in memory (its hex `String`), as [`Contents::weight`]
/// counts it.
const DIGEST_WEIGHT: usize = 88;

/// The cache's format of [`Contents`]; a file of another is read again from the layer.
const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Kept {
    version: u32,
    entries: Vec<Row>,
    databases: BTreeMap<String, Result<Vec<Package>, String>>,
}

/// An entry as kept: path, type (`f`, `d`, `l`, `h`, or the tar type byte), link
/// target, mode, uid, gid, size, mtime, and the content's SHA-256.
#[derive(Serialize, Deserialize)]
struct Row(
    String,
    char,
    String,
    u32,
    u64,
    u64,
    u64,
    u64,
    Option<String>,
);

impl Row {
    fn of(e: &Entry, digest: Option<String>) -> Row {
        let (kind, link) = match &e.kind {
            Kind::File => ('f', String::new()),
            Kind::Dir => ('d', String::new()),
            Kind::Symlink(t) => ('l', t.clone()),
            Kind::Hardlink(t) => ('h', t.clone()),
            Kind::Other(c) => (*c, String::new()),
        };
        Row(
            e.path.clone(),
            kind,
            link,
            e.mode,
            e.uid,
            e.gid,
            e.size,
            e.mtime,
            digest,
        )
    }

    fn into_entry(self) -> Option<(Entry, Option<String>)> {
        let Row(path, kind, link, mode, uid, gid, size, mtime, digest) = self;
        let kind = match kind {
            'f' => Kind::File,
            'd' => Kind::Dir,
            'l' => Kind::Symlink(link),
            'h' => Kind::Hardlink(link),
            c => Kind::Other(c),
        };
        let entry = Entry {
            path,
            kind,
            mode,
            uid,
            gid,
            size,
            mtime,
        };
        Some((entry, digest))
    }
}

/// The most memory one layer's entries may take (as [`Entry::weight`] counts,
/// with their digests): about 300,000 entries.
pub(crate) const MAX_LISTED: usize = 64 << 20;

/// The most of one package database spooled while its layer is read; a larger one
/// is reported, not read.
pub(crate) const MAX_DATABASE: u64 = 256 << 20;

/// Learns a layer's [`Contents`] as its entries go by: shown each entry, it says
/// what to take of it (the bytes of every regular file, to hash; a package
/// database's, to spool). Nothing it learnt is used before [`Learn::finish`], which
/// the caller calls only once the layer verified.
#[derive(Default)]
pub(crate) struct Learn {
    entries: Vec<Entry>,
    digests: Rc<RefCell<Vec<Option<String>>>>,
    spooled: Vec<(String, Database, Rc<RefCell<Spooled>>)>,
    /// Regular files watched for Go's build info.
    go: Vec<(String, Rc<RefCell<golang::Scan>>)>,
    weight: usize,
    /// Entries past [`MAX_LISTED`]: nothing is kept.
    over: bool,
}

/// A database's bytes, or that there were too many.
struct Spooled {
    file: tempfile::SpooledTempFile,
    written: u64,
}

impl Learn {
    /// Shown an entry: what to take of it. `also`: a sink of the caller's own that
    /// gets the same bytes (a file `cat` looks for).
    pub(crate) fn see(&mut self, e: &Entry, also: Option<Box<dyn Write>>) -> Take {
        let at = self.entries.len();
        if !self.over {
            self.weight += e.weight() + DIGEST_WEIGHT;
            self.entries.push(e.clone());
            self.digests.borrow_mut().push(None);
            if self.weight > MAX_LISTED {
                self.over = true;
                self.entries = Vec::new();
                self.digests.borrow_mut().clear();
                self.spooled.clear();
            }
        }
        if e.kind != Kind::File {
            return also.map_or(Take::Skip, Take::Bytes);
        }
        // A later entry for the same path replaces an earlier one.
        self.spooled.retain(|(p, ..)| *p != e.path);
        self.go.retain(|(p, _)| *p != e.path);
        let mut sinks: Vec<Box<dyn Write>> = also.into_iter().collect();
        if !self.over {
            sinks.push(Box::new(Hashing {
                hasher: Some(sha2::Sha256::new()),
                slot: self.digests.clone(),
                at,
            }));
            if let Some(db) = packages::database(&e.path) {
                let spooled = Rc::new(RefCell::new(Spooled {
                    file: tempfile::spooled_tempfile(IN_MEMORY),
                    written: 0,
                }));
                self.spooled.push((e.path.clone(), db, spooled.clone()));
                sinks.push(Box::new(ToSpool(spooled)));
            } else if e.size >= golang::MAGIC.len() as u64 + 32 {
                let scan = Rc::new(RefCell::new(golang::Scan::default()));
                self.go.push((e.path.clone(), scan.clone()));
                sinks.push(Box::new(GoWatch(scan)));
            }
        }
        if sinks.len() > 1 {
            return Take::Bytes(Box::new(Tee(sinks)));
        }
        sinks.pop().map_or(Take::Skip, Take::Bytes)
    }

    /// The layer verified: its contents (databases parsed now), or `None` when the
    /// entries were too many to keep.
    pub(crate) fn finish(self) -> Option<Contents> {
        if self.over {
            return None;
        }
        let digests = self.digests.take();
        let mut databases = BTreeMap::new();
        for (path, db, spooled) in self.spooled {
            let Ok(spooled) = Rc::try_unwrap(spooled).map(RefCell::into_inner) else {
                continue;
            };
            let read = if spooled.written > MAX_DATABASE {
                Err(format!(
                    "/{path}: {} bytes, over the {} MiB a package database may be",
                    spooled.written,
                    MAX_DATABASE >> 20
                ))
            } else {
                let mut file = spooled.file;
                file.rewind()
                    .map_err(|e| format!("/{path}: {e}"))
                    .and_then(|()| packages::parse(db, &path, &mut file))
            };
            databases.insert(path, read);
        }
        for (path, scan) in self.go {
            if let Some(found) = scan.borrow().captured() {
                databases.insert(
                    path.clone(),
                    golang::parse(found).map_err(|e| format!("/{path}: {e}")),
                );
            }
        }
        Some(Contents {
            entries: self.entries,
            digests,
            databases,
        })
    }
}

/// Hashes a file's bytes; its digest goes to its slot when the entry ends.
struct Hashing {
    hasher: Option<sha2::Sha256>,
    slot: Rc<RefCell<Vec<Option<String>>>>,
    at: usize,
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(h) = &mut self.hasher {
            h.update(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Hashing {
    fn drop(&mut self) {
        if let (Some(h), Ok(mut slots)) = (self.hasher.take(), self.slot.try_borrow_mut())
            && let Some(slot) = slots.get_mut(self.at)
        {
            *slot = Some(regpeek_layer::hex(&h.finalize()));
        }
    }
}

/// Spools a database's bytes, counting past [`MAX_DATABASE`] without keeping them.
struct ToSpool(Rc<RefCell<Spooled>>);

impl Write for ToSpool {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut s = self.0.borrow_mut();
        s.written += buf.len() as u64;
        if s.written <= MAX_DATABASE {
            s.file.write_all(buf)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Hands a file's bytes to a Go build-info scan.
struct GoWatch(Rc<RefCell<golang::Scan>>);

impl Write for GoWatch {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().feed(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The same bytes to several sinks.
struct Tee(Vec<Box<dyn Write>>);

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for s in &mut self.0 {
            s.write_all(buf)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        for s in &mut self.0 {
            s.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, kind: Kind, size: u64) -> Entry {
        Entry {
            path: path.into(),
            kind,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size,
            mtime: 0,
        }
    }

    /// Feeds `files` (path, bytes) to a `Learn` as the layer reader would.
    fn learn(files: &[(&str, &[u8])]) -> Contents {
        let mut learn = Learn::default();
        for (path, bytes) in files {
            let e = entry(path, Kind::File, bytes.len() as u64);
            if let Take::Bytes(mut sink) = learn.see(&e, None) {
                sink.write_all(bytes).unwrap();
                sink.flush().unwrap();
            }
        }
        learn.see(&entry("etc", Kind::Dir, 0), None);
        learn.finish().unwrap()
    }

    #[test]
    fn every_file_gets_its_sha256_and_databases_are_parsed() {
        let status = b"Package: tzdata\nStatus: install ok installed\nVersion: 2024a-0+deb12u1\nArchitecture: all\n\n";
        let c = learn(&[("etc/hostname", b"box\n"), ("var/lib/dpkg/status", status)]);
        assert_eq!(c.entries.len(), 3);
        let expect = regpeek_layer::hex(&sha2::Sha256::digest(b"box\n"));
        assert_eq!(c.digests[0].as_deref(), Some(expect.as_str()));
        assert_eq!(c.digests[2], None);
        let pkgs = c.databases["var/lib/dpkg/status"].as_ref().unwrap();
        assert_eq!(pkgs[0].name, "tzdata");
        let back = Contents::from_json(&c.to_json()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn a_later_entry_for_a_database_replaces_the_earlier() {
        let one = b"Package: a\nStatus: install ok installed\nVersion: 1\n\n";
        let two = b"Package: b\nStatus: install ok installed\nVersion: 2\n\n";
        let c = learn(&[("var/lib/dpkg/status", one), ("var/lib/dpkg/status", two)]);
        let pkgs = c.databases["var/lib/dpkg/status"].as_ref().unwrap();
        assert_eq!(pkgs.len(), 1);
        assert_eq!(pkgs[0].name, "b");
    }

    #[test]
    fn a_kept_file_of_another_format_is_not_read() {
        assert_eq!(
            Contents::from_json(b"{\"version\":99,\"entries\":[],\"databases\":{}}"),
            None
        );
        assert_eq!(Contents::from_json(b"garbage"), None);
    }
}
