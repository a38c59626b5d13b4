//! Two images compared file by file, reading only the layers they do not share.
//!
//! The layers both images start with (the same digest, or the same diff ID) are the
//! shared base: its files are the same in both, so only the layers above it (the
//! *uppers*) are read, and only the paths an upper names can differ. A path one side
//! writes and the other leaves to the base is compared with the base's own entry when
//! the base's contents are known (kept from an earlier read, or read because
//! `exact` asks); otherwise that side is [`Side::Shared`]: as the shared layers hold
//! it, not read. A whiteout says its path existed below, so a path deleted on one
//! side is known to be there on the other.
//!
//! Changed means different content (SHA-256), type, mode, owner or link target;
//! sizes follow content, and mtimes are not compared.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use regpeek_layer::Kind;

use super::Image;
use crate::contents::Contents;

/// What a path is on one side.
#[derive(Debug, Clone, PartialEq)]
pub enum Side {
    /// Not there.
    Absent,
    /// As the shared layers hold it (they were not read).
    Shared,
    /// This entry.
    Present(Meta),
}

/// An entry, as compared.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    /// `file`, `dir`, `symlink`, `hardlink`, or the tar type byte.
    pub kind: String,
    /// Permission bits (and setuid, setgid, sticky).
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Size in bytes (regular files).
    pub size: u64,
    /// A link's target.
    pub link: Option<String>,
    /// A regular file's SHA-256 (hex); a hard link's, its target's when known.
    pub digest: Option<String>,
    /// The layer that holds it (0 is the base).
    pub layer: usize,
}

/// One path that differs.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The path (`/`-led).
    pub path: String,
    /// `added` (in B, not in A), `removed` (in A, not in B), `changed`, or
    /// `written` (one side has its own entry, the other the shared layers').
    pub change: &'static str,
    /// The first image's side.
    pub a: Side,
    /// The second image's side.
    pub b: Side,
}

/// What [`compare`] found.
#[derive(Debug, Clone, Default)]
pub struct FileDiff {
    /// The paths that differ, in path order.
    pub changes: Vec<Change>,
    /// How many layers the images share (read by neither side unless needed).
    pub shared: usize,
    /// Whether the shared layers' entries were known, so that every change is
    /// `added`, `removed` or `changed`.
    pub exact: bool,
}

/// A path's state in a view built from some layers.
#[derive(Debug, Clone, PartialEq)]
enum Slot {
    Present(Meta),
    /// Deleted by a whiteout (so it was there below).
    Deleted,
}

/// Paths to slots, and the directories whose lower contents are hidden.
#[derive(Default, Clone)]
struct View {
    paths: BTreeMap<String, Slot>,
    hidden: BTreeSet<String>,
}

impl View {
    fn remove_below(&mut self, dir: &str) {
        let prefix = format!("{dir}/");
        let below: Vec<String> = self
            .paths
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .map(|(p, _)| p.clone())
            .collect();
        for p in below {
            self.paths.remove(&p);
        }
    }

    /// Lays a layer on, with the overlay rules (docs/protocol.md §8.2).
    fn lay(&mut self, layer: usize, contents: &Contents) {
        for e in contents.iter() {
            if let Some((gone, opaque)) = regpeek_layer::whiteout(&e.path) {
                self.remove_below(&gone);
                self.hidden.insert(gone.clone());
                if !opaque {
                    self.paths.insert(gone, Slot::Deleted);
                }
            }
        }
        for (k, e) in contents.iter().enumerate() {
            if regpeek_layer::whiteout(&e.path).is_some() || e.path.is_empty() {
                continue;
            }
            let (kind, link) = match &e.kind {
                Kind::File => ("file".to_owned(), None),
                Kind::Dir => ("dir".to_owned(), None),
                Kind::Symlink(t) => ("symlink".to_owned(), Some(t.clone())),
                Kind::Hardlink(t) => ("hardlink".to_owned(), Some(t.clone())),
                Kind::Other(c) => (c.to_string(), None),
            };
            if e.kind != Kind::Dir {
                self.remove_below(&e.path);
                self.hidden.insert(e.path.clone());
            }
            let meta = Meta {
                kind,
                mode: e.mode & 0o7777,
                uid: e.uid,
                gid: e.gid,
                size: if e.kind == Kind::File { e.size } else { 0 },
                link,
                digest: contents.digests.get(k).cloned().flatten(),
                layer,
            };
            self.paths.insert(e.path.clone(), Slot::Present(meta));
        }
    }

    /// Whether `path` lies below a directory this view hides the lower contents of.
    fn hides(&self, path: &str) -> bool {
        let mut at = path;
        while let Some((up, _)) = at.rsplit_once('/') {
            if self.hidden.contains(up) {
                return true;
            }
            at = up;
        }
        false
    }

    /// A hard link's digest: its target's, in this view or the base.
    fn resolve(&self, meta: &Meta, base: Option<&View>) -> Meta {
        let mut m = meta.clone();
        if m.kind == "hardlink"
            && let Some(target) = &m.link
        {
            let found = self
                .paths
                .get(target)
                .or_else(|| base.and_then(|b| b.paths.get(target)));
            if let Some(Slot::Present(t)) = found {
                m.digest = t.digest.clone();
                m.size = t.size;
            }
        }
        m
    }
}

