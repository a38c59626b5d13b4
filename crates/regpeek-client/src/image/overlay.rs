//! The overlay rules, in one place (docs/protocol.md §8.2): how layers stack into the
//! file system a container sees. Two readings share them, so they cannot disagree:
//!
//! - [`Tree`], the merged view (`ls`): layers laid on base first, as an unpacker
//!   (umoci, containerd) applies them;
//! - `Judge`, one path looked up from the top layer down (`cat`, `os`), which
//!   stops at the first layer that decides and so reads no layer below it.
//!
//! The rules: a layer's whiteouts hide what lies below them in lower layers only
//! (`.wh.NAME` the path and all under it, `.wh..wh..opq` everything under its
//! directory); a non-directory hides everything under its path in lower layers (a
//! directory replaced by a file or a symbolic link, with or without a whiteout for
//! it); a directory over a non-directory replaces it; a hard link shares the file its
//! target was when the link was laid. Symbolic links resolve inside the image: `..`
//! stops at `/`, and at most [`MAX_HOPS`] links are followed in one lookup.

use std::collections::{BTreeMap, BTreeSet};

use regpeek_layer::{Entry, Kind, normalize, whiteout};

/// The most symbolic links one lookup follows (as Linux's `MAXSYMLINKS`).
pub const MAX_HOPS: usize = 40;

/// One path of the merged view.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The entry as its layer wrote it.
    pub entry: Entry,
    /// The layer that wrote it (0 is the base).
    pub layer: usize,
    /// For a regular file or a hard link: the file it is, as (layer, path) of the
    /// regular file's own entry. Paths with the same `file` are hard links of each other.
    pub file: Option<(usize, String)>,
    /// For a hard link: the size of the file it shares (a tar hard link has none).
    pub shared_size: Option<u64>,
}

/// The merged file system of an image's layers, base first ([`Tree::apply`]).
#[derive(Debug, Default, Clone)]
pub struct Tree {
    nodes: BTreeMap<String, Node>,
    /// The paths the layers' whiteouts deleted, and the directories they made
    /// opaque: what they hide of layers below the first one laid ([`Tree::hides`]).
    deleted: BTreeSet<String>,
    opaque: BTreeSet<String>,
}

/// Why a path has no node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// Nothing is there.
    NotFound(String),
    /// A leading part of the path is not a directory (this one).
    NotADirectory(String),
    /// More than [`MAX_HOPS`] symbolic links.
    Loop,
}

impl Tree {
    /// An empty file system.
    pub fn new() -> Tree {
        Tree::default()
    }

    /// Lays layer `layer`'s entries over what is below: its whiteouts first (they
    /// hide only what lower layers hold), then its entries in their order.
    pub fn apply(&mut self, layer: usize, entries: &[Entry]) {
        for e in entries {
            if let Some((gone, opaque)) = whiteout(&e.path) {
                self.remove_below(&gone);
                if !opaque {
                    self.nodes.remove(&gone);
                    self.deleted.insert(gone);
                } else {
                    self.opaque.insert(gone);
                }
            }
        }
        for e in entries {
            if whiteout(&e.path).is_some() || e.path.is_empty() {
                continue;
            }
            let (file, shared_size) = match &e.kind {
                Kind::Dir => {
                    self.nodes.remove(&e.path);
                    (None, None)
                }
                Kind::File => {
                    self.remove_below(&e.path);
                    (Some((layer, e.path.clone())), None)
                }
                Kind::Hardlink(target) => {
                    self.remove_below(&e.path);
                    // The file the target is now: this layer's, or a lower one's.
                    match self.nodes.get(&normalize(target)) {
                        Some(t) if t.file.is_some() => {
                            let size = t.shared_size.unwrap_or(t.entry.size);
                            (t.file.clone(), Some(size))
                        }
                        _ => (None, None),
                    }
                }
                _ => {
                    self.remove_below(&e.path);
                    (None, None)
                }
            };
            self.nodes.insert(
                e.path.clone(),
                Node {
                    entry: e.clone(),
                    layer,
                    file,
                    shared_size,
                },
            );
        }
    }

