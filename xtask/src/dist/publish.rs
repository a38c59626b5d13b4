//! `cargo xtask publish-check`: every published crate packaged and verified with
//! `cargo publish --dry-run`, in dependency order (cargo orders a workspace publish),
//! after checking what each package would carry: no lab data, no recorded fixture
//! over 1 MiB, no test output.

use anyhow::{Result, ensure};

use super::output;

/// The published crates, each after those it depends on.
pub const PUBLISHED: [&str; 7] = [
    "regpeek-proto",
    "regpeek-layer",
    "regpeek-replay",
    "regpeek-ureq",
    "regpeek-h2",
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
    forget_unpacked_packages()?;
    // A build directory of its own, emptied first: the crates' earlier versions were
    // built there under the same names and versions (see forget_unpacked_packages).
    let target = crate::project_root().join("target/publish-check");
    let _ = std::fs::remove_dir_all(&target);
    let mut publish = crate::cargo();
    publish.env("CARGO_TARGET_DIR", &target);
    publish.args([
        "publish",
        "--dry-run",
        "--locked",
        "--allow-dirty",
        "--workspace",
    ]);
    crate::run(&mut publish)
}

/// Removes what an earlier dry run left of our crates. Cargo verifies each package
/// against the others through a local registry, and takes registry crates for
/// immutable: it unpacks them into `registry/src/<that registry>/NAME-VERSION` only
/// when that directory is not there yet, and reuses their builds by name and version.
/// With the version unchanged, a package would be verified against the earlier run's
/// sources and builds of the others.
fn forget_unpacked_packages() -> Result<()> {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cargo")));
    let Some(home) = home else {
        return Ok(());
    };
    let version = super::version()?;
    let Ok(registries) = std::fs::read_dir(home.join("registry/src")) else {
        return Ok(());
    };
    for registry in registries.flatten() {
        for krate in PUBLISHED {
            let unpacked = registry.path().join(format!("{krate}-{version}"));
            if unpacked.is_dir() {
                std::fs::remove_dir_all(&unpacked)?;
            }
        }
    }
    Ok(())
}
