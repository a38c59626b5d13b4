//! `diff --files A B` and `diff --packages A B`: two images compared by what their
//! layers hold, over the client's `image::compare` and `Image::installed` (exit 0
//! equal, 1 different, 2 on error, as `diff`).

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use regpeek_client::image::Image;
use regpeek_client::image::compare::{self, Side};
use regpeek_proto::Goal;
use serde_json::{Value, json};

use crate::args::{Common, DiffArgs};
use crate::layers::Reading;
use crate::session::Session;

/// The image `reference` names (inspected as `diff` inspects it, its warnings said),
/// and its layers' diff IDs (from its config).
fn open<'a>(
    session: &'a Session,
    source: &'a Reading<'a>,
    reference: &str,
    common: &Common,
) -> Result<(Image<'a>, Vec<String>)> {
    let platform = crate::flags::platform(common)?;
    let insp = super::diff::inspect(session, reference, common, Goal::Inspect(platform))?;
    session.warn(&insp.warnings);
    let r = insp.reference.clone();
    let diff_ids = insp
        .config
        .as_ref()
        .and_then(|c| c.config.as_ref())
        .map(|c| c.rootfs.diff_ids.clone())
        .unwrap_or_default();
    let layers = regpeek_client::source::layers_of(insp)?;
    Ok((
        Image::with_layers(source, &session.layer_index, &r, layers),
        diff_ids,
    ))
}

/// One side of a path, as printed: `null` (absent), `"shared"`, or its entry.
fn side(s: &Side, digests: &[String]) -> Value {
    match s {
        Side::Absent => Value::Null,
        Side::Shared => json!("shared"),
        Side::Present(m) => json!({
            "Type": m.kind,
            "Size": m.size,
            "Mode": format!("{:04o}", m.mode),
            "Uid": m.uid,
            "Gid": m.gid,
            "Link": m.link,
            "Digest": m.digest.as_ref().map(|d| format!("sha256:{d}")),
            "Layer": m.layer,
            "LayerDigest": digests.get(m.layer),
        }),
    }
}

/// `diff --files A B` (or `--packages`).
pub fn diff(
    session: &Session,
    a: &str,
    b: &str,
    asked: &DiffArgs,
    common: &Common,
    out: &mut impl Write,
) -> Result<ExitCode> {
    session.scope_credentials(common, [a, b])?;
    let source = Reading { session, common };
    let (ia, ida) = open(session, &source, a, common)?;
    let (ib, idb) = open(session, &source, b, common)?;
    let rows = if asked.packages {
        packages(&ia, &ib)?
    } else {
        let shared = compare::shared_layers(&ia, &ib, (&ida, &idb));
        let found = compare::compare(&ia, &ib, shared, asked.exact)?;
        let prefix = asked
            .path
            .as_deref()
            .map(|p| format!("/{}", regpeek_layer::normalize(p)));
        let under = |p: &str| {
            prefix
                .as_deref()
                .is_none_or(|x| x == "/" || p == x || p.starts_with(&format!("{x}/")))
        };
        let digests = |img: &Image| {
            img.layers()
                .iter()
                .map(|d| d.digest.to_string())
                .collect::<Vec<_>>()
        };
        let (da, db) = (digests(&ia), digests(&ib));
        let rows: Vec<Value> = found
            .changes
            .iter()
            .filter(|c| under(&c.path))
            .map(|c| json!({"Path": c.path, "Change": c.change, "A": side(&c.a, &da), "B": side(&c.b, &db)}))
            .collect();
        if !found.exact && rows.iter().any(|r| r["Change"] == "written") {
            session.warn_once(&format!(
                "the {shared} layers both images start with were not read: `written` paths are one image's own against the shared layers' (--exact reads them)"
            ));
        }
        rows
    };
    let printed = if session.out.tty && session.out.jq.is_none() {
        table(out, &rows, asked.packages)
    } else {
        rows.iter().try_for_each(|r| session.out.line(out, r))
    }
    .and_then(|()| Ok(out.flush()?));
    super::diff::status(printed, rows.is_empty())
}

/// The packages of `a` and `b` compared, by type, name and architecture.
fn packages(a: &Image, b: &Image) -> Result<Vec<Value>> {
    let listed = |img: &Image| -> Result<BTreeMap<(String, String, String), String>> {
        Ok(img
            .installed(false)?
            .packages
            .into_iter()
            .map(|l| {
                (
                    (
                        l.package.kind,
                        l.package.name,
                        l.package.arch.unwrap_or_default(),
                    ),
                    l.package.version,
                )
            })
            .collect())
    };
    let (pa, pb) = (listed(a)?, listed(b)?);
    let mut keys: Vec<&(String, String, String)> = pa.keys().chain(pb.keys()).collect();
    keys.sort();
    keys.dedup();
    Ok(keys
        .into_iter()
        .filter_map(|k| {
            let (va, vb) = (pa.get(k), pb.get(k));
            let change = match (va, vb) {
                (Some(x), Some(y)) if x == y => return None,
                (Some(_), Some(_)) => "changed",
                (None, _) => "added",
                (_, None) => "removed",
            };
            Some(json!({"Type": k.0, "Name": k.1, "Arch": (!k.2.is_empty()).then_some(&k.2), "Change": change, "A": va, "B": vb}))
        })
        .collect())
}

/// The changes as a table.
fn table(out: &mut impl Write, rows: &[Value], packages: bool) -> Result<()> {
    let safe = |v: &Value| crate::output::safe_line(v.as_str().unwrap_or_default());
    let what = |v: &Value| match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        v => crate::output::human_size(v["Size"].as_u64().unwrap_or(0)),
    };
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            if packages {
                vec![
                    safe(&r["Change"]),
                    safe(&r["Name"]),
                    what(&r["A"]),
                    what(&r["B"]),
                ]
            } else {
                vec![
                    safe(&r["Change"]),
                    what(&r["A"]),
                    what(&r["B"]),
                    safe(&r["Path"]),
                ]
            }
        })
        .collect();
    let header: &[&str] = if packages {
        &["CHANGE", "PACKAGE", "A", "B"]
    } else {
        &["CHANGE", "A", "B", "PATH"]
    };
    crate::output::print_columns(out, header, &table)
}