    /// Removes everything under `dir` (everything, for the root).
    fn remove_below(&mut self, dir: &str) {
        if dir.is_empty() {
            self.nodes.clear();
            return;
        }
        let from = format!("{dir}/");
        // '0' follows '/': the range is exactly the paths under `dir/`.
        let to = format!("{dir}0");
        let below: Vec<String> = self.nodes.range(from..to).map(|(k, _)| k.clone()).collect();
        for k in below {
            self.nodes.remove(&k);
        }
    }

    /// Whether the layers laid hide `path` of any layer below them (one not laid
    /// here): a whiteout deleted it or a directory above it, a directory above it is
    /// opaque, or a non-directory stands above it. Its own node, if any, is
    /// [`Tree::get`]'s.
    pub fn hides(&self, path: &str) -> bool {
        if self.deleted.contains(path) {
            return true;
        }
        let mut at = path;
        while let Some((up, _)) = at.rsplit_once('/') {
            let over = self
                .nodes
                .get(up)
                .is_some_and(|n| n.entry.kind != Kind::Dir);
            if over || self.deleted.contains(up) || self.opaque.contains(up) {
                return true;
            }
            at = up;
        }
        self.opaque.contains("")
    }

    /// The paths the layers' whiteouts deleted.
    pub fn deleted(&self) -> impl Iterator<Item = &String> {
        self.deleted.iter()
    }

    /// The node at exactly `path` (normalised), links not followed.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// Every node, by path.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values()
    }

    /// The nodes under the directory `dir` (every node for the root), `dir` itself left out.
    pub fn under<'a>(&'a self, dir: &str) -> Box<dyn Iterator<Item = &'a Node> + 'a> {
        if dir.is_empty() {
            return Box::new(self.nodes.values());
        }
        Box::new(
            self.nodes
                .range(format!("{dir}/")..format!("{dir}0"))
                .map(|(_, n)| n),
        )
    }

    /// How many paths are the file `file` (a hard link's count).
    pub fn links(&self, file: &(usize, String)) -> usize {
        self.nodes
            .values()
            .filter(|n| n.file.as_ref() == Some(file))
            .count()
    }

    /// Where `path` leads: symbolic links on its way followed inside the image, and the
    /// last one too when `follow_last`. The root is `""`.
    pub fn resolve(&self, path: &str, follow_last: bool) -> Result<String, Miss> {
        let mut path = normalize(path);
        let mut hops = 0;
        'again: loop {
            if path.is_empty() {
                return Ok(path);
            }
            let parts: Vec<&str> = path.split('/').collect();
            let mut at = String::new();
            for (k, part) in parts.iter().enumerate() {
                if !at.is_empty() {
                    at.push('/');
                }
                at.push_str(part);
                let last = k + 1 == parts.len();
                let Some(node) = self.nodes.get(&at) else {
                    // A directory no entry names, under which a layer wrote (an
                    // unpacker creates it): a directory, if anything is below it.
                    if !last && self.under(&at).next().is_some() {
                        continue;
                    }
                    return Err(Miss::NotFound(at));
                };
                match &node.entry.kind {
                    Kind::Dir => {}
                    Kind::Symlink(target) if !last || follow_last => {
                        hops += 1;
                        if hops > MAX_HOPS {
                            return Err(Miss::Loop);
                        }
                        let rest = parts[k + 1..].join("/");
                        let led = follow(&at, target);
                        path = normalize(&format!("{led}/{rest}"));
                        continue 'again;
                    }
                    _ if last => {}
                    _ => return Err(Miss::NotADirectory(at)),
                }
            }
            return Ok(path);
        }
    }
}

/// Where a link at `at` pointing to `target` leads, inside the image's root (`..`
/// stops at `/`).
pub fn follow(at: &str, target: &str) -> String {
    if target.starts_with('/') {
        return normalize(target);
    }
    let dir = at.rsplit_once('/').map_or("", |(d, _)| d);
    normalize(&format!("{dir}/{target}"))
}