/// One side's state of `path`: its uppers, else the base (when known), else shared.
fn side(upper: &View, base: Option<&View>, path: &str) -> Side {
    match upper.paths.get(path) {
        Some(Slot::Present(m)) => Side::Present(upper.resolve(m, base)),
        Some(Slot::Deleted) => Side::Absent,
        None if upper.hides(path) => Side::Absent,
        None => match base {
            None => Side::Shared,
            Some(b) => match b.paths.get(path) {
                Some(Slot::Present(m)) => Side::Present(b.resolve(m, None)),
                _ => Side::Absent,
            },
        },
    }
}

/// Whether two entries are the same for a diff: content, type, mode, owner, link.
fn same(a: &Meta, b: &Meta) -> bool {
    a.kind == b.kind
        && a.mode == b.mode
        && a.uid == b.uid
        && a.gid == b.gid
        && a.link == b.link
        && (a.kind == "dir" || (a.digest == b.digest && a.size == b.size))
}

/// The files of images A and B compared (`a_layers`/`b_layers`: each image's layers'
/// contents above the `shared` ones, base first; `base`: the shared layers', when
/// known).
fn compare_views(
    a_up: &[(usize, &Contents)],
    b_up: &[(usize, &Contents)],
    base: Option<&[(usize, &Contents)]>,
) -> Vec<Change> {
    let build = |layers: &[(usize, &Contents)]| {
        let mut v = View::default();
        for (i, c) in layers {
            v.lay(*i, c);
        }
        v
    };
    let (a, b) = (build(a_up), build(b_up));
    let base = base.map(build);
    let mut paths: BTreeSet<String> = a.paths.keys().chain(b.paths.keys()).cloned().collect();
    // What a side hides of the base is known only when the base is.
    if let Some(base) = &base {
        for hidden in a.hidden.iter().chain(&b.hidden) {
            let prefix = format!("{hidden}/");
            paths.extend(
                base.paths
                    .range(prefix.clone()..)
                    .take_while(|(p, _)| p.starts_with(&prefix))
                    .map(|(p, _)| p.clone()),
            );
        }
    }
    let mut changes = Vec::new();
    for path in paths {
        let (sa, sb) = (
            side(&a, base.as_ref(), &path),
            side(&b, base.as_ref(), &path),
        );
        let change = match (&sa, &sb) {
            (Side::Present(x), Side::Present(y)) if same(x, y) => continue,
            (Side::Present(_), Side::Present(_)) => "changed",
            (Side::Absent, Side::Absent) | (Side::Shared, Side::Shared) => continue,
            (Side::Absent, _) => "added",
            (_, Side::Absent) => "removed",
            (Side::Shared, _) | (_, Side::Shared) => "written",
        };
        changes.push(Change {
            path: format!("/{path}"),
            change,
            a: sa,
            b: sb,
        });
    }
    changes
}

/// Layer indexes and contents, borrowed.
fn refs(v: &[(usize, std::sync::Arc<Contents>)]) -> Vec<(usize, &Contents)> {
    v.iter().map(|(i, c)| (*i, &**c)).collect()
}

/// How many layers `a` and `b` start with in common: the same digest, or the same
/// diff ID (`diff_ids`: each image's, from its config, when known).
pub fn shared_layers(a: &Image, b: &Image, diff_ids: (&[String], &[String])) -> usize {
    a.layers
        .iter()
        .zip(&b.layers)
        .enumerate()
        .take_while(|(i, (x, y))| {
            x.digest == y.digest
                || matches!((diff_ids.0.get(*i), diff_ids.1.get(*i)), (Some(p), Some(q)) if p == q)
        })
        .count()
}

/// The files of `a` and `b` compared, reading the layers above the `shared` ones
/// (and the shared ones only when `exact` asks for them and they are not known).
pub fn compare(a: &Image, b: &Image, shared: usize, exact: bool) -> Result<FileDiff> {
    let upper = |img: &Image| -> Result<Vec<(usize, std::sync::Arc<Contents>)>> {
        let wanted: Vec<usize> = (shared..img.layers.len())
            .filter(|&i| img.readable(i))
            .collect();
        Ok(wanted
            .iter()
            .copied()
            .zip(img.entries_of(&wanted)?)
            .collect())
    };
    let (a_up, b_up) = (upper(a)?, upper(b)?);
    let shared_readable: Vec<usize> = (0..shared).filter(|&i| a.readable(i)).collect();
    let known: Option<Vec<std::sync::Arc<Contents>>> = shared_readable
        .iter()
        .map(|&i| a.index.get(&a.layers[i].digest))
        .collect();
    let base = match known {
        Some(k) => Some(k),
        None if exact => Some(a.entries_of(&shared_readable)?),
        None => None,
    };
    let base_refs: Option<Vec<(usize, &Contents)>> = base.as_ref().map(|b| {
        shared_readable
            .iter()
            .copied()
            .zip(b.iter().map(|c| &**c))
            .collect()
    });
    Ok(FileDiff {
        changes: compare_views(&refs(&a_up), &refs(&b_up), base_refs.as_deref()),
        shared,
        exact: base.is_some(),
    })
}

#[cfg(test)]
mod tests;
