//! `waste IMAGE…`: dive's analysis from the registry (the figures:
//! `regpeek_client::waste`), with dive's CI gates: flags, else a `.dive-ci` file,
//! else the defaults. Exit 1 when a gate fails (each failure named on stderr), as
//! `dive --ci` does.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use regpeek_client::image::Image;
use regpeek_client::waste::{Gate, Waste, analyze};
use serde_json::{Value, json};

use super::Images;
use crate::args::{Common, OutputFormat};
use crate::layers::Reading;
use crate::session::Session;

/// The gates as the issue and dive's documentation name their defaults.
pub const DEFAULTS: [(&str, &str); 3] = [
    ("lowest-efficiency", "0.9"),
    ("highest-wasted-bytes", "20MB"),
    ("highest-user-wasted-percent", "0.1"),
];

/// How many paths the table shows.
const TOP: usize = 20;
/// How many paths each layer's row names as responsible.
const RESPONSIBLE: usize = 10;

/// The gates in force: the defaults, then a `.dive-ci` file (`config`, else
/// `./.dive-ci` when there is one), then the flags given (`(name, value)`).
pub fn gates(
    config: Option<&Path>,
    flags: &[(&str, Option<&String>)],
) -> Result<Vec<(String, Option<Gate>)>> {
    let mut values: Vec<(String, String)> = DEFAULTS
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let file = match config {
        Some(p) => Some(p.to_owned()),
        None => Some(Path::new(".dive-ci").to_owned()).filter(|p| p.is_file()),
    };
    if let Some(file) = file {
        let text = regpeek_client::bounded::read(&file, 1 << 20)
            .with_context(|| format!("reading {}", file.display()))?;
        for (key, value) in dive_ci(&String::from_utf8_lossy(&text))
            .map_err(|e| crate::errors::usage(format!("{}: {e}", file.display())))?
        {
            let gate = Gate::parse(&key, &value)
                .map_err(|e| crate::errors::usage(format!("{}: {e}", file.display())))?;
            let name = gate
                .as_ref()
                .map_or_else(|| kebab(&key), |g| g.name().to_owned());
            set(&mut values, &name, value);
        }
    }
    for (name, value) in flags {
        if let Some(v) = value {
            set(&mut values, name, (*v).clone());
        }
    }
    values
        .into_iter()
        .map(|(name, value)| {
            let gate =
                Gate::parse(&name, &value).map_err(|e| crate::errors::usage(format!("--{e}")))?;
            Ok((name, gate))
        })
        .collect()
}

fn set(values: &mut [(String, String)], name: &str, value: String) {
    if let Some(v) = values.iter_mut().find(|(k, _)| k == name) {
        v.1 = value;
    }
}

