//! Wasted space, computed as dive computes it (dive's `filetree.Efficiency` and
//! `image.Analyze`, docs/analysis.md), from the layers' [`Contents`] alone:
//!
//! - each layer is a tree of the paths its tar names (a whiteout `dir/.wh.x` is a
//!   node `x` marked deleted; opaque markers are left out; parents a path implies
//!   are nodes with no size);
//! - every leaf of every layer is an occurrence of its path, of its stated size, or,
//!   for a whiteout, the size of what it deletes when that was a directory (its
//!   whole subtree in the layers below, stacked), else nothing;
//! - a path seen more than once is inefficient; **wasted bytes** are the sizes of all
//!   its occurrences, summed over those paths; the **efficiency score** is the sum
//!   over all paths of each one's smallest occurrence, over the sum of all
//!   occurrences (1 when nothing is stated); the **user wasted percent** is wasted
//!   bytes over the size of every layer but the first (a layer's size: the sizes its
//!   headers state, summed).
//!
//! dive stops a layer's walk at a whiteout whose target the layers below do not
//! hold; so does this, so that the figures stay dive's.

use std::collections::BTreeMap;

use crate::contents::Contents;
use regpeek_layer::Kind;

/// What dive knows of a node: its stated size and whether it is a directory (a node
/// only implied by a path below it is neither).
#[derive(Clone, Copy, Default)]
struct Info {
    size: u64,
    dir: bool,
}

/// A tree of paths as dive builds one: nodes in an arena, children by name (so
/// walked in name order, as dive's default sort).
#[derive(Clone)]
struct Tree {
    nodes: Vec<Node>,
}

#[derive(Clone, Default)]
struct Node {
    name: String,
    info: Info,
    children: BTreeMap<String, usize>,
    parent: usize,
}

impl Tree {
    fn new() -> Tree {
        Tree {
            nodes: vec![Node::default()],
        }
    }

    /// dive's `AddPath`: creates the parents a path implies (an opaque marker is not
    /// added), and gives the last node `info`.
    fn add(&mut self, path: &str, info: Info) {
        let names: Vec<&str> = path.split('/').filter(|n| !n.is_empty()).collect();
        let mut at = 0;
        for (k, name) in names.iter().enumerate() {
            at = match self.nodes[at].children.get(*name) {
                Some(&child) => child,
                None => {
                    if name.starts_with(".wh..wh.") {
                        return;
                    }
                    let child = self.nodes.len();
                    self.nodes.push(Node {
                        name: (*name).to_owned(),
                        parent: at,
                        ..Node::default()
                    });
                    self.nodes[at].children.insert((*name).to_owned(), child);
                    child
                }
            };
            if k == names.len() - 1 {
                self.nodes[at].info = info;
            }
        }
    }

    fn get(&self, path: &str) -> Option<usize> {
        let mut at = 0;
        for name in path.split('/').filter(|n| !n.is_empty()) {
            at = *self.nodes[at].children.get(name)?;
        }
        Some(at)
    }

    fn remove(&mut self, path: &str) {
        if let Some(at) = self.get(path).filter(|&at| at != 0) {
            let (parent, name) = (self.nodes[at].parent, self.nodes[at].name.clone());
            self.nodes[parent].children.remove(&name);
        }
    }

    /// The node's path as dive shows it: a whiteout's own `.wh.` left out.
    fn path(&self, mut at: usize) -> String {
        let mut names = Vec::new();
        let own = at;
        while at != 0 {
            let name = &self.nodes[at].name;
            names.push(if at == own {
                name.strip_prefix(".wh.").unwrap_or(name)
            } else {
                name.as_str()
            });
            at = self.nodes[at].parent;
        }
        names.reverse();
        format!("/{}", names.join("/"))
    }

    fn is_whiteout(&self, at: usize) -> bool {
        self.nodes[at].name.starts_with(".wh.")
    }

    /// The nodes below `at` and `at` itself, children first, by name.
    fn walk(&self, at: usize, out: &mut Vec<usize>) {
        for &child in self.nodes[at].children.values() {
            self.walk(child, out);
        }
        if at != 0 {
            out.push(at);
        }
    }

    /// dive's `Stack`: `upper`'s nodes laid on, children first; a whiteout removes.
    fn stack(&mut self, upper: &Tree) {
        let mut order = Vec::new();
        upper.walk(0, &mut order);
        for at in order {
            let path = upper.path(at);
            if upper.is_whiteout(at) {
                self.remove(&path);
            } else {
                self.add(&path, upper.nodes[at].info);
            }
        }
    }

