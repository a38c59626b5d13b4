//! `cargo xtask dist`: the release artifacts, in `target/dist/`.
//!
//! - `regpeek-VERSION-x86_64-linux.tar.gz`: a static binary (glibc, `crt-static`: the
//!   toolchain here has no musl target), the man pages, completions for bash, zsh and
//!   fish, README and licences, and a `SHA256SUMS` of them;
//! - `regpeek_VERSION_amd64.deb`, built with `dpkg-deb` alone;
//! - `regpeek-VERSION.cdx.json`: a CycloneDX SBOM of every crate the binary links
//!   ([`sbom`]);
//! - `oci/`: the `FROM scratch` image of `Containerfile` (the binary and a CA bundle),
//!   written as an OCI layout by the lab's image writer ([`image`]);
//! - `SHA256SUMS` of the tarball, the package and the SBOM, for `sha256sum -c`.
//!
//! `cargo xtask dist --check` then proves them ([`check`]): what the tarball lists, the
//! sums, a static binary, the binary running `inspect` against the lab from an empty
//! chroot, the package installed into and removed from a throwaway root, and the image
//! inspected by regpeek and unpacked by umoci.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

pub mod check;
mod image;
pub mod publish;
mod sbom;

/// The target the static binary is built for.
const TARGET: &str = "x86_64-unknown-linux-gnu";

/// Where the artifacts go.
pub fn dist_dir() -> PathBuf {
    crate::project_root().join("target/dist")
}

/// The workspace's version (every published crate shares it).
pub fn version() -> Result<String> {
    let out = crate::cargo()
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .context("cargo metadata")?;
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    meta["packages"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "regpeek-cli"))
        .and_then(|p| p["version"].as_str())
        .map(str::to_owned)
        .context("no regpeek-cli in cargo metadata")
}

/// `cargo xtask dist [--check]`.
pub fn dist(args: &[String]) -> Result<()> {
    let check = match args {
        [] => false,
        [a] if a == "--check" => true,
        _ => bail!("usage: cargo xtask dist [--check]"),
    };
    let version = version()?;
    let out = dist_dir();
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)?;
    let binary = build_static()?;
    let name = format!("regpeek-{version}-x86_64-linux");
    let stage = out.join(&name);
    std::fs::create_dir_all(stage.join("man"))?;
    std::fs::create_dir_all(stage.join("completions"))?;
    std::fs::copy(&binary, stage.join("regpeek"))?;
    crate::run(Command::new(&binary).arg("man").arg(stage.join("man")))?;
    for (shell, file) in [
        ("bash", "regpeek.bash"),
        ("zsh", "_regpeek"),
        ("fish", "regpeek.fish"),
    ] {
        let script = output(Command::new(&binary).args(["completions", shell]))?;
        std::fs::write(stage.join("completions").join(file), script)?;
    }
    for doc in ["README.md", "LICENSE-MIT", "LICENSE-APACHE"] {
        std::fs::copy(crate::project_root().join(doc), stage.join(doc))?;
    }
    let files = files_under(&stage)?;
    let mut sums = output(Command::new("sha256sum").args(&files).current_dir(&stage))?;
    std::fs::write(stage.join("SHA256SUMS"), &sums)?;
    let tarball = format!("{name}.tar.gz");
    crate::run(
        Command::new("tar")
            .args(["--owner=0", "--group=0", "--numeric-owner", "--sort=name"])
            .args(["--mtime=@0", "-czf", &tarball, &name])
            .current_dir(&out),
    )?;
    let deb = deb(&stage, &out, &version)?;
    let bom = format!("regpeek-{version}.cdx.json");
    let document = sbom::cyclonedx(&version)?;
    std::fs::write(out.join(&bom), &document)?;
    image::write(&binary, &out.join("oci"), &version, document.as_bytes())?;
    sums = output(
        Command::new("sha256sum")
            .args([&tarball, &deb, &bom])
            .current_dir(&out),
    )?;
    std::fs::write(out.join("SHA256SUMS"), sums)?;
    std::fs::remove_dir_all(&stage)?;
    let size = std::fs::metadata(&binary)?.len();
    println!(
        "xtask: dist in {}: {tarball}, {deb}, {bom}, oci/, SHA256SUMS; the binary is {:.1} MiB",
        out.display(),
        size as f64 / (1024.0 * 1024.0)
    );
    if check {
        check::all(&out, &version)?;
    }
    Ok(())
}

