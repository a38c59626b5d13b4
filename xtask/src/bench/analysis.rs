//! Content analysis rows of `cargo xtask bench` (issue 26's targets), on a 96 MiB
//! base: `packages` of an image whose dpkg status is in its top layer (bytes fetched
//! against that layer, beside skopeo copying the image and dpkg-query reading it),
//! `diff --files` of two images sharing the base (only their own layers fetched),
//! `waste`, each cold and warm (0 layer bytes), and `packages --jobs 8` over eight
//! images for peak RSS.

use std::path::Path;
use std::process::Command;

use anyhow::Result;
use regpeek_lab::Lab;

use super::{Case, Tool};

/// The rows, their warm caches primed under `dir`; `base`: `lab/big`'s 96 MiB layer,
/// pushed already.
pub fn cases(
    lab: &Lab,
    regpeek: &Path,
    runs: usize,
    dir: &Path,
    base: &regpeek_lab::image::Blob,
) -> Result<Vec<Case>> {
    let plain = lab.info.plain();
    let target = lab.info.targets()?.plain;
    let images = regpeek_lab::image::big_variants(base);
    for (repo, img) in &images {
        target.image(repo, img, &["v1"])?;
    }
    let refs: Vec<String> = images
        .iter()
        .map(|(r, _)| format!("{plain}/{r}:v1"))
        .collect();
    let (deb, pa, pb) = (&refs[0], &refs[1], &refs[2]);
    let cache = dir.join("analysis-cache").display().to_string();
    let scratch = dir.join("analysis-copy").display().to_string();
    let tool = |name: &'static str, program: &Path, args: Vec<String>| Tool {
        name,
        program: program.to_owned(),
        args,
    };
    let ours = |name: &'static str, args: &[&str]| {
        tool(
            name,
            regpeek,
            args.iter().map(|a| (*a).to_owned()).collect(),
        )
    };
    let sh = |name: &'static str, script: String| {
        tool(name, Path::new("/bin/sh"), vec!["-c".into(), script])
    };
    let curl = |urls: &[String]| {
        let mut cmd = "curl -sfL".to_owned();
        for u in urls {
            cmd.push_str(&format!(" -o /dev/null '{u}'"));
        }
        cmd
    };
    let blob = |repo: &str, img: &regpeek_lab::image::Image| {
        format!(
            "http://{plain}/v2/{repo}/blobs/{}",
            img.layers.last().expect("a layer").digest
        )
    };
    // skopeo's answer: the image copied, its top layer's status read by dpkg-query.
    let copy = |image: &str| {
        format!(
            "rm -rf {scratch} && skopeo copy -q --src-tls-verify=false docker://{image} oci:{scratch}:x >/dev/null"
        )
    };
    let top_layer = format!(
        "m=$(grep -o 'sha256:[0-9a-f]*' {scratch}/index.json | head -1 | cut -d: -f2) && l=$(grep -o '\"digest\": *\"sha256:[0-9a-f]*' {scratch}/blobs/sha256/$m | tail -1 | grep -o '[0-9a-f]*$')"
    );
    let skopeo_packages = format!(
        "{} && {top_layer} && mkdir -p {scratch}/adm && tar -xzf {scratch}/blobs/sha256/$l -C {scratch}/adm var/lib/dpkg/status && dpkg-query --admindir={scratch}/adm/var/lib/dpkg -W >/dev/null",
        copy(deb)
    );
    let all_layers = format!(
        "for l in $(grep -o '\"digest\": *\"sha256:[0-9a-f]*' {scratch}/blobs/sha256/$m | tail -n +2 | grep -o '[0-9a-f]*$'); do tar -tzvf {scratch}/blobs/sha256/$l; done >/dev/null"
    );
    let skopeo_diff = format!(
        "{c1} && m=$(grep -o 'sha256:[0-9a-f]*' {scratch}/index.json | head -1 | cut -d: -f2) && {all_layers} && {c2} && m=$(grep -o 'sha256:[0-9a-f]*' {scratch}/index.json | head -1 | cut -d: -f2) && {all_layers}",
        c1 = copy(pa),
        c2 = copy(pb)
    );
    let gates = [
        "--lowest-efficiency",
        "off",
        "--highest-wasted-bytes",
        "off",
        "--highest-user-wasted-percent",
        "off",
    ];
    let mut waste_cold = vec!["--no-cache", "waste", "--plain-http"];
    waste_cold.extend(gates);
    waste_cold.push(deb);
    let mut waste_warm = vec!["--cache-dir", &cache, "waste", "--plain-http"];
    waste_warm.extend(gates);
    waste_warm.push(deb);
    let eight: Vec<String> = [
        "lab/dpkg:v1",
        "lab/apk:v1",
        "lab/pair-a:v1",
        "lab/pair-b:v1",
        "lab/fs:v1",
        "lab/rich:v1",
    ]
    .iter()
    .map(|r| format!("{plain}/{r}"))
    .chain([deb.clone(), pa.clone()])
    .collect();
    let mut many = vec![
        "--no-cache",
        "packages",
        "--scan",
        "--jobs",
        "8",
        "--plain-http",
    ];
    many.extend(eight.iter().map(String::as_str));
    // Prime the warm cache.
    for args in [
        vec![
            "--cache-dir",
            &cache,
            "packages",
            "--plain-http",
            deb.as_str(),
        ],
        vec![
            "--cache-dir",
            &cache,
            "diff",
            "--files",
            "--plain-http",
            pa,
            pb,
        ],
        waste_warm.clone(),
    ] {
        let _ = crate::run(
            Command::new(regpeek)
                .args(&args)
                .stdout(std::process::Stdio::null()),
        );
    }
    // `diff` exits 1 when the images differ, as they do.
    let differ = |args: &str| format!("{} {args} >/dev/null; [ $? -eq 1 ]", regpeek.display());
    let n = runs.min(3);
    Ok(vec![
        (
            "packages, status on 96 MiB",
            vec![
                sh("skopeo copy + dpkg-query", skopeo_packages),
                ours(
                    "regpeek cold",
                    &["--no-cache", "packages", "--plain-http", deb],
                ),
                ours(
                    "regpeek warm",
                    &["--cache-dir", &cache, "packages", "--plain-http", deb],
                ),
                sh("curl floor", curl(&[blob("lab/big-deb", &images[0].1)])),
            ],
            n,
        ),
        (
            "diff --files, 96 MiB shared",
            vec![
                sh("skopeo copy + tar", skopeo_diff),
                sh(
                    "regpeek cold",
                    differ(&format!("--no-cache diff --files --plain-http {pa} {pb}")),
                ),
                sh(
                    "regpeek warm",
                    differ(&format!(
                        "--cache-dir {cache} diff --files --plain-http {pa} {pb}"
                    )),
                ),
                sh(
                    "curl floor",
                    curl(&[
                        blob("lab/big-pair-a", &images[1].1),
                        blob("lab/big-pair-b", &images[2].1),
                    ]),
                ),
            ],
            n,
        ),
        (
            "waste, 96 MiB + status",
            vec![
                ours("regpeek cold", &waste_cold),
                ours("regpeek warm", &waste_warm),
            ],
            n,
        ),
        (
            "packages --jobs 8, 8 images",
            vec![ours("regpeek cold", &many)],
            1,
        ),
    ])
}
