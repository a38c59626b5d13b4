//! Two images compared file by file, reading only the layers they do not share.
//!
//! The layers both images start with (the same digest, or the same diff ID) are the
//! shared base: its files are the same in both, so only the layers above it (the
//! *uppers*) are read, and only the paths an upper names can differ. Each side is the
//! merged view `ls` reads ([`Tree`], the overlay rules in one place): when the shared
//! layers' contents are known (kept from an earlier read, or read because `exact`
//! asks), the two images' whole views are compared; otherwise the views of the
//! uppers alone, and a path one side writes and the other leaves to the shared layers
//! is [`Side::Shared`] there: as those layers hold it, not read. A whiteout says its
//! path existed below, so a path deleted on one side is known to be there on the
//! other.
//!
//! Changed means different content (SHA-256), type, mode, owner or link target;
//! sizes follow content, and mtimes are not compared.

use std::collections::{BTreeSet, HashMap};

use anyhow::Result;
use regpeek_layer::Kind;

use super::{Image, Tree};
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

/// The merged view of some layers (the overlay rules are [`Tree`]'s, as for `ls`),
/// and each regular file's digest by (layer, path).
struct View {
    tree: Tree,
    digests: HashMap<(usize, String), String>,
}

impl View {
    fn of(layers: &[(usize, &Contents)]) -> View {
        let mut view = View {
            tree: Tree::new(),
            digests: HashMap::new(),
        };
        for (i, c) in layers {
            view.tree.apply(*i, c);
            for (e, d) in c.entries.iter().zip(&c.digests) {
                if let Some(d) = d {
                    view.digests.insert((*i, e.path.clone()), d.clone());
                }
            }
        }
        view
    }

    /// The node at `path`, as compared: a hard link with its file's size and digest.
    fn meta(&self, path: &str) -> Option<Meta> {
        let node = self.tree.get(path)?;
        let e = &node.entry;
        let (kind, link) = match &e.kind {
            Kind::File => ("file".to_owned(), None),
            Kind::Dir => ("dir".to_owned(), None),
            Kind::Symlink(t) => ("symlink".to_owned(), Some(t.clone())),
            Kind::Hardlink(t) => ("hardlink".to_owned(), Some(t.clone())),
            Kind::Other(c) => (c.to_string(), None),
        };
        let size = match e.kind {
            Kind::File => e.size,
            Kind::Hardlink(_) => node.shared_size.unwrap_or(0),
            _ => 0,
        };
        Some(Meta {
            kind,
            mode: e.mode & 0o7777,
            uid: e.uid,
            gid: e.gid,
            size,
            link,
            digest: node
                .file
                .as_ref()
                .and_then(|f| self.digests.get(f).cloned()),
            layer: node.layer,
        })
    }
}

/// One side's state of `path` in its view: its node, else absent when the view
/// holds every layer (`whole`) or its layers hide the path, else as the shared layers
/// hold it.
fn side(view: &View, whole: bool, path: &str) -> Side {
    match view.meta(path) {
        Some(m) => Side::Present(m),
        None if whole || view.tree.hides(path) => Side::Absent,
        None => Side::Shared,
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

/// The files of images A and B compared (`a_up`/`b_up`: each image's layers above
/// the shared ones, base first; `base`: the shared layers', when known).
fn compare_views(
    a_up: &[(usize, &Contents)],
    b_up: &[(usize, &Contents)],
    base: Option<&[(usize, &Contents)]>,
) -> Vec<Change> {
    // With the shared layers known, each side is its whole image (the two `ls`
    // views); else the layers above them alone.
    let whole = base.is_some();
    let view = |up: &[(usize, &Contents)]| View::of(&[base.unwrap_or_default(), up].concat());
    let (a, b) = (view(a_up), view(b_up));
    // Only what the views name can differ: their nodes and deletions.
    let paths: BTreeSet<&str> = [&a, &b]
        .iter()
        .flat_map(|v| {
            let nodes = v.tree.nodes().map(|n| n.entry.path.as_str());
            nodes.chain(v.tree.deleted().map(String::as_str))
        })
        .collect();
    let mut changes = Vec::new();
    for path in paths {
        let (sa, sb) = (side(&a, whole, path), side(&b, whole, path));
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
        let wanted: Vec<usize> = img
            .readable_layers()
            .into_iter()
            .filter(|&i| i >= shared)
            .collect();
        Ok(wanted
            .iter()
            .copied()
            .zip(img.entries_of(&wanted)?)
            .collect())
    };
    let (a_up, b_up) = (upper(a)?, upper(b)?);
    let shared_readable: Vec<usize> = a
        .readable_layers()
        .into_iter()
        .filter(|&i| i < shared)
        .collect();
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
