//! The cache across runs, in `$XDG_CACHE_HOME/regpeek` (else `~/.cache/regpeek`):
//!
//! - `blobs/sha256/<hex>`: manifests and configs by digest, immutable. Checked against
//!   their digest when written and when read; a corrupt or truncated file is removed
//!   and the content fetched again. Written to a temporary file and renamed, so
//!   parallel runs never see half a file. Pruned least recently used first.
//! - `layers/sha256/<hex>`: what each verified layer holds (its entries, file
//!   digests and packages: [`crate::contents::Contents`]), by the layer's digest;
//!   pruned with the blobs, least recently used first.
//! - `cache.db` (mode 0600): the index (`db.rs`): where each tag pointed when last
//!   seen, which repository served which digest, and the kept tokens. One indexed
//!   query a lookup; a batch's updates grouped into transactions.
//!
//! The directory is 0700. The core decides what to ask for; this module only keeps
//! what it learnt. The cache is never a reason to fail: an index that cannot be opened
//! (garbage, a newer format, a read-only file) leaves the run without it, and
//! [`Cache::problem`] says why, for one warning.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use regpeek_proto::{Digest, Inspection, Reference, TokenCache};
use serde::Serialize;

mod db;

use db::{Db, Row};

/// The size the blob store is kept within, pruned at most once a day.
pub const DEFAULT_MAX_BYTES: u64 = 500 * 1000 * 1000;

/// The largest file the cache reads back (bigger than any manifest or config the
/// core accepts); anything else there is not ours.
const MAX_FILE: u64 = 64 << 20;

impl crate::contents::Keep for Cache {
    fn contents(&self, layer: &Digest) -> Option<crate::contents::Contents> {
        self.layer_contents(layer)
    }

    fn keep(&self, layer: &Digest, contents: &crate::contents::Contents) {
        self.keep_layer_contents(layer, contents);
    }
}

/// Manifests and configs, by digest.
const BLOBS: &str = "blobs/sha256";
/// What each layer holds, by the layer's digest.
const LAYERS: &str = "layers/sha256";

/// The largest layer contents file kept (a layer of about 10⁶ entries).
const MAX_CONTENTS: u64 = 256 << 20;

/// One cache directory.
pub struct Cache {
    dir: PathBuf,
    /// The index; `Err`: why it cannot be used (the run goes on without it).
    db: std::result::Result<Db, String>,
    /// Blobs read (and checked) in this run, for the references that share them: a
    /// batch of 10⁵ tags of one image reads its manifest once, not 10⁵ times.
    recent: std::sync::Mutex<Recent>,
}

/// [`Cache::recent`]: at most [`RECENT_BYTES`] in all, emptied when full.
#[derive(Default)]
struct Recent {
    blobs: std::collections::HashMap<Digest, std::sync::Arc<[u8]>>,
    bytes: usize,
}

/// What a run keeps of the blobs it read.
const RECENT_BYTES: usize = 4 << 20;

/// What `cache info` prints.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Info {
    /// The cache's directory.
    pub dir: String,
    /// The index file.
    pub file: String,
    /// Manifests and configs kept, by digest.
    pub blobs: usize,
    /// Layers whose contents are kept (entries, file digests, packages).
    pub layers: usize,
    /// Their size in all, and the index's.
    pub bytes: u64,
    /// Tags whose digest is remembered.
    pub tags: u64,
    /// Digests known to be served by their repository.
    pub served: u64,
    /// Registries with kept tokens.
    pub tokens: usize,
    /// When the least recently seen entry was last seen (RFC 3339).
    pub oldest: Option<String>,
    /// When the most recently seen entry was last seen (RFC 3339).
    pub newest: Option<String>,
    /// Why the index cannot be used, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

static TMP: AtomicU32 = AtomicU32::new(0);

impl Cache {
    /// The cache in `dir`, or the default place.
    pub fn open(dir: Option<&Path>) -> Result<Cache> {
        let dir = match dir {
            Some(d) => d.to_owned(),
            None => default_dir().context("no $XDG_CACHE_HOME or $HOME for the cache")?,
        };
        std::fs::create_dir_all(dir.join(BLOBS))
            .with_context(|| format!("creating the cache in {}", dir.display()))?;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        let db = Db::open(&dir).map_err(|e| format!("{e:#}"));
        Ok(Cache {
            dir,
            db,
            recent: Default::default(),
        })
    }

