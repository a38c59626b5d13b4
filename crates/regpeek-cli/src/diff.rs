//! `regpeek diff A B`: what changed between two images, for one platform (and which
//! platforms came and went). JSON when piped, a coloured diff on a terminal.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use anyhow::Result;
use regpeek_proto::Inspection;
use regpeek_proto::manifest::Manifest;
use serde::Serialize;
use serde_json::Value;

use crate::output::{escape_controls, human_size};
use crate::summary::compressed_size;

/// Two values that differ (absent when equal).
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Change<T> {
    pub a: T,
    pub b: T,
}

/// Items only in A (`Removed`) and only in B (`Added`).
#[derive(Serialize, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct SetDiff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

impl SetDiff {
    fn of(a: &BTreeSet<String>, b: &BTreeSet<String>) -> Option<SetDiff> {
        let d = SetDiff {
            added: b.difference(a).cloned().collect(),
            removed: a.difference(b).cloned().collect(),
        };
        (!d.added.is_empty() || !d.removed.is_empty()).then_some(d)
    }
}

/// One layer, for the layer lists.
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Layer {
    pub digest: String,
    pub size: u64,
}

#[derive(Serialize, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct LayerDiff {
    pub shared: usize,
    pub added: Vec<Layer>,
    pub removed: Vec<Layer>,
}

#[derive(Serialize, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct SizeDiff {
    pub a: Option<u64>,
    pub b: Option<u64>,
    pub delta: Option<i128>,
}

#[derive(Serialize, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct LabelDiff {
    pub added: BTreeMap<String, String>,
    pub removed: BTreeMap<String, String>,
    pub changed: BTreeMap<String, Change<String>>,
}

/// The whole comparison.
#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct Diff {
    pub a: String,
    pub b: String,
    pub equal: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platforms: Option<SetDiff>,
    pub platform: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Change<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<Change<Option<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<SetDiff>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<LabelDiff>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Change<Option<Vec<String>>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Change<Option<Vec<String>>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<Change<Option<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<Change<Option<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<SetDiff>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volumes: Option<SetDiff>,
    pub layers: LayerDiff,
    pub size: SizeDiff,
}

fn change<T: PartialEq + Clone>(a: T, b: T) -> Option<Change<T>> {
    (a != b).then_some(Change { a, b })
}

/// The platforms an image offers: an index's entries, or a single image's own (from
/// its config).
fn platforms(i: &Inspection) -> BTreeSet<String> {
    i.platforms.iter().map(ToString::to_string).collect()
}