/// What the top-most layer that speaks of a path says of it.
#[derive(Debug, Clone, PartialEq)]
pub enum Say {
    /// A regular file: this layer's entry at the path.
    File,
    /// A directory.
    Dir,
    /// A symbolic link to this target.
    Symlink(String),
    /// A hard link to this path (of this layer or a lower one).
    Hardlink(String),
    /// A symbolic link at a leading part of the path (`bin` for `bin/sh`).
    Through {
        /// The leading part that is a link.
        at: String,
        /// Where it points.
        target: String,
    },
    /// Deleted (a whiteout, or under an opaque directory).
    Deleted,
    /// Nothing there: a layer above replaced a leading part of the path.
    Gone,
    /// A leading part of the path is not a directory.
    NotADirectory(String),
    /// A device, a fifo or another kind (its tar type).
    Other(char),
}

/// What the entries of one layer say of a path, seen one at a time; the caller goes
/// down the layers with one `Judge` each, handing each the directories the layers
/// above it hold on the path (what the judge above returned from [`Judge::verdict`]).
pub(crate) struct Judge<'a> {
    path: &'a str,
    /// The leading parts of the path that higher layers hold as directories: a
    /// non-directory there in this layer was replaced, and so was all under it.
    above: &'a BTreeSet<String>,
    exact: Option<Say>,
    through: Option<(String, Say)>,
    deleted: bool,
    /// Leading parts this layer holds as directories.
    dirs: BTreeSet<String>,
}

impl<'a> Judge<'a> {
    /// A judge of `path` (normalised) for one layer.
    pub fn new(path: &'a str, above: &'a BTreeSet<String>) -> Self {
        Judge {
            path,
            above,
            exact: None,
            through: None,
            deleted: false,
            dirs: BTreeSet::new(),
        }
    }

    /// Takes in one entry; true when it is the regular file asked for (whose bytes the
    /// caller then keeps, as [`Say::File`]). A later entry for the same path wins.
    pub fn see(&mut self, e: &Entry) -> bool {
        let path = self.path;
        if let Some((gone, opaque)) = whiteout(&e.path) {
            let under = gone.is_empty() || path.starts_with(&format!("{gone}/"));
            self.deleted |= under || (!opaque && path == gone);
            return false;
        }
        if e.path == path {
            self.exact = Some(match &e.kind {
                Kind::File => Say::File,
                Kind::Dir => Say::Dir,
                Kind::Symlink(t) => Say::Symlink(t.clone()),
                Kind::Hardlink(t) => Say::Hardlink(normalize(t)),
                Kind::Other(c) => Say::Other(*c),
            });
            return e.kind == Kind::File;
        }
        if path.starts_with(&format!("{}/", e.path)) {
            let at = e.path.clone();
            match &e.kind {
                Kind::Dir => {
                    self.dirs.insert(at.clone());
                    if self.through.as_ref().is_some_and(|(a, _)| *a == at) {
                        self.through = None;
                    }
                }
                _ if self.above.contains(&at) => {
                    self.through = Some((at, Say::Gone));
                }
                Kind::Symlink(t) => {
                    let target = t.clone();
                    self.through = Some((at.clone(), Say::Through { at, target }));
                }
                _ => self.through = Some((at.clone(), Say::NotADirectory(at))),
            }
        }
        false
    }

    /// The layer's say (`None`: it says nothing of the path), and the directories on
    /// the path the layers down to this one hold, for the next judge.
    pub(crate) fn verdict(self) -> (Option<Say>, BTreeSet<String>) {
        let mut dirs = self.dirs;
        dirs.extend(self.above.iter().cloned());
        // The shortest leading part decides: what is under it does not exist.
        let say = self
            .exact
            .or(self.through.map(|(_, s)| s))
            .or(self.deleted.then_some(Say::Deleted));
        (say, dirs)
    }
}

