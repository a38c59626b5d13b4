//! `ls IMAGE… [PATH]`: the merged file system as a container sees it, as `ls -l`
//! reads (or one layer's own entries with `--layer`): a path and the links on it
//! resolved in the image, `-d` for the entry itself, `--depth N`, `-h` sizes.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use regpeek_client::image::{Image, Miss, Node};
use regpeek_client::layers;
use regpeek_layer::{Entry, Kind};
use regpeek_proto::Digest;
use serde_json::{Value, json};

use super::Images;
use super::files::lines_out;
use crate::args::{Common, OutputFormat};
use crate::layers::Reading;
use crate::session::Session;

/// `ls IMAGE… [PATH]`: the merged file system as a container sees it (or one layer's
/// own entries, whiteouts included, with `--layer`); with several images (or
/// `--file`, `--from`), each row led by its image's `Reference` (and `Source`).
/// What `ls` is asked to list.
pub struct Listing<'a> {
    /// Under this path (links on it resolved), or everything.
    pub path: Option<&'a str>,
    /// One layer's own entries (`--layer`).
    pub layer: Option<&'a str>,
    /// The entry the path names, not what lies below it (`-d`).
    pub directory: bool,
    /// How many levels below the path (`--depth`; 1: its own entries).
    pub depth: Option<usize>,
    /// Sizes as `ls -h` prints them, in the table.
    pub human: bool,
}