fn layers(i: &Inspection) -> Vec<Layer> {
    match i.manifest.as_ref().and_then(|m| m.manifest.as_ref()) {
        Some(Manifest::Image(m)) => m
            .layers
            .iter()
            .map(|l| Layer {
                digest: l.digest.to_string(),
                size: l.size,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Compares two inspections of the same platform.
pub fn compare(a_name: &str, a: &Inspection, b_name: &str, b: &Inspection) -> Diff {
    let cfg = |i: &Inspection| i.config.as_ref().and_then(|c| c.config.clone());
    let (ca, cb) = (cfg(a), cfg(b));
    let rt = |c: &Option<regpeek_proto::config::ImageConfig>| c.as_ref().map(|c| c.config.clone());
    let (ra, rb) = (rt(&ca).unwrap_or_default(), rt(&cb).unwrap_or_default());
    let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<String>>();
    let keys = |m: &BTreeMap<String, Value>| m.keys().cloned().collect::<BTreeSet<String>>();
    let manifest_digest = |i: &Inspection| {
        i.manifest
            .as_ref()
            .map_or_else(|| i.digest.to_string(), |m| m.digest.to_string())
    };
    let mut labels = LabelDiff::default();
    for (k, v) in &rb.labels {
        match ra.labels.get(k) {
            None => {
                labels.added.insert(k.clone(), v.clone());
            }
            Some(old) if old != v => {
                labels.changed.insert(
                    k.clone(),
                    Change {
                        a: old.clone(),
                        b: v.clone(),
                    },
                );
            }
            Some(_) => {}
        }
    }
    for (k, v) in &ra.labels {
        if !rb.labels.contains_key(k) {
            labels.removed.insert(k.clone(), v.clone());
        }
    }
    let labels = (labels != LabelDiff::default()).then_some(labels);
    let (la, lb) = (layers(a), layers(b));
    let da: BTreeSet<&str> = la.iter().map(|l| l.digest.as_str()).collect();
    let db: BTreeSet<&str> = lb.iter().map(|l| l.digest.as_str()).collect();
    let layer_diff = LayerDiff {
        shared: da.intersection(&db).count(),
        added: lb
            .iter()
            .filter(|l| !da.contains(l.digest.as_str()))
            .cloned()
            .collect(),
        removed: la
            .iter()
            .filter(|l| !db.contains(l.digest.as_str()))
            .cloned()
            .collect(),
    };
    let parsed = |i: &Inspection| i.manifest.as_ref().and_then(|m| m.manifest.clone());
    let (sa, sb) = (
        compressed_size(parsed(a).as_ref()),
        compressed_size(parsed(b).as_ref()),
    );
    let digest = change(manifest_digest(a), manifest_digest(b));
    let platforms = SetDiff::of(&platforms(a), &platforms(b));
    Diff {
        a: a_name.to_owned(),
        b: b_name.to_owned(),
        equal: digest.is_none() && platforms.is_none(),
        platforms,
        platform: a
            .platform
            .as_ref()
            .or(b.platform.as_ref())
            .map(|p| p.to_string()),
        digest,
        created: change(
            ca.as_ref().and_then(|c| c.created.clone()),
            cb.as_ref().and_then(|c| c.created.clone()),
        ),
        env: SetDiff::of(&set(&ra.env), &set(&rb.env)),
        labels,
        entrypoint: change(ra.entrypoint.clone(), rb.entrypoint.clone()),
        cmd: change(ra.cmd.clone(), rb.cmd.clone()),
        user: change(ra.user.clone(), rb.user.clone()),
        working_dir: change(ra.working_dir.clone(), rb.working_dir.clone()),
        exposed_ports: SetDiff::of(&keys(&ra.exposed_ports), &keys(&rb.exposed_ports)),
        volumes: SetDiff::of(&keys(&ra.volumes), &keys(&rb.volumes)),
        layers: layer_diff,
        size: SizeDiff {
            a: sa,
            b: sb,
            delta: sa.zip(sb).map(|(a, b)| i128::from(b) - i128::from(a)),
        },
    }
}

/// A readable, coloured diff for a terminal: `-` only in A, `+` only in B, `~` changed.
pub fn print_human(out: &mut impl Write, d: &Diff, color: bool) -> Result<()> {
    let paint = |code: &str, text: String| {
        if color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text
        }
    };
    let e = |s: &str| escape_controls(s, false);
    let json = |v: &dyn erased::Show| v.show();
    writeln!(out, "--- {}", e(&d.a))?;
    writeln!(out, "+++ {}", e(&d.b))?;
    if d.equal {
        writeln!(
            out,
            "the same image ({})",
            d.platform.as_deref().unwrap_or("-")
        )?;
        return Ok(());
    }
    let minus = |s: String| paint("31", format!("- {s}"));
    let plus = |s: String| paint("32", format!("+ {s}"));
    let tilde = |s: String| paint("33", format!("~ {s}"));
    if let Some(p) = &d.platforms {
        for x in &p.removed {
            writeln!(out, "{}", minus(format!("platform {}", e(x))))?;
        }
        for x in &p.added {
            writeln!(out, "{}", plus(format!("platform {}", e(x))))?;
        }
    }
    writeln!(out, "platform {}", d.platform.as_deref().unwrap_or("-"))?;
    if let Some(c) = &d.digest {
        writeln!(out, "{}", tilde(format!("digest {} → {}", c.a, c.b)))?;
    }
    if let Some(c) = &d.created {
        writeln!(
            out,
            "{}",
            tilde(format!("created {} → {}", json(&c.a), json(&c.b)))
        )?;
    }
    let sets = [
        ("env", &d.env),
        ("exposed port", &d.exposed_ports),
        ("volume", &d.volumes),
    ];
    for (name, set) in sets {
        if let Some(s) = set {
            for x in &s.removed {
                writeln!(out, "{}", minus(format!("{name} {}", e(x))))?;
            }
            for x in &s.added {
                writeln!(out, "{}", plus(format!("{name} {}", e(x))))?;
            }
        }
    }
    if let Some(l) = &d.labels {
        for (k, v) in &l.removed {
            writeln!(out, "{}", minus(format!("label {}={}", e(k), e(v))))?;
        }
        for (k, v) in &l.added {
            writeln!(out, "{}", plus(format!("label {}={}", e(k), e(v))))?;
        }
        for (k, c) in &l.changed {
            writeln!(
                out,
                "{}",
                tilde(format!("label {}: {} → {}", e(k), e(&c.a), e(&c.b)))
            )?;
        }
    }
    // Both sides as compact JSON, whatever the field's type.
    fn sides<T: serde::Serialize>(c: &Option<Change<T>>) -> Option<(String, String)> {
        use erased::Show as _;
        c.as_ref().map(|c| (c.a.show(), c.b.show()))
    }
    let changes = [
        ("entrypoint", sides(&d.entrypoint)),
        ("cmd", sides(&d.cmd)),
        ("user", sides(&d.user)),
        ("working dir", sides(&d.working_dir)),
    ];
    for (name, c) in changes {
        if let Some((a, b)) = c {
            writeln!(out, "{}", tilde(format!("{name} {a} → {b}")))?;
        }
    }
    for l in &d.layers.removed {
        writeln!(
            out,
            "{}",
            minus(format!("layer {} ({})", l.digest, human_size(l.size)))
        )?;
    }
    for l in &d.layers.added {
        writeln!(
            out,
            "{}",
            plus(format!("layer {} ({})", l.digest, human_size(l.size)))
        )?;
    }
    writeln!(out, "{} layers shared", d.layers.shared)?;
    if let (Some(a), Some(b), Some(delta)) = (d.size.a, d.size.b, d.size.delta) {
        let sign = if delta < 0 { "-" } else { "+" };
        let magnitude = u64::try_from(delta.unsigned_abs()).unwrap_or(u64::MAX);
        writeln!(
            out,
            "size {} → {} ({sign}{})",
            human_size(a),
            human_size(b),
            human_size(magnitude)
        )?;
    }
    Ok(())
}

/// Values shown in the human diff as compact JSON (escaped for the terminal).
mod erased {
    pub trait Show {
        fn show(&self) -> String;
    }

    impl<T: serde::Serialize> Show for T {
        fn show(&self) -> String {
            let text = serde_json::to_string(self).unwrap_or_default();
            crate::output::escape_controls(&text, false)
        }
    }
}