    /// Why the index cannot be used, or why writing to it failed in this run: for
    /// one warning naming the file and the remedy.
    pub fn problem(&self) -> Option<String> {
        match &self.db {
            Err(why) => Some(why.clone()),
            Ok(db) => db.failure(),
        }
    }

    /// Why writing to the index failed in this run, if it did (an index that could
    /// not be opened is [`Cache::problem`]'s, said when it was opened).
    pub fn write_failure(&self) -> Option<String> {
        self.db.as_ref().ok()?.failure()
    }

    /// Writes what waits, and prunes to [`DEFAULT_MAX_BYTES`] when a day has passed
    /// since the last prune: once, when a command ends.
    pub fn finish(&self) {
        if let Ok(db) = &self.db {
            db.flush();
            if db.prune_due() {
                self.prune(DEFAULT_MAX_BYTES, None);
            }
        }
    }

    /// Where it lives.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the store `under` ([`BLOBS`] or [`LAYERS`]) keeps what is named by a
    /// SHA-256 `digest` (the store holds no other kind).
    fn path_in(&self, under: &str, digest: &Digest) -> Option<PathBuf> {
        let text = digest.to_string();
        let hex = text.strip_prefix("sha256:")?;
        Some(self.dir.join(under).join(hex))
    }

    fn blob_path(&self, digest: &Digest) -> Option<PathBuf> {
        self.path_in(BLOBS, digest)
    }

    /// Content by digest, if held and intact (a bad file is removed).
    pub fn get(&self, digest: &Digest) -> Option<Vec<u8>> {
        if let Some(b) = self.recent.lock().ok()?.blobs.get(digest) {
            return Some(b.to_vec());
        }
        let path = self.blob_path(digest)?;
        let bytes = crate::bounded::read(&path, MAX_FILE).ok()?;
        if Digest::sha256(&bytes) != *digest {
            let _ = std::fs::remove_file(&path);
            return None;
        }
        // Least recently used goes first when pruning: mark it used (once a run).
        if let Ok(f) = std::fs::File::options().write(true).open(&path) {
            let _ = f.set_modified(SystemTime::now());
        }
        if let Ok(mut recent) = self.recent.lock() {
            if recent.bytes + bytes.len() > RECENT_BYTES {
                *recent = Recent::default();
            }
            if bytes.len() <= RECENT_BYTES {
                recent.bytes += bytes.len();
                recent.blobs.insert(digest.clone(), bytes.as_slice().into());
            }
        }
        Some(bytes)
    }

