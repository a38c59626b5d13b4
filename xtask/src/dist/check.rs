//! `cargo xtask dist --check` (and the last phase of `cargo xtask test`): the release
//! artifacts proved, against a lab of their own.
//!
//! - the tarball lists what it should, and `sha256sum -c` passes, inside and beside it;
//! - `ldd` says the binary is not a dynamic executable;
//! - the binary from the tarball runs `inspect` against the lab from inside an empty
//!   chroot holding only itself and a CA file;
//! - the `.deb` installs into a throwaway root (`dpkg --root`), `man -M` finds its page
//!   there, and `dpkg --remove` leaves no file of it;
//! - the scratch image's layout is inspected by regpeek (`oci:`) and unpacked by umoci,
//!   and the binary runs from the unpacked rootfs with `chroot`;
//! - the SBOM lists every crate of `Cargo.lock` the binary links and nothing else
//!   (no dev-dependency, no build tool).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use super::output;

/// chroot(8), named by its path: the commands run in it get an empty environment, so
/// no `PATH` would find it.
const CHROOT: &str = "/usr/sbin/chroot";

/// The most the stripped static binary may weigh: 8 MiB.
pub const MAX_BINARY: u64 = 8 << 20;

/// Every proof, in `dist` (as `cargo xtask dist` left it).
pub fn all(dist: &Path, version: &str) -> Result<()> {
    let name = format!("regpeek-{version}-x86_64-linux");
    let scratch = tempdir(dist, "check")?;
    // The tarball: its listing, its sums.
    let listing = output(
        Command::new("tar")
            .arg("-tzf")
            .arg(dist.join(format!("{name}.tar.gz"))),
    )?;
    for want in [
        "regpeek",
        "man/regpeek.1",
        "man/regpeek-inspect.1",
        "completions/regpeek.bash",
        "completions/_regpeek",
        "completions/regpeek.fish",
        "README.md",
        "LICENSE-MIT",
        "LICENSE-APACHE",
        "SHA256SUMS",
    ] {
        ensure!(
            listing.lines().any(|l| l == format!("{name}/{want}")),
            "the tarball lacks {want}: {listing}"
        );
    }
    output(
        Command::new("sha256sum")
            .args(["-c", "SHA256SUMS"])
            .current_dir(dist),
    )?;
    output(
        Command::new("tar")
            .arg("-xzf")
            .arg(dist.join(format!("{name}.tar.gz")))
            .arg("-C")
            .arg(&scratch),
    )?;
    let unpacked = scratch.join(&name);
    output(
        Command::new("sha256sum")
            .args(["-c", "SHA256SUMS"])
            .current_dir(&unpacked),
    )?;
    let binary = unpacked.join("regpeek");
    // The size target: a download, not a toolchain.
    let size = std::fs::metadata(&binary)?.len();
    ensure!(
        size <= MAX_BINARY,
        "the binary is {size} bytes, over the {MAX_BINARY} (8 MiB) target: see Cargo.toml's [profile.release]"
    );
    let ldd = Command::new("ldd").arg(&binary).output()?;
    let said =
        String::from_utf8_lossy(&ldd.stdout).to_string() + &String::from_utf8_lossy(&ldd.stderr);
    ensure!(
        said.contains("not a dynamic executable") || said.contains("statically linked"),
        "ldd {}: {said}",
        binary.display()
    );
    println!("xtask: dist: the tarball lists its files, its sums check, and the binary is static");

    let lab = regpeek_lab::Lab::start()?;
    let image = format!("{}/lab/rich:v1", lab.info.plain());
    let want = lab.seeded.rich.manifest.digest.clone();
    // An empty root holding only the binary and a CA file.
    let root = scratch.join("chroot");
    std::fs::create_dir_all(root.join("etc/ssl/certs"))?;
    std::fs::create_dir_all(root.join("tmp"))?;
    std::fs::copy(&binary, root.join("regpeek"))?;
    std::fs::copy(
        super::image::CA_BUNDLE,
        root.join("etc/ssl/certs/ca-certificates.crt"),
    )?;
    let digest = output(&mut in_chroot(
        &root,
        "/regpeek",
        &["--no-cache", "digest", "--plain-http", &image],
    ))?;
    ensure!(
        digest.trim() == want,
        "from the chroot: {digest} (want {want})"
    );
    let inspected: Value = serde_json::from_str(&output(&mut in_chroot(
        &root,
        "/regpeek",
        &["--no-cache", "inspect", "--plain-http", &image],
    ))?)?;
    ensure!(inspected["Digest"] == want.as_str(), "{inspected}");
    println!("xtask: dist: the binary answers inspect from an empty chroot");

    // The package: installed into a throwaway root, its page found, removed whole.
    let deb = dist.join(format!("regpeek_{version}_amd64.deb"));
    let pkg_root = scratch.join("pkgroot");
    std::fs::create_dir_all(pkg_root.join("var/lib/dpkg/updates"))?;
    std::fs::create_dir_all(pkg_root.join("var/lib/dpkg/info"))?;
    std::fs::write(pkg_root.join("var/lib/dpkg/status"), "")?;
    let dpkg = |args: &[&str]| -> Result<String> {
        output(
            Command::new("dpkg")
                .arg(format!("--root={}", pkg_root.display()))
                .args(["--force-not-root", "--force-script-chrootless"])
                .args(args),
        )
    };
    dpkg(&["-i", deb.to_str().context("a path")?])?;
    let listed = dpkg(&["-L", "regpeek"])?;
    for want in [
        "/usr/bin/regpeek",
        "/usr/share/man/man1/regpeek.1.gz",
        "/usr/share/bash-completion/completions/regpeek",
        "/usr/share/zsh/vendor-completions/_regpeek",
        "/usr/share/fish/vendor_completions.d/regpeek.fish",
    ] {
        ensure!(
            listed.lines().any(|l| l == want),
            "the package lacks {want}: {listed}"
        );
        ensure!(pkg_root.join(&want[1..]).exists(), "{want} not installed");
    }
    let page = output(
        Command::new("man")
            .arg("-M")
            .arg(pkg_root.join("usr/share/man"))
            .args(["-w", "regpeek"]),
    )?;
    ensure!(page.contains("regpeek.1"), "man -M: {page}");
    let control = output(Command::new("dpkg-deb").arg("-f").arg(&deb).arg("Depends"))?;
    ensure!(
        control.trim().is_empty(),
        "the package depends on {control}"
    );
    dpkg(&["--remove", "regpeek"])?;
    for left in ["usr/bin/regpeek", "usr/share/man/man1/regpeek.1.gz"] {
        ensure!(!pkg_root.join(left).exists(), "{left} left after removal");
    }
    println!("xtask: dist: the package installs, its man page is found, and it removes whole");

    // The scratch image: inspected by regpeek, unpacked by umoci, run from its rootfs.
    let layout = format!("oci:{}:{version}", dist.join("oci").display());
    let summary: Value = serde_json::from_str(&output(Command::new(&binary).args([
        "--no-cache",
        "inspect",
        &layout,
    ]))?)?;
    ensure!(
        summary["Entrypoint"] == serde_json::json!(["/usr/bin/regpeek"]),
        "{summary}"
    );
    let bundle = scratch.join("bundle");
    output(
        Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:{version}", dist.join("oci").display()))
            .arg(&bundle),
    )?;
    let rootfs = bundle.join("rootfs");
    std::fs::create_dir_all(rootfs.join("tmp"))?;
    let from_image = output(&mut in_chroot(
        &rootfs,
        "/usr/bin/regpeek",
        &["--no-cache", "digest", "--plain-http", &image],
    ))?;
    ensure!(
        from_image.trim() == want,
        "from the image's rootfs: {from_image}"
    );
    println!("xtask: dist: the scratch image is inspected, unpacked by umoci, and runs");

    sbom_lists_the_linked_crates(dist, version)?;
    drop(lab);
    std::fs::remove_dir_all(&scratch)?;
    Ok(())
}