/// How the release binary is linked: statically (glibc's `crt-static`: `ldd` says it
/// is not a dynamic executable), at a fixed address (`relocation-model=static`: no
/// table of relocations for a loader that is not there; as Go's static binaries, such
/// as crane's and regctl's, are), identical functions folded once (lld's
/// `--icf=safe`, which keeps any whose address is taken).
pub const RUSTFLAGS: &str =
    "-C target-feature=+crt-static -C relocation-model=static -C link-arg=-Wl,--icf=safe";

/// The release binary (see [`RUSTFLAGS`]). Name lookups go through the resolver it
/// carries (files and DNS); NSS modules (LDAP, mDNS) are not loaded.
fn build_static() -> Result<PathBuf> {
    let mut cmd = crate::cargo();
    cmd.args(["build", "--release", "--locked", "-p", "regpeek-cli"])
        .args(["--target", TARGET])
        .env("RUSTFLAGS", RUSTFLAGS);
    crate::run(&mut cmd)?;
    Ok(crate::project_root().join(format!("target/{TARGET}/release/regpeek")))
}

/// The `.deb`: the binary in `/usr/bin`, man pages gzipped in `/usr/share/man/man1`,
/// completions where bash-completion, zsh and fish look, the licences in
/// `/usr/share/doc/regpeek`; no `Depends` (the binary is static).
fn deb(stage: &Path, out: &Path, version: &str) -> Result<String> {
    let root = out.join("deb-root");
    let _ = std::fs::remove_dir_all(&root);
    let dirs = [
        "DEBIAN",
        "usr/bin",
        "usr/share/man/man1",
        "usr/share/bash-completion/completions",
        "usr/share/zsh/vendor-completions",
        "usr/share/fish/vendor_completions.d",
        "usr/share/doc/regpeek",
    ];
    for d in dirs {
        std::fs::create_dir_all(root.join(d))?;
    }
    std::fs::copy(stage.join("regpeek"), root.join("usr/bin/regpeek"))?;
    for page in std::fs::read_dir(stage.join("man"))? {
        let page = page?.path();
        let name = page.file_name().context("a man page")?.to_owned();
        let target = root.join("usr/share/man/man1").join(&name);
        std::fs::copy(&page, &target)?;
        output(Command::new("gzip").args(["-9n"]).arg(&target))?;
    }
    let completions = [
        (
            "regpeek.bash",
            "usr/share/bash-completion/completions/regpeek",
        ),
        ("_regpeek", "usr/share/zsh/vendor-completions/_regpeek"),
        (
            "regpeek.fish",
            "usr/share/fish/vendor_completions.d/regpeek.fish",
        ),
    ];
    for (from, to) in completions {
        std::fs::copy(stage.join("completions").join(from), root.join(to))?;
    }
    let mut copyright = String::from(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: regpeek\n\nFiles: *\nCopyright: 2026 The regpeek developers\nLicense: MIT or Apache-2.0\n\n",
    );
    copyright.push_str(&std::fs::read_to_string(stage.join("LICENSE-MIT"))?);
    std::fs::write(root.join("usr/share/doc/regpeek/copyright"), copyright)?;
    let installed_kib = files_under(&root)?
        .iter()
        .filter_map(|f| std::fs::metadata(root.join(f)).ok())
        .map(|m| m.len())
        .sum::<u64>()
        .div_ceil(1024);
    let control = format!(
        "Package: regpeek\nVersion: {version}\nArchitecture: amd64\nMaintainer: The regpeek developers <regpeek@example.invalid>\nInstalled-Size: {installed_kib}\nSection: utils\nPriority: optional\nHomepage: https://example.invalid/regpeek\nDescription: inspect container images in remote registries without pulling them\n regpeek reads an image's digest, platforms, layers, config, files and SBOMs\n from a registry in a few HTTP round trips, with docker's and skopeo's\n credential files and TLS conventions. One static binary.\n"
    );
    std::fs::write(root.join("DEBIAN/control"), control)?;
    let name = format!("regpeek_{version}_amd64.deb");
    crate::run(
        Command::new("dpkg-deb")
            .args(["--root-owner-group", "-Zgzip", "--build"])
            .arg(&root)
            .arg(out.join(&name)),
    )?;
    std::fs::remove_dir_all(&root)?;
    Ok(name)
}

/// The files under `dir`, as paths relative to it, sorted.
fn files_under(dir: &Path) -> Result<Vec<String>> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
        for e in std::fs::read_dir(dir)? {
            let path = e?.path();
            if path.is_dir() {
                walk(base, &path, out)?;
            } else {
                out.push(path.strip_prefix(base)?.display().to_string());
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// What a command prints, or why it failed.
fn output(cmd: &mut Command) -> Result<String> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().with_context(|| format!("running {shown}"))?;
    if !out.status.success() {
        bail!(
            "{shown} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}