    /// Stores content under its digest (checked first), atomically.
    pub fn put(&self, digest: &Digest, bytes: &[u8]) -> Result<()> {
        let Some(path) = self.blob_path(digest) else {
            return Ok(());
        };
        // Kept already (checked when it was written, and when read back).
        if path.exists() || Digest::sha256(bytes) != *digest {
            return Ok(());
        }
        self.write_atomic(&path, bytes, 0o644)
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
        let tmp = self.dir.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            TMP.fetch_add(1, Ordering::Relaxed)
        ));
        let mut f = std::fs::File::options()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all().ok();
        drop(f);
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// The digest a reference resolved to when an inspection at this registry and
    /// repository last kept what it fetched: for a tag, where it pointed; for a digest,
    /// the digest itself once inspected here (content-addressed bytes kept for another
    /// repository say nothing of whether this one has them).
    pub fn resolved(&self, r: &Reference) -> Option<Digest> {
        let db = self.db.as_ref().ok()?;
        let name = r.name();
        match r.digest() {
            Some(d) => db.served(&name, &d.to_string()).then(|| d.clone()),
            None => Digest::parse(&db.resolved_tag(&name, r.tag()?)?).ok(),
        }
    }

    /// The tags of the repository `name` (`registry/repository`) the cache has seen.
    pub fn tags_of(&self, name: &str) -> Vec<String> {
        self.db
            .as_ref()
            .map(|db| db.tags_of(name))
            .unwrap_or_default()
    }

    /// What a layer unpacks to, as kept by [`Cache::keep_unpacked`].
    pub fn unpacked(&self, layer: &Digest) -> Option<crate::unpacked::Unpacked> {
        let db = self.db.as_ref().ok()?;
        crate::unpacked::Unpacked::from_json(&db.fact(&format!("unpacked:{layer}"))?)
    }

    /// Keeps what a layer unpacks to, for good (its digest fixes its bytes).
    pub fn keep_unpacked(&self, layer: &Digest, unpacked: &crate::unpacked::Unpacked) {
        if let Ok(db) = self.db.as_ref() {
            db.keep_fact(&format!("unpacked:{layer}"), &unpacked.to_json());
        }
    }

    fn contents_path(&self, layer: &Digest) -> Option<PathBuf> {
        self.path_in(LAYERS, layer)
    }

    /// What a layer holds, as [`Cache::keep_layer_contents`] kept it (a damaged
    /// file is removed).
    pub(crate) fn layer_contents(&self, layer: &Digest) -> Option<crate::contents::Contents> {
        let path = self.contents_path(layer)?;
        let bytes = crate::bounded::read(&path, MAX_CONTENTS).ok()?;
        let Some(contents) = crate::contents::Contents::from_json(&bytes) else {
            let _ = std::fs::remove_file(&path);
            return None;
        };
        if let Ok(f) = std::fs::File::options().write(true).open(&path) {
            let _ = f.set_modified(SystemTime::now());
        }
        Some(contents)
    }

    /// Keeps what a verified layer holds, under its digest, atomically.
    pub(crate) fn keep_layer_contents(&self, layer: &Digest, contents: &crate::contents::Contents) {
        let Some(path) = self.contents_path(layer) else {
            return;
        };
        if path.exists() {
            return;
        }
        let bytes = contents.to_json();
        if bytes.len() as u64 > MAX_CONTENTS
            || std::fs::create_dir_all(self.dir.join(LAYERS)).is_err()
        {
            return;
        }
        let _ = self.write_atomic(&path, &bytes, 0o644);
    }

    /// Keeps what an inspection fetched, and where its tag pointed.
    pub fn remember(&self, insp: &Inspection) -> Result<()> {
        if let Some(raw) = &insp.raw {
            self.put(&insp.digest, raw)?;
        }
        if let Some(m) = &insp.manifest
            && let Some(raw) = &m.raw
        {
            self.put(&m.digest, raw)?;
        }
        if let Some(c) = &insp.config {
            self.put(&c.digest, &c.raw)?;
        }
        let Ok(db) = &self.db else {
            return Ok(());
        };
        let r = &insp.reference;
        let name = r.name();
        // Even with nothing fetched (a digest learnt by `HEAD`), the repository served
        // it: a digest command for it needs no request again.
        let mut rows = vec![Row::Served {
            name: name.clone(),
            digest: insp.digest.to_string(),
        }];
        if let (Some(tag), None) = (r.tag(), r.digest()) {
            rows.push(Row::Tag {
                name,
                tag: tag.to_owned(),
                digest: insp.digest.to_string(),
            });
        }
        db.add(rows);
        Ok(())
    }

    /// The tokens and registry knowledge kept from earlier runs.
    pub fn tokens(&self) -> TokenCache {
        self.db.as_ref().map(Db::tokens).unwrap_or_default()
    }

    /// Changes the kept tokens: `change` sees what is stored now, with every other
    /// run's updates. Without an index, nothing is kept.
    pub fn update_tokens(&self, change: impl FnOnce(&mut TokenCache)) -> Result<()> {
        match &self.db {
            Ok(db) => db.update_tokens(change),
            Err(_) => Ok(()),
        }
    }

    /// The files of the store: manifests and configs, then layers' contents.
    fn blobs(&self) -> Vec<(PathBuf, u64, SystemTime)> {
        [BLOBS, LAYERS]
            .iter()
            .flat_map(|dir| {
                std::fs::read_dir(self.dir.join(dir))
                    .map(|rd| {
                        rd.filter_map(|e| e.ok())
                            .filter_map(|e| {
                                let m = e.metadata().ok()?;
                                Some((e.path(), m.len(), m.modified().ok()?))
                            })
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            })
            .collect()
    }

    /// Removes blobs not used for `older_than` (and index rows not seen for as
    /// long), then least recently used blobs until the store fits in `max_bytes`.
    /// How many entries went, and the bytes freed.
    pub fn prune(&self, max_bytes: u64, older_than: Option<Duration>) -> (usize, u64) {
        let mut blobs = self.blobs();
        let mut total: u64 = blobs.iter().map(|b| b.1).sum();
        blobs.sort_by_key(|b| b.2);
        let cutoff = older_than.and_then(|age| SystemTime::now().checked_sub(age));
        let (mut removed, mut freed) = (0, 0);
        for (path, size, used) in blobs {
            let stale = cutoff.is_some_and(|c| used < c);
            if total <= max_bytes && !stale {
                continue;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= size;
                freed += size;
                removed += 1;
            }
        }
        if let (Some(age), Ok(db)) = (older_than, &self.db) {
            db.flush();
            removed += db.forget_older_than(age).unwrap_or(0) as usize;
        }
        (removed, freed)
    }

    /// What the cache holds.
    pub fn info(&self) -> Info {
        let blobs = self.blobs();
        let layers = blobs
            .iter()
            .filter(|b| b.0.parent().is_some_and(|d| d.ends_with(LAYERS)))
            .count();
        let file = self.dir.join("cache.db");
        let index_bytes: u64 = ["cache.db", "cache.db-wal"]
            .iter()
            .filter_map(|f| std::fs::metadata(self.dir.join(f)).ok())
            .map(|m| m.len())
            .sum();
        let counts = self.db.as_ref().ok().and_then(|db| {
            db.flush();
            db.counts().ok()
        });
        let when = |secs: Option<i64>| {
            secs.and_then(|s| jiff::Timestamp::from_second(s).ok())
                .map(|t| t.to_string())
        };
        Info {
            dir: self.dir.display().to_string(),
            file: file.display().to_string(),
            blobs: blobs.len() - layers,
            layers,
            bytes: blobs.iter().map(|b| b.1).sum::<u64>() + index_bytes,
            tags: counts.as_ref().map_or(0, |c| c.tags),
            served: counts.as_ref().map_or(0, |c| c.served),
            tokens: self.tokens().len(),
            oldest: when(counts.as_ref().and_then(|c| c.oldest)),
            newest: when(counts.as_ref().and_then(|c| c.newest)),
            problem: self.db.as_ref().err().cloned(),
        }
    }

    /// Removes everything.
    pub fn clear(&self) -> Result<()> {
        std::fs::remove_dir_all(&self.dir)
            .with_context(|| format!("removing {}", self.dir.display()))
    }
}

fn default_dir() -> Option<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("XDG_CACHE_HOME")
        .or_else(|| var("HOME").map(|h| h.join(".cache")))
        .map(|d| d.join("regpeek"))
}

/// Manifests and configs a batch keeps in memory for its later references, by digest
/// (what the cache on disk would keep, when there is none).
pub type InMemory = std::sync::Arc<std::sync::Mutex<BTreeMap<Digest, Vec<u8>>>>;

/// What the core may take instead of fetching for `r` ([`regpeek_proto::Known`]): content
/// from `in_memory`, then from `cache`, each read only when the flow asks for it; and
/// the digest the cache saw `r` resolve to at its repository.
pub fn known(
    cache: Option<std::sync::Arc<Cache>>,
    in_memory: Option<InMemory>,
    r: &Reference,
) -> regpeek_proto::Known {
    if cache.is_none() && in_memory.is_none() {
        return regpeek_proto::Known::default();
    }
    let resolved = cache.as_ref().and_then(|c| c.resolved(r));
    let mut known = regpeek_proto::Known::lookup(move |d| {
        let kept = in_memory
            .as_ref()
            .and_then(|m| m.lock().ok().and_then(|m| m.get(d).cloned()));
        kept.or_else(|| cache.as_ref()?.get(d))
    });
    known.resolved = resolved;
    known
}