/// The SBOM's components: each a crate of `Cargo.lock`, the runtime ones there, and no
/// crate only tests, benchmarks or build scripts use.
fn sbom_lists_the_linked_crates(dist: &Path, version: &str) -> Result<()> {
    let bom: Value = serde_json::from_str(&std::fs::read_to_string(
        dist.join(format!("regpeek-{version}.cdx.json")),
    )?)?;
    ensure!(bom["bomFormat"] == "CycloneDX" && bom["specVersion"] == "1.5");
    let lock = std::fs::read_to_string(crate::project_root().join("Cargo.lock"))?;
    let names: Vec<&str> = bom["components"]
        .as_array()
        .context("components")?
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    for n in &names {
        ensure!(
            lock.contains(&format!("name = \"{n}\"")),
            "{n} is not in Cargo.lock"
        );
    }
    for linked in [
        "rustls",
        "ureq",
        "rusqlite",
        "serde_json",
        "regpeek-proto",
        "clap",
    ] {
        ensure!(names.contains(&linked), "the SBOM lacks {linked}");
    }
    for not_linked in ["insta", "regpeek-lab", "cc", "serde_derive", "xtask"] {
        if names.contains(&not_linked) {
            bail!("the SBOM lists {not_linked}, which the binary does not link");
        }
    }
    println!(
        "xtask: dist: the SBOM lists {} linked crates, no dev or build one",
        names.len()
    );
    let pairs: Vec<String> = bom["components"]
        .as_array()
        .context("components")?
        .iter()
        .map(|c| {
            format!(
                "{}@{}",
                c["name"].as_str().unwrap_or("?"),
                c["version"].as_str().unwrap_or("?")
            )
        })
        .collect();
    sbom_read_by_regpeek(dist, version, pairs)
}

/// The SBOM attached to the scratch image, read by regpeek's own reader (`regpeek
/// sbom oci:…`, through the referrers tag schema): the same crates and versions
/// (`want`, each `name@version`) as the file.
fn sbom_read_by_regpeek(dist: &Path, version: &str, mut want: Vec<String>) -> Result<()> {
    let layout = dist.join("oci");
    let image = format!("oci:{}:{version}", layout.display());
    let binary = dist.join("context/regpeek");
    let text = output(
        Command::new(&binary)
            .args(["--no-cache", "sbom", &image, "-o", "json"])
            .env("HOME", dist),
    )?;
    let mut read: Vec<String> = Vec::new();
    for line in text.lines() {
        let row: Value = serde_json::from_str(line).context("a line of `regpeek sbom`")?;
        let name = row["Name"].as_str().context("a package without a name")?;
        read.push(format!("{name}@{}", row["Version"].as_str().unwrap_or("?")));
    }
    want.sort();
    read.sort();
    ensure!(
        read == want,
        "regpeek sbom read {} packages from the image's referrer, the file lists {}",
        read.len(),
        want.len()
    );
    println!(
        "xtask: dist: regpeek sbom reads the image's SBOM referrer: the same {} crates",
        read.len()
    );
    Ok(())
}

/// `program` run with `args` inside `root`, with an empty environment but `HOME`.
fn in_chroot(root: &Path, program: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(CHROOT);
    cmd.arg(root)
        .arg(program)
        .args(args)
        .env_clear()
        .env("HOME", "/tmp");
    cmd
}

/// A fresh directory under `dist`.
fn tempdir(dist: &Path, name: &str) -> Result<std::path::PathBuf> {
    let dir = dist.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
