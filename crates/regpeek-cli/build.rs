//! Records what regpeek is built from, for `regpeek --version` and `regpeek version`:
//! the commit, whether the tree had changes, and the compiler.

fn git(args: &[&str]) -> Option<String> {
    std::process::Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"])
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    // Changes to tracked files (what a build from this tree would differ by).
    let dirty = match git(&["status", "--porcelain", "--untracked-files=no"]) {
        Some(s) if !s.is_empty() => "true",
        Some(_) => "false",
        None => "unknown",
    };
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let rustc = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=REGPEEK_COMMIT={commit}");
    println!("cargo:rustc-env=REGPEEK_DIRTY={dirty}");
    println!("cargo:rustc-env=REGPEEK_RUSTC={rustc}");
    for path in ["../../.git/HEAD", "../../.git/index", "../../.git/refs"] {
        println!("cargo:rerun-if-changed={path}");
    }
}