    /// A layer's tree, from its entries.
    fn of(contents: &Contents) -> Tree {
        let mut tree = Tree::new();
        for e in contents.iter() {
            let info = Info {
                size: e.size,
                dir: e.kind == Kind::Dir,
            };
            tree.add(&e.path, info);
        }
        tree
    }
}

/// A path seen in more than one layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Inefficiency {
    /// The path (`/`-led).
    pub path: String,
    /// The layers it occurs in, base first (a layer per occurrence).
    pub layers: Vec<usize>,
    /// Its occurrences' sizes, summed: what dive counts wasted for it.
    pub bytes: u64,
}

/// One layer's part.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerWaste {
    /// The sizes its tar headers state, summed (dive's layer size).
    pub size: u64,
    /// The bytes of its files that a later layer replaces or deletes.
    pub overwritten: u64,
}

/// dive's analysis of an image.
#[derive(Debug, Clone, PartialEq)]
pub struct Waste {
    /// The efficiency score, 0 to 1.
    pub efficiency: f64,
    /// Wasted bytes: every occurrence of every path seen more than once.
    pub wasted: u64,
    /// Every layer's size, summed.
    pub size: u64,
    /// Every layer's size but the first's, summed.
    pub user_size: u64,
    /// The layers', in order.
    pub layers: Vec<LayerWaste>,
    /// The paths seen more than once, most bytes first.
    pub inefficiencies: Vec<Inefficiency>,
}

impl Waste {
    /// Wasted bytes over the user's size; `None` when the user's layers state no
    /// size (dive's figure is then not a number, or infinite).
    pub fn user_wasted_ratio(&self) -> Option<f64> {
        (self.user_size > 0).then(|| self.wasted as f64 / self.user_size as f64)
    }
}

/// Where a path's occurrences stand.
#[derive(Default)]
struct Seen {
    total: u64,
    min: Option<u64>,
    layers: Vec<usize>,
    sizes: Vec<u64>,
}

/// dive's analysis of the image whose layers (base first) hold `layers`.
pub fn analyze(layers: &[&Contents]) -> Waste {
    let trees: Vec<Tree> = layers.iter().map(|c| Tree::of(c)).collect();
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    // The layers below the current one, stacked (dive restacks them per whiteout;
    // the result is the same).
    let mut below = Tree::new();
    for (i, tree) in trees.iter().enumerate() {
        let mut order = Vec::new();
        tree.walk(0, &mut order);
        for at in order
            .into_iter()
            .filter(|&at| tree.nodes[at].children.is_empty())
        {
            let path = tree.path(at);
            let size = if tree.is_whiteout(at) {
                let Some(was) = below.get(&path) else {
                    // dive's walk of this layer ends at an error.
                    break;
                };
                if below.nodes[was].info.dir {
                    let mut all = Vec::new();
                    below.walk(was, &mut all);
                    all.iter().map(|&n| below.nodes[n].info.size).sum()
                } else {
                    0
                }
            } else {
                tree.nodes[at].info.size
            };
            let s = seen.entry(path).or_default();
            s.total += size;
            s.min = Some(s.min.map_or(size, |m| m.min(size)));
            s.layers.push(i);
            s.sizes.push(size);
        }
        below.stack(tree);
    }
    let sizes: Vec<u64> = layers.iter().map(|c| c.stated_size()).collect();
    let mut per_layer: Vec<LayerWaste> = sizes
        .iter()
        .map(|&size| LayerWaste {
            size,
            overwritten: 0,
        })
        .collect();
    let (mut minimum, mut discovered, mut wasted) = (0u64, 0u64, 0u64);
    let mut inefficiencies = Vec::new();
    for (path, s) in seen {
        minimum += s.min.unwrap_or(0);
        discovered += s.total;
        if s.layers.len() < 2 {
            continue;
        }
        wasted += s.total;
        // Every occurrence but the last is replaced or deleted by a later one.
        for (&l, &size) in s.layers.iter().zip(&s.sizes).rev().skip(1) {
            per_layer[l].overwritten += size;
        }
        inefficiencies.push(Inefficiency {
            path,
            layers: s.layers,
            bytes: s.total,
        });
    }
    inefficiencies.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.path.cmp(&b.path)));
    Waste {
        efficiency: if discovered == 0 {
            1.0
        } else {
            minimum as f64 / discovered as f64
        },
        wasted,
        size: sizes.iter().sum(),
        user_size: sizes.iter().skip(1).sum(),
        layers: per_layer,
        inefficiencies,
    }
}

