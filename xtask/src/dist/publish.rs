//! `cargo xtask publish-check`: every published crate packaged and verified with
//! `cargo publish --dry-run`, in dependency order (cargo orders a workspace publish),
//! after checking what each package would carry: no lab data, no recorded fixture
//! over 1 MiB, no test output.

use anyhow::{Result, ensure};

use super::output;

/// The published crates, each after those it depends on.
pub const PUBLISHED: [&str; 6] = [
    "regpeek-proto",
    "regpeek-layer",
    "regpeek-replay",
    "regpeek-ureq",
    "regpeek-client",
    "regpeek-cli",
];

/// `cargo xtask publish-check`.
pub fn publish_check() -> Result<()> {
    for krate in PUBLISHED {
        let list = output(crate::cargo().args([
            "package",
            "--list",
            "--locked",
            "--allow-dirty",
            "-p",
            krate,
        ]))?;
        let dir = crate::project_root().join("crates").join(krate);
        for file in list.lines() {
            ensure!(
                !file.contains(".lab/")
                    && !file.starts_with("target/")
                    && !file.ends_with(".snap.new"),
                "{krate} would publish {file}"
            );
            let size = std::fs::metadata(dir.join(file)).map_or(0, |m| m.len());
            ensure!(
                size <= 1 << 20,
                "{krate} would publish {file} ({size} bytes, over 1 MiB)"
            );
        }
        println!(
            "xtask: {krate}: {} files, none of lab data or over 1 MiB",
            list.lines().count()
        );
    }
    let mut publish = crate::cargo();
    publish.args([
        "publish",
        "--dry-run",
        "--locked",
        "--allow-dirty",
        "--workspace",
    ]);
    crate::run(&mut publish)
}