pub fn ls(
    session: &Session,
    images: &Images,
    listing: &Listing,
    format: OutputFormat,
    common: &Common,
    out: &mut impl Write,
) -> Result<ExitCode> {
    if listing.directory && listing.path.is_none() {
        return Err(crate::errors::usage(
            "-d lists the entry a PATH names: give one",
        ));
    }
    let (path, layer) = (listing.path, listing.layer);
    if format == OutputFormat::Table {
        session.out.refuse_table_with_jq()?;
        if !images.single {
            return Err(crate::errors::usage(
                "-o table lists one image; several print JSON lines",
            ));
        }
    }
    let one = |image: &str, common: &Common| {
        let rows = ls_rows(session, common, image, path, layer)?;
        Ok(keep(rows, path, listing))
    };
    if images.single {
        let rows = one(&images.list[0].0, common)?;
        match format {
            OutputFormat::Json => {
                for row in &rows {
                    session.out.line(out, row)?;
                }
            }
            OutputFormat::Table => {
                let table: Vec<Vec<String>> = rows
                    .iter()
                    .map(|v| {
                        let mut row = ls_l(v);
                        if listing.human {
                            row[2] = human(v["Size"].as_u64().unwrap_or(0));
                        }
                        row
                    })
                    .collect();
                crate::output::print_columns(
                    out,
                    &["MODE", "UID:GID", "SIZE", "MTIME", "LAYER", "PATH"],
                    &table,
                )?;
            }
        }
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    lines_out(session, images, one, out)
}

/// The rows of `ls_rows` that `-d` and `--depth` keep: the entry the path names (the
/// first row), and what lies at most `depth` levels below it.
fn keep(rows: Vec<Value>, path: Option<&str>, listing: &Listing) -> Vec<Value> {
    if listing.directory {
        return rows.into_iter().take(1).collect();
    }
    let Some(depth) = listing.depth else {
        return rows;
    };
    let levels = |p: &str| {
        p.trim_matches('/')
            .split('/')
            .filter(|c| !c.is_empty())
            .count()
    };
    // Below the path the rows were listed under (its resolved place is the first row).
    let base = match (path, rows.first()) {
        (Some(_), Some(first)) => levels(first["Path"].as_str().unwrap_or("")),
        _ => 0,
    };
    rows.into_iter()
        .filter(|v| levels(v["Path"].as_str().unwrap_or("")) <= base + depth)
        .collect()
}

/// A size as `ls -h` prints it: bytes below 1024, else one decimal under 10 and none
/// above, rounded up (`4.0K`, `12K`, `1.5M`).
fn human(size: u64) -> String {
    if size < 1024 {
        return size.to_string();
    }
    let mut value = size as f64;
    let mut unit = ' ';
    for u in ['K', 'M', 'G', 'T', 'P', 'E'] {
        value /= 1024.0;
        unit = u;
        if value < 1024.0 {
            break;
        }
    }
    if value < 10.0 {
        let tenths = (value * 10.0).ceil() / 10.0;
        if tenths < 10.0 {
            return format!("{tenths:.1}{unit}");
        }
    }
    format!("{}{unit}", value.ceil() as u64)
}

/// The rows `ls` prints for one image: the merged file system (or one layer's own
/// entries with `--layer`), under `path` when given. Links on the path are followed,
/// and the last one too when the path ends in `/`, as `ls` does.
fn ls_rows(
    session: &Session,
    common: &Common,
    image: &str,
    path: Option<&str>,
    layer: Option<&str>,
) -> Result<Vec<Value>> {
    let r = crate::flags::parse_reference(image)?;
    let source = Reading { session, common };
    let image = Image::open(&source, &session.layer_index, &r)?;
    let layers = image.layers();
    if let Some(l) = layer {
        let chosen = match l.parse::<usize>() {
            Ok(n) if n < layers.len() => n,
            Ok(n) => bail!(
                "--layer {n}: {} has {} layers (0 is the base)",
                r.familiar(),
                layers.len()
            ),
            Err(_) => layers
                .iter()
                .position(|d| {
                    d.digest.to_string() == l
                        || d.digest
                            .to_string()
                            .split(':')
                            .nth(1)
                            .is_some_and(|h| h.starts_with(l))
                })
                .with_context(|| {
                    format!("--layer {l}: no layer of {} has that digest", r.familiar())
                })?,
        };
        if let Err(why) = layers::packing(&layers[chosen].media_type) {
            bail!("layer {chosen} cannot be read: {why}");
        }
        // One layer's own entries, whiteouts included, under the path as written.
        let prefix = path.map(regpeek_layer::normalize).unwrap_or_default();
        let shown =
            |p: &str| prefix.is_empty() || p == prefix || p.starts_with(&format!("{prefix}/"));
        let own = image.entries(chosen)?;
        return Ok(own
            .iter()
            .filter(|e| shown(&e.path))
            .map(|e| {
                let marker = regpeek_layer::whiteout(&e.path)
                    .map(|(_, opaque)| if opaque { "opaque" } else { "whiteout" });
                entry_json(e, chosen, &layers[chosen].digest, marker)
            })
            .collect());
    }
    let tree = image.tree()?;
    // How many paths are each file (hard links), counted once for the listing.
    let mut links: std::collections::HashMap<&(usize, String), usize> = Default::default();
    for file in tree.nodes().filter_map(|n| n.file.as_ref()) {
        *links.entry(file).or_default() += 1;
    }
    let row = |n: &Node| {
        let mut v = entry_json(&n.entry, n.layer, &layers[n.layer].digest, None);
        // A hard link is the file it shares: its size, and how many paths it has.
        if let Some(size) = n.shared_size {
            v["Size"] = json!(size);
        }
        if let Some(file) = &n.file {
            v["Links"] = json!(links.get(file).copied().unwrap_or(1));
        }
        v
    };
    let Some(asked) = path else {
        return Ok(tree.nodes().map(row).collect());
    };
    let shown = format!("/{}", regpeek_layer::normalize(asked));
    let at = match tree.resolve(asked, asked.ends_with('/')) {
        Ok(at) => at,
        Err(Miss::NotFound(_)) => bail!("{shown}: no such file or directory in {}", r.familiar()),
        Err(Miss::NotADirectory(at)) => bail!("{shown}: /{at} is not a directory"),
        Err(Miss::Loop) => bail!(
            "{shown}: more than {} links to follow",
            regpeek_client::image::overlay::MAX_HOPS
        ),
    };
    let mut rows: Vec<Value> = tree.get(&at).map(row).into_iter().collect();
    rows.extend(tree.under(&at).map(row));
    if rows.is_empty() && !at.is_empty() {
        bail!("{shown}: no such file or directory in {}", r.familiar());
    }
    Ok(rows)
}

fn entry_json(e: &Entry, layer: usize, digest: &Digest, marker: Option<&str>) -> Value {
    let (kind, target) = match &e.kind {
        Kind::File => ("file", None),
        Kind::Dir => ("dir", None),
        Kind::Symlink(t) => ("symlink", Some(t.clone())),
        Kind::Hardlink(t) => ("hardlink", Some(format!("/{t}"))),
        Kind::Other(_) => ("other", None),
    };
    let mtime = jiff::Timestamp::from_second(e.mtime as i64)
        .map(|t| t.to_string())
        .ok();
    json!({
        "Path": format!("/{}", e.path),
        "Type": marker.unwrap_or(kind),
        "Target": target,
        "Mode": format!("{:04o}", e.mode & 0o7777),
        "Uid": e.uid,
        "Gid": e.gid,
        "Size": e.size,
        "Mtime": mtime,
        "Layer": layer,
        "LayerDigest": digest.to_string(),
    })
}

/// A row as `ls -l` shows it.
fn ls_l(v: &Value) -> Vec<String> {
    let t = v["Type"].as_str().unwrap_or("");
    let mode = u32::from_str_radix(v["Mode"].as_str().unwrap_or("0"), 8).unwrap_or(0);
    // A whiteout is a file in its layer's tar, and a hard link is a file.
    let kind = match t {
        "dir" => 'd',
        "symlink" => 'l',
        "other" => '?',
        _ => '-',
    };
    let mut s = String::from(kind);
    // The set-user-ID, set-group-ID and sticky bits take the execute places.
    for (shift, special, set) in [(6, 0o4000, 's'), (3, 0o2000, 's'), (0, 0o1000, 't')] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(match (bits & 1 != 0, mode & special != 0) {
            (true, true) => set,
            (false, true) => set.to_ascii_uppercase(),
            (true, false) => 'x',
            (false, false) => '-',
        });
    }
    // `->` is a symbolic link's; a hard link is shown as the file it is.
    let path = match (t, v["Target"].as_str()) {
        ("symlink", Some(target)) => format!("{} -> {target}", v["Path"].as_str().unwrap_or("")),
        _ => v["Path"].as_str().unwrap_or("").to_owned(),
    };
    vec![
        s,
        format!("{}:{}", v["Uid"], v["Gid"]),
        v["Size"].to_string(),
        v["Mtime"].as_str().unwrap_or("").to_owned(),
        v["Layer"].to_string(),
        path,
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn sizes_read_as_ls_h_prints_them() {
        for (size, want) in [
            (0, "0"),
            (1023, "1023"),
            (1024, "1.0K"),
            (1025, "1.1K"),
            (4096, "4.0K"),
            (10 * 1024, "10K"),
            (12 * 1024 + 1, "13K"),
            (1536 * 1024, "1.5M"),
            (5 << 30, "5.0G"),
        ] {
            assert_eq!(super::human(size), want, "{size}");
        }
    }

    /// Against GNU `ls -lh` itself, on files of those sizes.
    #[test]
    fn sizes_read_as_gnu_ls_prints_them() {
        let dir = tempfile::tempdir().unwrap();
        let sizes = [
            0u64,
            1000,
            1024,
            1025,
            4097,
            10 * 1024,
            12 * 1024 + 1,
            1536 * 1024,
            9_999_999,
        ];
        for (i, size) in sizes.iter().enumerate() {
            let f = std::fs::File::create(dir.path().join(format!("f{i}"))).unwrap();
            f.set_len(*size).unwrap();
        }
        let out = std::process::Command::new("ls")
            .args(["-lh", "--time-style=+x"])
            .arg(dir.path())
            .env("LC_ALL", "C")
            .output()
            .expect("GNU ls (coreutils)");
        let text = String::from_utf8(out.stdout).unwrap();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let i: usize = cols[cols.len() - 1][1..].parse().unwrap();
            assert_eq!(
                super::human(sizes[i]),
                cols[4],
                "{} bytes: {line}",
                sizes[i]
            );
        }
    }

    #[test]
    fn depth_and_d_keep_what_they_say() {
        let rows: Vec<serde_json::Value> = ["/etc", "/etc/a", "/etc/b/c", "/etc/b/c/d"]
            .iter()
            .map(|p| json!({"Path": p}))
            .collect();
        let listing = |directory, depth| super::Listing {
            path: Some("/etc"),
            layer: None,
            directory,
            depth,
            human: false,
        };
        let paths = |v: Vec<serde_json::Value>| -> Vec<String> {
            v.iter()
                .map(|r| r["Path"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            paths(super::keep(
                rows.clone(),
                Some("/etc"),
                &listing(true, None)
            )),
            ["/etc"]
        );
        assert_eq!(
            paths(super::keep(
                rows.clone(),
                Some("/etc"),
                &listing(false, Some(1))
            )),
            ["/etc", "/etc/a"]
        );
        assert_eq!(
            paths(super::keep(
                rows.clone(),
                Some("/etc"),
                &listing(false, Some(2))
            )),
            ["/etc", "/etc/a", "/etc/b/c"]
        );
        assert_eq!(
            paths(super::keep(rows, Some("/etc"), &listing(false, None))).len(),
            4
        );
    }

    fn mode_of(kind: &str, mode: &str) -> String {
        super::ls_l(&json!({"Type": kind, "Mode": mode, "Path": "/x", "Target": "/y"}))[0].clone()
    }

    #[test]
    fn ls_l_shows_the_special_bits_and_hard_links_as_files() {
        assert_eq!(mode_of("file", "4755"), "-rwsr-xr-x");
        assert_eq!(mode_of("file", "2755"), "-rwxr-sr-x");
        assert_eq!(mode_of("file", "6644"), "-rwSr-Sr--");
        assert_eq!(mode_of("dir", "1777"), "drwxrwxrwt");
        assert_eq!(mode_of("dir", "1770"), "drwxrwx--T");
        assert_eq!(mode_of("hardlink", "0644"), "-rw-r--r--");
        assert_eq!(mode_of("whiteout", "0644"), "-rw-r--r--");
        let row = |kind| {
            super::ls_l(&json!({"Type": kind, "Mode": "0777", "Path": "/x", "Target": "/y"}))
        };
        assert_eq!(row("hardlink")[5], "/x");
        assert_eq!(row("symlink")[5], "/x -> /y");
    }
}
