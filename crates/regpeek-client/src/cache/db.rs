//! The cache's index, `cache.db`: SQLite in WAL mode. Many processes read and write
//! it at once (readers never wait for a writer), and a crash loses at most the
//! answers not yet committed. What it holds:
//!
//! - `tags`: which digest `registry/repository:tag` pointed at when last seen (never
//!   trusted alone: the core revalidates it with one `HEAD`);
//! - `served`: that `registry/repository` served a digest (content-addressed bytes
//!   kept for one repository say nothing of whether another has them);
//! - `meta`: the format's version, the kept tokens and registry knowledge
//!   ([`TokenCache::to_json`], never a password), and when it was last pruned.
//!
//! A batch's answers are written in groups ([`FLUSH_ROWS`] rows, or
//! [`FLUSH_AFTER`]), one transaction each, so a batch of N references writes N rows,
//! never N copies of everything. Lookups see the rows still waiting.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use rusqlite::{Connection, OptionalExtension, params};

use regpeek_proto::TokenCache;

/// The format this regpeek writes (`PRAGMA user_version`); a newer one is refused.
pub const FORMAT: i64 = 1;

/// Rows a batch gathers before writing them in one transaction.
pub const FLUSH_ROWS: usize = 100;

/// The longest a gathered row waits for its transaction.
pub const FLUSH_AFTER: Duration = Duration::from_millis(50);

/// The longest a writer waits for another process's transaction.
const BUSY_WAIT: Duration = Duration::from_secs(5);

/// One row waiting for its transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    /// `name:tag` pointed at `digest`.
    Tag {
        name: String,
        tag: String,
        digest: String,
    },
    /// `name` served `digest`.
    Served { name: String, digest: String },
}

/// The open index: one connection (SQLite connections are not shared between
/// threads), and the rows waiting for their transaction.
pub struct Db {
    path: PathBuf,
    conn: Mutex<Connection>,
    waiting: Mutex<(Vec<Row>, Instant)>,
    /// Why the last write failed, once (a full disk, a read-only file).
    failed: Mutex<Option<String>>,
}

