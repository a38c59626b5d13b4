//! The tag inventory's rows of `cargo xtask bench` (issue 25's targets): `tags --long`
//! of the 150-tag `lab/inventory`, cold and warm, beside a skopeo loop giving the same
//! answer; `--points-at` warm; `--uncompressed` on the 40-layer image, cold and warm;
//! then `tags --long` and `--uncompressed` again over HTTP/2, on the token registry's
//! TLS front (nginx, `http2`; anonymous pulls of `public/*`, so a token comes first).

use std::path::Path;
use std::process::Command;

use anyhow::Result;
use regpeek_lab::Lab;

use super::{Case, Tool};

/// The rows, their warm caches primed under `dir`.
pub fn cases(lab: &Lab, regpeek: &Path, runs: usize, dir: &Path) -> Result<Vec<Case>> {
    let plain = lab.info.plain();
    let repo = format!("{plain}/lab/inventory");
    let layers = format!("{plain}/lab/many-layers:v1");
    let cache = dir.join("inventory-cache").display().to_string();
    let front = lab.info.token_tls();
    let ca = lab.info.ca_file().display().to_string();
    let repo_h2 = format!("{front}/public/inventory");
    let layers_h2 = format!("{front}/public/many-layers:v1");
    let cache_h2 = dir.join("inventory-cache-h2").display().to_string();
    let ours = |name: &'static str, args: &[&str]| Tool {
        name,
        program: regpeek.to_owned(),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
    };
    // The same answer by skopeo: each tag inspected (digest, created; an index's
    // platforms from its raw manifest).
    let tags: Vec<String> = (0..regpeek_lab::image::INVENTORY_TAGS)
        .map(|n| format!("t{n:03}"))
        .collect();
    let skopeo_loop = format!(
        "for t in {}; do skopeo inspect --tls-verify=false --no-tags docker://{repo}:$t >/dev/null || exit 1; done",
        tags.join(" ")
    );
    let skopeo = Tool {
        name: "skopeo inspect loop",
        program: "/bin/sh".into(),
        args: vec!["-c".into(), skopeo_loop],
    };
    let inv = regpeek_lab::image::inventory();
    let platform_entry = inv.indexes[0].children[1].manifest.digest.clone();
    // Each warm row's command, written once: run here to prime its cache, then timed.
    let tags_warm = [
        "--cache-dir",
        &cache,
        "tags",
        "--long",
        "--plain-http",
        &repo,
    ];
    let layers_warm = [
        "--cache-dir",
        &cache,
        "inspect",
        "--uncompressed",
        "--plain-http",
        &layers,
    ];
    let tags_h2_warm = [
        "--cache-dir",
        &cache_h2,
        "--ca-file",
        &ca,
        "tags",
        "--long",
        &repo_h2,
    ];
    let layers_h2_warm = [
        "--cache-dir",
        &cache_h2,
        "--ca-file",
        &ca,
        "inspect",
        "--uncompressed",
        &layers_h2,
    ];
    for args in [&tags_warm[..], &layers_warm, &tags_h2_warm, &layers_h2_warm] {
        crate::run(
            Command::new(regpeek)
                .args(args)
                .stdout(std::process::Stdio::null()),
        )?;
    }
    Ok(vec![
        (
            "tags --long, 150 tags",
            vec![
                skopeo,
                ours(
                    "regpeek cold",
                    &["--no-cache", "tags", "--long", "--plain-http", &repo],
                ),
                ours("regpeek warm", &tags_warm),
            ],
            runs.min(3),
        ),
        (
            "tags --points-at (warm)",
            vec![ours(
                "regpeek warm",
                &[
                    "--cache-dir",
                    &cache,
                    "tags",
                    "--points-at",
                    &platform_entry,
                    "--plain-http",
                    &repo,
                ],
            )],
            runs,
        ),
        (
            "--uncompressed, 40 layers",
            vec![
                ours(
                    "regpeek cold",
                    &[
                        "--no-cache",
                        "inspect",
                        "--uncompressed",
                        "--plain-http",
                        &layers,
                    ],
                ),
                ours("regpeek warm", &layers_warm),
            ],
            runs,
        ),
        (
            "tags --long, 150 tags, HTTP/2",
            vec![
                ours(
                    "regpeek cold",
                    &["--no-cache", "--ca-file", &ca, "tags", "--long", &repo_h2],
                ),
                ours("regpeek warm", &tags_h2_warm),
            ],
            runs.min(3),
        ),
        (
            "--uncompressed, 40 layers, HTTP/2",
            vec![
                ours(
                    "regpeek cold",
                    &[
                        "--no-cache",
                        "--ca-file",
                        &ca,
                        "inspect",
                        "--uncompressed",
                        &layers_h2,
                    ],
                ),
                ours("regpeek warm", &layers_h2_warm),
            ],
            runs,
        ),
    ])
}