/// dive's legacy camelCase key in kebab-case.
fn kebab(key: &str) -> String {
    let mut out = String::new();
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('-');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The `rules:` of a `.dive-ci` file (YAML, as dive writes it: a `rules` mapping of
/// scalars): `(key, value)` pairs.
pub fn dive_ci(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut rules = Vec::new();
    let mut inside = false;
    for (n, raw) in text.lines().enumerate() {
        let line = match raw.find(" #") {
            Some(at) => &raw[..at],
            None if raw.trim_start().starts_with('#') => "",
            None => raw,
        };
        if line.trim().is_empty() || line.trim() == "---" {
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        if !indented {
            inside = line.trim_end() == "rules:";
            continue;
        }
        if !inside {
            continue;
        }
        let (key, value) = line
            .trim()
            .split_once(':')
            .ok_or_else(|| format!("line {}: not `key: value`", n + 1))?;
        let value = value.trim().trim_matches(['"', '\'']);
        rules.push((key.trim().to_owned(), value.to_owned()));
    }
    Ok(rules)
}

/// `waste IMAGE…`.
pub fn waste(
    session: &Session,
    images: &Images,
    gates: &[(String, Option<Gate>)],
    format: OutputFormat,
    out: &mut impl Write,
) -> Result<ExitCode> {
    if format == OutputFormat::Table {
        session.out.refuse_table_with_jq()?;
    }
    let one = |image: &str, common: &Common| -> Result<(Value, Vec<String>)> {
        let w = waste_of(session, common, image)?;
        let (row, failed) = row(&w.0, &w.1, gates);
        Ok((row, failed))
    };
    let (mut failing, mut broken) = (false, false);
    images.each(one, |i, found| {
        let (image, source) = &images.list[i];
        let found = found.map(|(row, failed)| {
            for why in &failed {
                eprintln!("regpeek: {}: FAIL: {why}", crate::output::safe_line(image));
            }
            failing |= !failed.is_empty();
            row
        });
        if format == OutputFormat::Table && !images.list.is_empty() {
            match &found {
                Ok(row) => table(out, image, row, images.single)?,
                Err(e) => {
                    broken = true;
                    crate::output::say_failed(image, e);
                }
            }
        } else {
            let (line, fails) = crate::output::answer_line(image, source.as_deref(), found);
            broken |= fails;
            session.out.line(out, &line)?;
        }
        out.flush()?;
        Ok(())
    })?;
    Ok(if failing || broken {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The analysis of one image, and its layers' digests.
fn waste_of(
    session: &Session,
    common: &Common,
    typed: &str,
) -> Result<(Waste, Vec<(usize, String)>)> {
    let r = crate::flags::parse_reference(typed)?;
    let source = Reading { session, common };
    let image = Image::open(&source, &session.layer_index, &r)?;
    let wanted = image.readable_layers();
    let contents = image.entries_of(&wanted)?;
    let refs: Vec<&regpeek_client::contents::Contents> = contents.iter().map(|c| &**c).collect();
    // Each analysed layer's index in the image (a foreign one is left out) and digest.
    let digests = wanted
        .iter()
        .map(|&i| (i, image.layers()[i].digest.to_string()))
        .collect();
    Ok((analyze(&refs), digests))
}

/// One image's JSON line, and the gates it fails.
fn row(
    w: &Waste,
    digests: &[(usize, String)],
    gates: &[(String, Option<Gate>)],
) -> (Value, Vec<String>) {
    // An analysed layer's index in the image.
    let index = |k: usize| digests.get(k).map_or(k, |d| d.0);
    let mut failed = Vec::new();
    let gate_rows: Vec<Value> = gates
        .iter()
        .map(|(name, gate)| match gate {
            None => json!({"Gate": name, "Result": "disabled"}),
            Some(g) => match g.failure(w) {
                Some(why) => {
                    failed.push(format!("{name}: {why}"));
                    json!({"Gate": name, "Threshold": threshold(g), "Result": "fail", "Why": why})
                }
                None => json!({"Gate": name, "Threshold": threshold(g), "Result": "pass"}),
            },
        })
        .collect();
    let layers: Vec<Value> = w
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            // This layer's occurrences that a later one replaces or deletes.
            let responsible: Vec<&str> = w
                .inefficiencies
                .iter()
                .filter(|inef| {
                    inef.layers
                        .iter()
                        .position(|&x| x == i)
                        .is_some_and(|pos| pos + 1 < inef.layers.len())
                })
                .map(|inef| inef.path.as_str())
                .take(RESPONSIBLE)
                .collect();
            json!({
                "Index": index(i),
                "Digest": digests.get(i).map(|d| &d.1),
                "Size": l.size,
                "Overwritten": l.overwritten,
                "Responsible": responsible,
            })
        })
        .collect();
    let row = json!({
        "Efficiency": w.efficiency,
        "WastedBytes": w.wasted,
        "UserWastedPercent": w.user_wasted_ratio(),
        "SizeBytes": w.size,
        "UserSizeBytes": w.user_size,
        "Layers": layers,
        "Inefficiencies": w.inefficiencies.iter().map(|i| json!({
            "Path": i.path,
            "Count": i.layers.len(),
            "Bytes": i.bytes,
            "Layers": i.layers.iter().map(|&k| index(k)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "Gates": gate_rows,
        "Pass": failed.is_empty(),
    });
    (row, failed)
}

fn threshold(g: &Gate) -> Value {
    match *g {
        Gate::LowestEfficiency(t) | Gate::HighestUserWastedPercent(t) => json!(t),
        Gate::HighestWastedBytes(b) => json!(b),
    }
}

/// The summary and the top wasted paths, as dive's panel shows them.
fn table(out: &mut impl Write, image: &str, row: &Value, single: bool) -> Result<()> {
    use crate::output::human_size;
    if !single {
        writeln!(out, "{}", crate::output::safe_line(image))?;
    }
    let n = |k: &str| row[k].as_u64().unwrap_or(0);
    writeln!(
        out,
        "Efficiency: {:.2} %   Wasted: {}   User wasted: {}   Size: {} (user {})",
        row["Efficiency"].as_f64().unwrap_or(1.0) * 100.0,
        human_size(n("WastedBytes")),
        row["UserWastedPercent"]
            .as_f64()
            .map_or("-".to_owned(), |r| format!("{:.2} %", r * 100.0)),
        human_size(n("SizeBytes")),
        human_size(n("UserSizeBytes")),
    )?;
    for g in row["Gates"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "  {}: {}",
            g["Gate"].as_str().unwrap_or_default(),
            g["Result"].as_str().unwrap_or_default().to_uppercase()
        )?;
    }
    let rows: Vec<Vec<String>> = row["Inefficiencies"]
        .as_array()
        .into_iter()
        .flatten()
        .take(TOP)
        .map(|i| {
            vec![
                i["Count"].to_string(),
                human_size(i["Bytes"].as_u64().unwrap_or(0)),
                crate::output::safe_line(i["Path"].as_str().unwrap_or_default()),
            ]
        })
        .collect();
    if !rows.is_empty() {
        crate::output::print_columns(out, &["COUNT", "TOTAL SPACE", "PATH"], &rows)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dive_ci_files_as_dive_writes_them() {
        let text = "# gates\nrules:\n  # the score\n  lowestEfficiency: 0.95\n  highestWastedBytes: \"20MB\" # bytes\n  highest-user-wasted-percent: disabled\nother:\n  x: 1\n";
        assert_eq!(
            dive_ci(text).unwrap(),
            [
                ("lowestEfficiency".to_owned(), "0.95".to_owned()),
                ("highestWastedBytes".to_owned(), "20MB".to_owned()),
                (
                    "highest-user-wasted-percent".to_owned(),
                    "disabled".to_owned()
                ),
            ]
        );
        assert!(dive_ci("rules:\n  nonsense\n").is_err());
        assert_eq!(
            kebab("highestUserWastedPercent"),
            "highest-user-wasted-percent"
        );
    }

    #[test]
    fn flags_win_over_the_file_and_the_file_over_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ci.yaml");
        std::fs::write(
            &file,
            "rules:\n  lowestEfficiency: 0.5\n  highestWastedBytes: disabled\n",
        )
        .unwrap();
        let flag = "0.2".to_owned();
        let g = gates(Some(&file), &[("highest-user-wasted-percent", Some(&flag))]).unwrap();
        assert_eq!(
            g,
            [
                (
                    "lowest-efficiency".to_owned(),
                    Some(Gate::LowestEfficiency(0.5))
                ),
                ("highest-wasted-bytes".to_owned(), None),
                (
                    "highest-user-wasted-percent".to_owned(),
                    Some(Gate::HighestUserWastedPercent(0.2))
                ),
            ]
        );
        std::fs::write(&file, "rules:\n  lowestEfficiency: 7\n").unwrap();
        let e = gates(Some(&file), &[]).unwrap_err();
        assert!(format!("{e:#}").contains("outside 0 to 1"), "{e:#}");
    }
}
