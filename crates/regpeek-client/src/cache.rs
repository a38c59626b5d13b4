//! The cache across runs, in `$XDG_CACHE_HOME/regpeek` (else `~/.cache/regpeek`):
//!
//! - `blobs/sha256/<hex>`: manifests and configs by digest, immutable. Checked against
//!   their digest when written and when read; a corrupt or truncated file is removed
//!   and the content fetched again. Written to a temporary file and renamed, so
//!   parallel runs never see half a file. Pruned least recently used first.
//! - `index.json`: which digest a tag pointed at last (never trusted: the core
//!   revalidates it with one `HEAD`), and which manifests and configs an inspection of
//!   a digest used.
//! - `tokens.json` (mode 0600): bearer tokens with their expiry and what each
//!   registry taught (`TokenCache::to_json`); never a password.
//!
//! The directory is 0700. The core decides what to ask for; this module only keeps
//! files.
//!
//! `index.json` and `tokens.json` are read, changed and written back by many workers
//! at once (a batch's threads, and other regpeek processes): every such update holds
//! an exclusive lock on the `lock` file (flock(2): the kernel drops it when its holder
//! dies, so no dead process can hold it), and re-reads the file under the lock, so no
//! update is lost. Readers need no lock: files are replaced by rename, never torn. A
//! lock still held after [`LOCK_WAIT`] (a stopped process) makes that one update give
//! up, since the cache only saves requests: nothing waits forever.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::SystemTime;

use anyhow::{Context, Result};
use regpeek_proto::{Digest, Inspection, Reference, TokenCache};
use serde::{Deserialize, Serialize};

/// The default size bound of the blob store.
pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;

/// The largest file the cache reads back (bigger than any manifest or config the
/// core accepts); anything else there is not ours.
const MAX_FILE: u64 = 64 << 20;

/// One cache directory.
pub struct Cache {
    dir: PathBuf,
}

#[derive(Serialize, Deserialize, Default)]
struct Index {
    /// `registry/repository:tag` → the digest it pointed at when last seen.
    #[serde(default)]
    tags: BTreeMap<String, String>,
    /// `registry/repository@digest` → the digests an inspection of it used.
    #[serde(default)]
    chains: BTreeMap<String, Vec<String>>,
}

/// What `cache info` prints.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Info {
    /// The cache's directory.
    pub dir: String,
    /// Manifests and configs kept, by digest.
    pub blobs: usize,
    /// Their size in all.
    pub bytes: u64,
    /// Tags whose digest is remembered.
    pub tags: usize,
    /// Registries with kept tokens.
    pub tokens: usize,
}

static TMP: AtomicU32 = AtomicU32::new(0);