/// What the index holds, for `cache info`.
pub struct Counts {
    pub tags: u64,
    pub served: u64,
    /// Seconds since the epoch of the oldest and newest row.
    pub oldest: Option<i64>,
    pub newest: Option<i64>,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Db {
    /// Opens (or creates) `cache.db` in `dir`, migrating an `index.json` and
    /// `tokens.json` of the earlier format once (then removing them). Fails on a file
    /// that is not a database, a newer format, or one that cannot be opened.
    pub fn open(dir: &Path) -> Result<Db> {
        let path = dir.join("cache.db");
        let shown = path.display().to_string();
        let conn = Connection::open(&path).with_context(|| format!("opening {shown}"))?;
        conn.busy_timeout(BUSY_WAIT)?;
        // The first statement reads the header: garbage fails here.
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .with_context(|| format!("reading {shown}"))?;
        if version > FORMAT {
            bail!(
                "{shown} was written by a newer regpeek (format {version}; this one reads up to {FORMAT})"
            );
        }
        let _: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .with_context(|| format!("opening {shown} in WAL mode"))?;
        // A forgotten token (logout) is overwritten, not left in a free page.
        conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA secure_delete=ON;")?;
        // It holds tokens: for this user alone (SQLite gives its -wal and -shm files
        // the same mode).
        {
            use std::os::unix::fs::PermissionsExt as _;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        }
        let db = Db {
            path,
            conn: Mutex::new(conn),
            waiting: Mutex::new((Vec::new(), Instant::now())),
            failed: Mutex::new(None),
        };
        db.create_or_migrate(dir, version)
            .with_context(|| format!("setting up {shown}"))?;
        Ok(db)
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The schema (format 0: none yet), and what the JSON files of the earlier format
    /// held, in one transaction: a second process waits, then finds them gone.
    fn create_or_migrate(&self, dir: &Path, version: i64) -> Result<()> {
        let mut conn = self.conn();
        let old_index = dir.join("index.json");
        let old_tokens = dir.join("tokens.json");
        if version == FORMAT && !old_index.exists() && !old_tokens.exists() {
            return Ok(());
        }
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS tags (
                 name TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL,
                 seen INTEGER NOT NULL, PRIMARY KEY (name, tag)) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS served (
                 name TEXT NOT NULL, digest TEXT NOT NULL, seen INTEGER NOT NULL,
                 PRIMARY KEY (name, digest)) WITHOUT ROWID;
             CREATE INDEX IF NOT EXISTS tags_seen ON tags (seen);
             CREATE INDEX IF NOT EXISTS served_seen ON served (seen);
             CREATE TABLE IF NOT EXISTS meta (
                 key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;",
        )?;
        tx.pragma_update(None, "user_version", FORMAT)?;
        let now = now_secs();
        if let Ok(bytes) = crate::bounded::read(&old_index, 64 << 20) {
            #[derive(serde::Deserialize, Default)]
            struct Old {
                #[serde(default)]
                tags: std::collections::BTreeMap<String, String>,
                #[serde(default)]
                chains: std::collections::BTreeMap<String, serde_json::Value>,
            }
            let old: Old = serde_json::from_slice(&bytes).unwrap_or_default();
            for (key, digest) in &old.tags {
                if let Some((name, tag)) = split_tag(key) {
                    tx.execute(
                        "INSERT OR REPLACE INTO tags VALUES (?1, ?2, ?3, ?4)",
                        params![name, tag, digest, now],
                    )?;
                }
            }
            for key in old.chains.keys() {
                if let Some((name, digest)) = key.split_once('@') {
                    tx.execute(
                        "INSERT OR REPLACE INTO served VALUES (?1, ?2, ?3)",
                        params![name, digest, now],
                    )?;
                }
            }
        }
        if let Ok(text) = crate::bounded::read_text(&old_tokens, 64 << 20) {
            let tokens = TokenCache::from_json(&text);
            tx.execute(
                "INSERT OR REPLACE INTO meta VALUES ('tokens', ?1)",
                params![tokens.to_json(SystemTime::now())],
            )?;
        }
        tx.commit()?;
        let _ = std::fs::remove_file(&old_index);
        let _ = std::fs::remove_file(&old_tokens);
        Ok(())
    }

    /// The digest `name:tag` pointed at when last seen.
    pub fn tag(&self, name: &str, tag: &str) -> Option<String> {
        let waiting = self
            .waiting
            .lock()
            .ok()?
            .0
            .iter()
            .rev()
            .find_map(|r| match r {
                Row::Tag {
                    name: n,
                    tag: t,
                    digest,
                } if n == name && t == tag => Some(digest.clone()),
                _ => None,
            });
        if waiting.is_some() {
            return waiting;
        }
        self.conn()
            .prepare_cached("SELECT digest FROM tags WHERE name = ?1 AND tag = ?2")
            .and_then(|mut s| s.query_row(params![name, tag], |r| r.get(0)).optional())
            .ok()
            .flatten()
    }

    /// The tags of `name` seen (waiting rows too), each once, in byte order.
    pub fn tags_of(&self, name: &str) -> Vec<String> {
        let mut tags: Vec<String> = self
            .waiting
            .lock()
            .map(|w| {
                w.0.iter()
                    .filter_map(|r| match r {
                        Row::Tag { name: n, tag, .. } if n == name => Some(tag.clone()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        if let Ok(mut stmt) = self
            .conn()
            .prepare_cached("SELECT tag FROM tags WHERE name = ?1")
            && let Ok(rows) = stmt.query_map([name], |r| r.get::<_, String>(0))
        {
            tags.extend(rows.flatten());
        }
        tags.sort();
        tags.dedup();
        tags
    }

    /// The digest `name:tag` pointed at when last seen, if `name` served it. (A
    /// waiting tag row always waits with its served row: `Cache::remember` adds them
    /// together.)
    pub fn resolved_tag(&self, name: &str, tag: &str) -> Option<String> {
        // Two lookups by primary key: a join of the two is re-planned at every call
        // (SQLite's STAT4 weighs the bound values), which costs more than both.
        let digest = self.tag(name, tag)?;
        self.served(name, &digest).then_some(digest)
    }

    /// Whether a waiting row says `name` served `digest`.
    fn is_waiting(&self, name: &str, digest: &str) -> bool {
        self.waiting.lock().is_ok_and(|w| {
            w.0.iter().any(
                |r| matches!(r, Row::Served { name: n, digest: d } if n == name && d == digest),
            )
        })
    }

    /// Whether `name` served `digest`.
    pub fn served(&self, name: &str, digest: &str) -> bool {
        self.is_waiting(name, digest)
            || self
                .conn()
                .prepare_cached("SELECT 1 FROM served WHERE name = ?1 AND digest = ?2")
                .and_then(|mut s| s.exists(params![name, digest]))
                .unwrap_or(false)
    }

    /// Adds rows; they are written with others, in one transaction, once
    /// [`FLUSH_ROWS`] wait or the oldest has waited [`FLUSH_AFTER`].
    pub fn add(&self, rows: impl IntoIterator<Item = Row>) {
        let due = {
            let Ok(mut w) = self.waiting.lock() else {
                return;
            };
            if w.0.is_empty() {
                w.1 = Instant::now();
            }
            w.0.extend(rows);
            w.0.len() >= FLUSH_ROWS || w.1.elapsed() >= FLUSH_AFTER
        };
        if due {
            self.flush();
        }
    }

    /// Writes every waiting row, in one transaction. A write that fails (a full disk,
    /// a read-only file) drops them: the cache only saves requests. Its reason is kept
    /// for [`Db::failure`].
    pub fn flush(&self) {
        let rows = match self.waiting.lock() {
            Ok(mut w) => std::mem::take(&mut w.0),
            Err(_) => return,
        };
        if rows.is_empty() {
            return;
        }
        if let Err(e) = self.write(&rows)
            && let Ok(mut f) = self.failed.lock()
        {
            f.get_or_insert_with(|| format!("writing {}: {e:#}", self.path.display()));
        }
    }

    fn write(&self, rows: &[Row]) -> Result<()> {
        let now = now_secs();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut tag = tx.prepare_cached(
                "INSERT INTO tags VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name, tag) DO UPDATE SET digest = excluded.digest, seen = excluded.seen",
            )?;
            let mut served = tx.prepare_cached(
                "INSERT INTO served VALUES (?1, ?2, ?3)
                 ON CONFLICT (name, digest) DO UPDATE SET seen = excluded.seen",
            )?;
            for row in rows {
                match row {
                    Row::Tag {
                        name,
                        tag: t,
                        digest,
                    } => {
                        tag.execute(params![name, t, digest, now])?;
                    }
                    Row::Served { name, digest } => {
                        served.execute(params![name, digest, now])?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Why a write failed in this run, if one did.
    pub fn failure(&self) -> Option<String> {
        self.failed.lock().ok()?.clone()
    }

    /// The kept tokens and registry knowledge.
    pub fn tokens(&self) -> TokenCache {
        self.meta("tokens")
            .map(|t| TokenCache::from_json(&t))
            .unwrap_or_default()
    }

    /// Changes the kept tokens in one transaction: `change` sees what is stored now,
    /// with every other run's updates.
    pub fn update_tokens(&self, change: impl FnOnce(&mut TokenCache)) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let stored: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE key = 'tokens'", [], |r| {
                r.get(0)
            })
            .optional()?;
        let mut tokens = stored
            .map(|t| TokenCache::from_json(&t))
            .unwrap_or_default();
        change(&mut tokens);
        tx.execute(
            "INSERT OR REPLACE INTO meta VALUES ('tokens', ?1)",
            params![tokens.to_json(SystemTime::now())],
        )?;
        tx.commit()?;
        // The log would keep the earlier tokens until it is reused: moved into the
        // database (where secure_delete overwrote them) and emptied. Another process
        // reading at that moment only makes this a no-op.
        let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        Ok(())
    }

    /// A value kept under `key` for good (content-addressed facts, such as a layer's
    /// unpacked size under `unpacked:<digest>`).
    pub fn fact(&self, key: &str) -> Option<String> {
        self.meta(&format!("fact:{key}"))
    }

    /// Keeps `value` under `key` for good; a write that fails only costs a request
    /// next time.
    pub fn keep_fact(&self, key: &str, value: &str) {
        let _ = self.conn().execute(
            "INSERT OR REPLACE INTO meta VALUES (?1, ?2)",
            params![format!("fact:{key}"), value],
        );
    }

    fn meta(&self, key: &str) -> Option<String> {
        self.conn()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .ok()
            .flatten()
    }

    /// Whether the automatic prune is due (at most once a day), marking it done.
    pub fn prune_due(&self) -> bool {
        let now = now_secs();
        let last = self
            .meta("pruned")
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0);
        if now - last < 24 * 3600 {
            return false;
        }
        self.conn()
            .execute(
                "INSERT OR REPLACE INTO meta VALUES ('pruned', ?1)",
                [now.to_string()],
            )
            .is_ok()
    }

    /// Removes rows not seen for `age`.
    pub fn forget_older_than(&self, age: Duration) -> Result<u64> {
        let before = now_secs() - age.as_secs() as i64;
        let conn = self.conn();
        let tags = conn.execute("DELETE FROM tags WHERE seen < ?1", [before])?;
        let served = conn.execute("DELETE FROM served WHERE seen < ?1", [before])?;
        Ok((tags + served) as u64)
    }

    /// What it holds.
    pub fn counts(&self) -> Result<Counts> {
        let conn = self.conn();
        let count = |table: &str| -> rusqlite::Result<u64> {
            conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n.max(0) as u64)
        };
        let (oldest, newest) = conn.query_row(
            "SELECT min(s), max(s) FROM (SELECT seen AS s FROM tags UNION ALL SELECT seen FROM served)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(Counts {
            tags: count("tags")?,
            served: count("served")?,
            oldest,
            newest,
        })
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        self.flush();
    }
}

/// `registry/repository:tag` as name and tag (the tag after the last `:` past the
/// last `/`).
fn split_tag(key: &str) -> Option<(&str, &str)> {
    let (name, tag) = key.rsplit_once(':')?;
    (!tag.contains('/')).then_some((name, tag))
}

#[cfg(test)]
mod tests;
