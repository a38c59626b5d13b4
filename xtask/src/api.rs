//! `cargo xtask api [-p CRATE] [--max N]`: lists a library crate's public API, as
//! rustdoc's JSON output (nightly) describes it, and fails when it holds more than
//! `--max` items. The bounds are the crates' own: the core (`regpeek-proto`, the
//! default) under 90 items, the client layer (`regpeek-client`) under 60.
//!
//! An item is a name an embedder can use: a type, a function, a constant, and every
//! method or associated constant of an inherent impl. Modules (namespaces) and the
//! re-exported `http` and `url` crates (other crates' APIs) are listed, not counted;
//! enum variants and fields belong to their type; trait impls (`Display`, `From`,
//! `Deref`) add no names. `#[doc(hidden)]` items (the `fuzzing` feature's) are left
//! out.

use std::collections::BTreeSet;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// The crates held to a bound, and the most items each may export.
const BOUNDS: [(&str, usize); 2] = [("regpeek-proto", 89), ("regpeek-client", 59)];

pub(crate) fn api(args: &[String]) -> Result<()> {
    let usage = "usage: cargo xtask api [-p regpeek-proto|regpeek-client] [--max N]";
    let mut krate = "regpeek-proto";
    let mut max = None;
    let mut args = args.iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "-p" => krate = args.next().context(usage)?,
            "--max" => max = Some(args.next().context(usage)?.parse().context("--max N")?),
            _ => bail!("{usage}"),
        }
    }
    let Some(bound) = BOUNDS.iter().find(|(k, _)| *k == krate).map(|(_, m)| *m) else {
        bail!("{usage}");
    };
    let max = max.unwrap_or(bound);
    let lib = krate.replace('-', "_");
    let status = Command::new("cargo")
        .args([
            "+nightly",
            "rustdoc",
            "-q",
            "-p",
            krate,
            "--lib",
            "--",
            "-Z",
            "unstable-options",
            "--output-format",
            "json",
        ])
        .status()
        .context("running cargo +nightly rustdoc (is the nightly toolchain installed?)")?;
    if !status.success() {
        bail!("cargo +nightly rustdoc failed ({status})");
    }
    let path = crate::target_dir()?.join(format!("doc/{lib}.json"));
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let doc: Value = serde_json::from_str(&text).context("rustdoc JSON")?;
    let items = public_items(&doc, &lib)?;
    let counted: Vec<&(String, String)> = items
        .iter()
        .filter(|(kind, _)| !matches!(kind.as_str(), "module" | "crate"))
        .collect();
    for (kind, path) in &items {
        println!("{kind:8} {path}");
    }
    println!(
        "xtask: {} items in {krate}'s public API ({} modules and re-exported crates not counted); at most {max}",
        counted.len(),
        items.len() - counted.len()
    );
    if counted.len() > max {
        bail!("the public API has {} items, over {max}", counted.len());
    }
    Ok(())
}

/// (kind, path) of every public item reachable from the crate root.
fn public_items(doc: &Value, lib: &str) -> Result<Vec<(String, String)>> {
    let index = doc["index"]
        .as_object()
        .context("rustdoc JSON has no index")?;
    let root = id_of(&doc["root"]).context("rustdoc JSON has no root")?;
    let mut walk = Walk {
        index,
        seen: BTreeSet::new(),
        out: Vec::new(),
    };
    walk.module(&root, lib);
    walk.out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(walk.out)
}

/// An id as the index keys it (a number in recent formats, a string in older ones).
fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

struct Walk<'a> {
    index: &'a serde_json::Map<String, Value>,
    seen: BTreeSet<String>,
    out: Vec<(String, String)>,
}

impl Walk<'_> {
    fn module(&mut self, id: &str, path: &str) {
        let Some(items) = self.index[id]["inner"]["module"]["items"].as_array() else {
            return;
        };
        for child in items.iter().filter_map(id_of) {
            let Some(item) = self.index.get(&child) else {
                continue;
            };
            if let Some(import) = item["inner"].get("use") {
                let name = import["name"].as_str().unwrap_or("?");
                let target = id_of(&import["id"]).filter(|t| self.index.contains_key(t));
                match target {
                    _ if import["is_glob"].as_bool() == Some(true) => {}
                    Some(t) => self.item(&t, &format!("{path}::{name}")),
                    // Outside this crate: a re-exported crate (`http`, `url`).
                    None => self.out.push(("crate".into(), format!("{path}::{name}"))),
                }
            } else if item["visibility"] == "public" {
                let name = item["name"].as_str().unwrap_or("?");
                self.item(&child, &format!("{path}::{name}"));
            }
        }
    }

    fn item(&mut self, id: &str, path: &str) {
        let item = &self.index[id];
        if hidden(item) || !self.seen.insert(id.to_owned()) {
            return;
        }
        let Some((kind, inner)) = item["inner"].as_object().and_then(|o| o.iter().next()) else {
            return;
        };
        self.out.push((kind.clone(), path.to_owned()));
        match kind.as_str() {
            "module" => self.module(id, path),
            "struct" | "enum" | "union" => {
                for imp in inner["impls"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(id_of)
                {
                    self.inherent(&imp, path);
                }
            }
            _ => {}
        }
    }

    /// The public methods and constants of an inherent impl.
    fn inherent(&mut self, id: &str, path: &str) {
        let imp = &self.index[id]["inner"]["impl"];
        let synthetic = imp["is_synthetic"].as_bool() == Some(true);
        if !imp["trait"].is_null() || synthetic || !imp["blanket_impl"].is_null() {
            return;
        }
        for m in imp["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(id_of)
        {
            let item = &self.index[&m];
            if item["visibility"] != "public" || hidden(item) {
                continue;
            }
            let kind = item["inner"]
                .as_object()
                .and_then(|o| o.keys().next().cloned())
                .unwrap_or_default();
            let name = item["name"].as_str().unwrap_or("?");
            self.out.push((kind, format!("{path}::{name}")));
        }
    }
}

fn hidden(item: &Value) -> bool {
    item["attrs"]
        .as_array()
        .is_some_and(|attrs| attrs.iter().any(|a| a.to_string().contains("hidden")))
}