/// The longest an update waits for another's lock before giving up.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl Cache {
    /// The cache in `dir`, or the default place.
    pub fn open(dir: Option<&Path>) -> Result<Cache> {
        let dir = match dir {
            Some(d) => d.to_owned(),
            None => default_dir().context("no $XDG_CACHE_HOME or $HOME for the cache")?,
        };
        std::fs::create_dir_all(dir.join("blobs/sha256"))
            .with_context(|| format!("creating the cache in {}", dir.display()))?;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        Ok(Cache { dir })
    }

    /// Where it lives.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn blob_path(&self, digest: &Digest) -> Option<PathBuf> {
        let text = digest.to_string();
        let hex = text.strip_prefix("sha256:")?;
        Some(self.dir.join("blobs/sha256").join(hex))
    }

    /// Content by digest, if held and intact (a bad file is removed).
    pub fn get(&self, digest: &Digest) -> Option<Vec<u8>> {
        let path = self.blob_path(digest)?;
        let bytes = crate::bounded::read(&path, MAX_FILE).ok()?;
        if Digest::sha256(&bytes) != *digest {
            let _ = std::fs::remove_file(&path);
            return None;
        }
        // Least recently used goes first when pruning: mark it used.
        if let Ok(f) = std::fs::File::options().write(true).open(&path) {
            let _ = f.set_modified(SystemTime::now());
        }
        Some(bytes)
    }

    /// Stores content under its digest (checked first), atomically.
    pub fn put(&self, digest: &Digest, bytes: &[u8]) -> Result<()> {
        if Digest::sha256(bytes) != *digest {
            return Ok(());
        }
        let Some(path) = self.blob_path(digest) else {
            return Ok(());
        };
        if path.exists() {
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

    fn index(&self) -> Index {
        crate::bounded::read(&self.dir.join("index.json"), MAX_FILE)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn save_index(&self, index: &Index) -> Result<()> {
        self.write_atomic(
            &self.dir.join("index.json"),
            &serde_json::to_vec(index)?,
            0o644,
        )
    }

    /// Runs a read-modify-write of the cache's shared files while holding its lock.
    fn locked<T>(&self, update: impl FnOnce() -> Result<T>) -> Result<T> {
        let path = self.dir.join("lock");
        let file = std::fs::File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        let start = std::time::Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
                    "{} is held by another process for more than {}s; this update is skipped",
                    path.display(),
                    LOCK_WAIT.as_secs()
                ),
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("locking {}", path.display()));
                }
            }
        }
        let result = update();
        // Also released when `file` is closed; said here for the reader.
        let _ = file.unlock();
        result
    }

    /// The digest a reference resolved to when an inspection at this registry and
    /// repository last kept what it fetched: for a tag, where it pointed; for a digest,
    /// the digest itself once inspected here (content-addressed bytes kept for another
    /// repository say nothing of whether this one has them).
    pub fn resolved(&self, r: &Reference) -> Option<Digest> {
        let index = self.index();
        let top = match r.digest() {
            Some(d) => d.clone(),
            None => tag_in(&index, r)?,
        };
        index
            .chains
            .contains_key(&format!("{}@{top}", r.name()))
            .then_some(top)
    }

    /// Keeps what an inspection fetched, and where its tag pointed.
    pub fn remember(&self, insp: &Inspection) -> Result<()> {
        let mut chain = Vec::new();
        if let Some(raw) = &insp.raw {
            self.put(&insp.digest, raw)?;
            chain.push(insp.digest.to_string());
        }
        if let Some(m) = &insp.manifest
            && let Some(raw) = &m.raw
        {
            self.put(&m.digest, raw)?;
            chain.push(m.digest.to_string());
        }
        if let Some(c) = &insp.config {
            self.put(&c.digest, &c.raw)?;
            chain.push(c.digest.to_string());
        }
        let r = &insp.reference;
        self.locked(|| {
            let mut index = self.index();
            record(&mut index, r, &insp.digest, chain);
            self.save_index(&index)
        })
    }

    /// The tokens and registry knowledge kept from earlier runs.
    pub fn tokens(&self) -> TokenCache {
        crate::bounded::read_text(&self.dir.join("tokens.json"), MAX_FILE)
            .map(|t| TokenCache::from_json(&t))
            .unwrap_or_default()
    }

    /// Changes the kept tokens (0600) under the lock: `change` sees what is on disk
    /// now, with every other run's updates.
    pub fn update_tokens(&self, change: impl FnOnce(&mut TokenCache)) -> Result<()> {
        self.locked(|| {
            let mut tokens = self.tokens();
            change(&mut tokens);
            let json = tokens.to_json(SystemTime::now());
            self.write_atomic(&self.dir.join("tokens.json"), json.as_bytes(), 0o600)
        })
    }

    fn blobs(&self) -> Vec<(PathBuf, u64, SystemTime)> {
        std::fs::read_dir(self.dir.join("blobs/sha256"))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| {
                        let m = e.metadata().ok()?;
                        Some((e.path(), m.len(), m.modified().ok()?))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Removes least recently used blobs until the store fits in `max_bytes`.
    pub fn prune(&self, max_bytes: u64) -> (usize, u64) {
        let mut blobs = self.blobs();
        let mut total: u64 = blobs.iter().map(|b| b.1).sum();
        blobs.sort_by_key(|b| b.2);
        let (mut removed, mut freed) = (0, 0);
        for (path, size, _) in blobs {
            if total <= max_bytes {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= size;
                freed += size;
                removed += 1;
            }
        }
        (removed, freed)
    }

    /// What the cache holds.
    pub fn info(&self) -> Info {
        let blobs = self.blobs();
        Info {
            dir: self.dir.display().to_string(),
            blobs: blobs.len(),
            bytes: blobs.iter().map(|b| b.1).sum(),
            tags: self.index().tags.len(),
            tokens: self.tokens().len(),
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

/// Notes in `index` where the tag of `r` pointed, and the content its inspection used.
fn record(index: &mut Index, r: &Reference, top: &Digest, chain: Vec<String>) {
    if let (Some(tag), None) = (r.tag(), r.digest()) {
        index
            .tags
            .insert(format!("{}:{tag}", r.name()), top.to_string());
    }
    // Even with nothing fetched (a digest learnt by `HEAD`), the key says that this
    // repository served `top`: a digest command for it needs no request again.
    {
        let entry = index
            .chains
            .entry(format!("{}@{top}", r.name()))
            .or_default();
        for d in chain {
            if !entry.contains(&d) {
                entry.push(d);
            }
        }
    }
}

/// Where `index` says the tag of `r` pointed when last seen.
fn tag_in(index: &Index, r: &Reference) -> Option<Digest> {
    let tag = r.tag()?;
    let key = format!("{}:{tag}", r.name());
    Digest::parse(index.tags.get(&key)?).ok()
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