/// A CI gate, as dive names and reads them.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    /// `lowest-efficiency`: fail below this score (0 to 1).
    LowestEfficiency(f64),
    /// `highest-wasted-bytes`: fail above this many bytes.
    HighestWastedBytes(u64),
    /// `highest-user-wasted-percent`: fail above this ratio (0 to 1).
    HighestUserWastedPercent(f64),
}

impl Gate {
    /// The gate's name, as dive's flag and `.dive-ci` key (kebab-case).
    pub fn name(&self) -> &'static str {
        match self {
            Gate::LowestEfficiency(_) => "lowest-efficiency",
            Gate::HighestWastedBytes(_) => "highest-wasted-bytes",
            Gate::HighestUserWastedPercent(_) => "highest-user-wasted-percent",
        }
    }

    /// Reads the gate `name` (kebab-case, or dive's legacy camelCase) set to
    /// `value`: `None` when disabled (`disabled`, `off`, `false`, empty).
    pub fn parse(name: &str, value: &str) -> Result<Option<Gate>, String> {
        let v = value.trim();
        if matches!(
            v.to_ascii_lowercase().as_str(),
            "" | "disabled" | "off" | "false"
        ) {
            return Ok(None);
        }
        let ratio = |what: &str| -> Result<f64, String> {
            let r: f64 = v
                .parse()
                .map_err(|_| format!("{what}: {v:?} is not a number"))?;
            if !(0.0..=1.0).contains(&r) {
                return Err(format!("{what}: {v} is outside 0 to 1"));
            }
            Ok(r)
        };
        match name {
            "lowest-efficiency" | "lowestEfficiency" => {
                ratio("lowest-efficiency").map(|r| Some(Gate::LowestEfficiency(r)))
            }
            "highest-user-wasted-percent" | "highestUserWastedPercent" => {
                ratio("highest-user-wasted-percent")
                    .map(|r| Some(Gate::HighestUserWastedPercent(r)))
            }
            "highest-wasted-bytes" | "highestWastedBytes" => parse_bytes(v)
                .map(|b| Some(Gate::HighestWastedBytes(b)))
                .map_err(|e| format!("highest-wasted-bytes: {e}")),
            other => Err(format!(
                "{other}: not a gate (lowest-efficiency, highest-wasted-bytes, highest-user-wasted-percent)"
            )),
        }
    }

    /// Why `waste` fails this gate, if it does (dive's comparisons: a score below,
    /// bytes or a ratio above; a ratio that is not a number passes, as in dive).
    pub fn failure(&self, waste: &Waste) -> Option<String> {
        match *self {
            Gate::LowestEfficiency(t) if waste.efficiency < t => Some(format!(
                "image efficiency is too low (efficiency={:.4} < threshold={t})",
                waste.efficiency
            )),
            Gate::HighestWastedBytes(t) if waste.wasted > t => Some(format!(
                "too many bytes wasted (wasted-bytes={} > threshold={t})",
                waste.wasted
            )),
            Gate::HighestUserWastedPercent(t) => {
                let ratio = match waste.user_wasted_ratio() {
                    Some(r) => r,
                    // x/0 is infinite in dive (0/0 is not a number, and passes).
                    None if waste.wasted > 0 => f64::INFINITY,
                    None => return None,
                };
                (ratio > t).then(|| format!(
                    "too many bytes wasted, relative to the user bytes added (user-wasted-percent={ratio:.4} > threshold={t})"
                ))
            }
            _ => None,
        }
    }
}

/// A size as go-humanize's `ParseBytes` reads it (dive's wasted-bytes gate): a
/// number, then optionally a unit, decimal (`kB`, `MB`, `G`…) or binary (`KiB`,
/// `MiB`, `Gi`…), any case.
pub(crate) fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .replace(',', "")
        .parse()
        .map_err(|_| format!("{t:?} is not a size"))?;
    let unit = unit.trim().to_ascii_lowercase();
    let power = |base: f64, n: i32| base.powi(n);
    let scale = match unit.as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => power(1000.0, 1),
        "m" | "mb" => power(1000.0, 2),
        "g" | "gb" => power(1000.0, 3),
        "t" | "tb" => power(1000.0, 4),
        "p" | "pb" => power(1000.0, 5),
        "ki" | "kib" => power(1024.0, 1),
        "mi" | "mib" => power(1024.0, 2),
        "gi" | "gib" => power(1024.0, 3),
        "ti" | "tib" => power(1024.0, 4),
        "pi" | "pib" => power(1024.0, 5),
        _ => return Err(format!("{t:?}: unknown unit {unit:?}")),
    };
    let bytes = number * scale;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("{t:?} is too large"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests;
