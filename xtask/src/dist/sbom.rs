//! The CycloneDX 1.5 SBOM of regpeek itself, from `cargo metadata`: every crate the
//! static binary links (the normal dependencies of `regpeek-cli` for the dist target,
//! followed from it; build scripts' and proc macros' dependencies run on the build
//! machine and are not in the binary; dev-dependencies never), each with its version,
//! licence and purl. No timestamp, so the same tree gives the same document.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use serde_json::{Value, json};

/// The SBOM, as JSON text.
pub fn cyclonedx(version: &str) -> Result<String> {
    let out = crate::cargo()
        .args(["metadata", "--format-version", "1", "--locked"])
        .args(["--filter-platform", super::TARGET])
        .output()
        .context("cargo metadata")?;
    anyhow::ensure!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout)?;
    let packages: BTreeMap<&str, &Value> = meta["packages"]
        .as_array()
        .context("packages")?
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p)))
        .collect();
    let nodes: BTreeMap<&str, &Value> = meta["resolve"]["nodes"]
        .as_array()
        .context("resolve")?
        .iter()
        .filter_map(|n| Some((n["id"].as_str()?, n)))
        .collect();
    let root = packages
        .iter()
        .find(|(_, p)| p["name"] == "regpeek-cli")
        .map(|(id, _)| *id)
        .context("no regpeek-cli")?;
    let proc_macro = |id: &str| {
        packages[id]["targets"].as_array().is_some_and(|ts| {
            ts.iter().any(|t| {
                t["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "proc-macro"))
            })
        })
    };
    // Breadth first from the binary's crate, along normal dependencies only.
    let mut linked: BTreeSet<&str> = BTreeSet::new();
    let mut edges: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut queue = vec![root];
    while let Some(id) = queue.pop() {
        if !linked.insert(id) {
            continue;
        }
        for dep in nodes[id]["deps"].as_array().into_iter().flatten() {
            let normal = dep["dep_kinds"]
                .as_array()
                .is_some_and(|ks| ks.iter().any(|k| k["kind"].is_null()));
            let Some(pkg) = dep["pkg"].as_str() else {
                continue;
            };
            if normal && !proc_macro(pkg) {
                edges.entry(id).or_default().push(pkg);
                queue.push(pkg);
            }
        }
    }
    let purl = |p: &Value| {
        format!(
            "pkg:cargo/{}@{}",
            p["name"].as_str().unwrap_or("?"),
            p["version"].as_str().unwrap_or("?")
        )
    };
    let components: Vec<Value> = linked
        .iter()
        .filter(|id| **id != root)
        .map(|id| {
            let p = packages[id];
            let mut c = json!({
                "type": "library",
                "bom-ref": purl(p),
                "name": p["name"],
                "version": p["version"],
                "purl": purl(p),
            });
            // Old manifests spell `MIT/Apache-2.0`: an SPDX expression says OR.
            if let Some(l) = p["license"].as_str() {
                c["licenses"] = json!([{"expression": l.replace('/', " OR ")}]);
            }
            c
        })
        .collect();
    let dependencies: Vec<Value> = linked
        .iter()
        .map(|id| {
            let mut on: Vec<String> = edges
                .get(id)
                .into_iter()
                .flatten()
                .map(|d| purl(packages[d]))
                .collect();
            on.sort();
            on.dedup();
            json!({"ref": purl(packages[id]), "dependsOn": on})
        })
        .collect();
    // A serial number that names this set of components (a name-based UUID).
    let names: Vec<String> = components.iter().map(|c| c["purl"].to_string()).collect();
    let serial = uuid_of(&names.join("\n"));
    let bom = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": format!("urn:uuid:{serial}"),
        "version": 1,
        "metadata": {
            "component": {
                "type": "application",
                "bom-ref": purl(packages[root]),
                "name": "regpeek",
                "version": version,
                "purl": purl(packages[root]),
                "licenses": [{"expression": "MIT OR Apache-2.0"}],
            },
            "tools": {"components": [{"type": "application", "name": "cargo xtask dist"}]},
        },
        "components": components,
        "dependencies": dependencies,
    });
    Ok(serde_json::to_string_pretty(&bom)? + "\n")
}

/// A version-5-shaped UUID from the FNV-1a hashes of `text` (no crypto needed: it
/// names a document, it protects nothing).
fn uuid_of(text: &str) -> String {
    let fnv = |seed: u64| {
        text.bytes().fold(0xcbf2_9ce4_8422_2325 ^ seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let (a, b) = (fnv(0), fnv(0x9e37_79b9_7f4a_7c15));
    let hex = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-5{}-{}{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        ["8", "9", "a", "b"][usize::from(hex.as_bytes()[16] % 4)],
        &hex[17..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_serial_is_a_uuid_and_names_its_text() {
        let u = super::uuid_of("a");
        assert_eq!(u.len(), 36, "{u}");
        assert_eq!(&u[14..15], "5");
        assert_eq!(u, super::uuid_of("a"));
        assert_ne!(u, super::uuid_of("b"));
    }
}