/// How a lookup of one path ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A regular file: the entry at `path` in layer `layer`.
    File {
        /// The layer (0 is the base).
        layer: usize,
        /// Its path there.
        path: String,
    },
    /// No layer has it (or a layer above replaced a leading part of its path).
    Missing,
    /// Deleted by this layer (a whiteout, or an opaque directory above it).
    Deleted(usize),
    /// A directory (this path).
    Dir(String),
    /// A leading part of the path is not a directory (this one).
    NotADirectory(String),
    /// Not a regular file: a device, a fifo… (its path and tar type).
    NotRegular(String, char),
    /// More than [`MAX_HOPS`] links.
    Loop,
}

/// One path looked up from the top layer down, links followed: a state machine the
/// caller drives with one `Judge` per layer it asks for (`Lookup::layer`), so that
/// the layers it does not need are never read.
#[derive(Debug)]
pub(crate) struct Lookup {
    path: String,
    /// The layer to judge next.
    next: Option<usize>,
    layers: usize,
    above: BTreeSet<String>,
    hops: usize,
    /// Following a hard link: only a regular file (or another hard link) will do.
    linked: bool,
    done: Option<Outcome>,
}

impl Lookup {
    /// A lookup of `path` in an image of `layers` layers.
    pub fn new(path: &str, layers: usize) -> Lookup {
        let path = normalize(path);
        let done = path.is_empty().then(|| Outcome::Dir(String::new()));
        Lookup {
            path,
            next: layers.checked_sub(1),
            layers,
            above: BTreeSet::new(),
            hops: 0,
            linked: false,
            done: done.or((layers == 0).then_some(Outcome::Missing)),
        }
    }

    /// The layer whose say is needed next, or `None` when the lookup has ended.
    pub fn layer(&self) -> Option<usize> {
        if self.done.is_some() {
            return None;
        }
        self.next
    }

    /// The path the next layer is judged for.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// A judge for the next layer.
    pub fn judge(&self) -> Judge<'_> {
        Judge::new(&self.path, &self.above)
    }

    /// Takes the say of the layer [`Lookup::layer`] named (from [`Judge::verdict`]).
    pub fn take(&mut self, say: Option<Say>, dirs: BTreeSet<String>) {
        let Some(i) = self.layer() else {
            return;
        };
        let Some(say) = say else {
            self.above = dirs;
            match i.checked_sub(1) {
                Some(n) => self.next = Some(n),
                None => self.done = Some(Outcome::Missing),
            }
            return;
        };
        let (path, top, linked) = match say {
            Say::File => {
                self.done = Some(Outcome::File {
                    layer: i,
                    path: self.path.clone(),
                });
                return;
            }
            Say::Hardlink(target) => (target, i + 1, true),
            _ if self.linked => {
                self.done = Some(Outcome::Missing);
                return;
            }
            Say::Symlink(target) => (follow(&self.path, &target), self.layers, false),
            Say::Through { at, target } => {
                let rest = &self.path[at.len() + 1..];
                (
                    normalize(&format!("{}/{rest}", follow(&at, &target))),
                    self.layers,
                    false,
                )
            }
            Say::Dir => {
                self.done = Some(Outcome::Dir(self.path.clone()));
                return;
            }
            Say::Deleted => {
                self.done = Some(Outcome::Deleted(i));
                return;
            }
            Say::Gone => {
                self.done = Some(Outcome::Missing);
                return;
            }
            Say::NotADirectory(at) => {
                self.done = Some(Outcome::NotADirectory(at));
                return;
            }
            Say::Other(t) => {
                self.done = Some(Outcome::NotRegular(self.path.clone(), t));
                return;
            }
        };
        self.hops += 1;
        if self.hops > MAX_HOPS {
            self.done = Some(Outcome::Loop);
            return;
        }
        if path.is_empty() {
            self.done = Some(Outcome::Dir(path));
            return;
        }
        self.path = path;
        self.linked = linked;
        self.above = BTreeSet::new();
        self.next = top.checked_sub(1);
        if self.next.is_none() {
            self.done = Some(Outcome::Missing);
        }
    }

    /// How the lookup ended (`None` while it needs layers).
    pub fn outcome(&self) -> Option<&Outcome> {
        self.done.as_ref()
    }
}

#[cfg(test)]
mod tests;
