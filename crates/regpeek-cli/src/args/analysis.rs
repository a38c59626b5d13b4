//! The flags of `waste` (dive's CI gates), `packages` (its formats) and `diff`'s
//! content comparisons.

/// dive's CI gates, by dive's names: each a flag, else a `.dive-ci` file's rule, else
/// the default.
#[derive(clap::Args, Debug, Clone)]
pub struct GateArgs {
    /// Fail below this efficiency score (0 to 1, or `disabled`) [default: 0.9].
    #[arg(long, value_name = "RATIO")]
    pub lowest_efficiency: Option<String>,
    /// Fail above this many wasted bytes (`20MB`, `15MiB`, or `disabled`)
    /// [default: 20MB].
    #[arg(long, value_name = "SIZE")]
    pub highest_wasted_bytes: Option<String>,
    /// Fail above this ratio of wasted bytes to the bytes the user's layers add
    /// (0 to 1, or `disabled`) [default: 0.1].
    #[arg(long, value_name = "RATIO")]
    pub highest_user_wasted_percent: Option<String>,
    /// dive's CI file of gates [default: ./.dive-ci, when there is one].
    #[arg(long, value_name = "FILE")]
    pub ci_config: Option<std::path::PathBuf>,
}

/// What `packages` is asked.
#[derive(clap::Args, Debug, Clone)]
pub struct PackagesArgs {
    /// Also Python (`*.dist-info/METADATA`) and Node (`node_modules/*/package.json`)
    /// packages: every layer is read.
    #[arg(long)]
    pub languages: bool,
    /// Read the package databases even when an SBOM lists the packages.
    #[arg(long)]
    pub scan: bool,
    /// Output format: JSON lines (a package each), `table` (the default on a
    /// terminal), or a `cyclonedx` (1.5) or `spdx` (2.3) JSON document per image.
    #[arg(short, long, value_name = "FORMAT")]
    pub output: Option<PackageFormat>,
}

/// How `packages` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PackageFormat {
    /// JSON lines, a package each.
    Json,
    /// Aligned columns for people.
    Table,
    /// A CycloneDX 1.5 JSON document per image.
    Cyclonedx,
    /// An SPDX 2.3 JSON document per image.
    Spdx,
}

/// `diff --files` and `diff --packages`.
#[derive(clap::Args, Debug, Clone)]
pub struct DiffArgs {
    /// Compare the files: added, removed and changed (content, type, mode, owner,
    /// link target), reading only the layers the images do not share.
    #[arg(long, conflicts_with = "packages")]
    pub files: bool,
    /// Compare the installed packages: added, removed, and versions changed.
    #[arg(long)]
    pub packages: bool,
    /// With --files: only paths under PREFIX.
    #[arg(long, value_name = "PREFIX", requires = "files")]
    pub path: Option<String>,
    /// With --files: read the shared layers too when a path one image writes needs
    /// them, so that every change is added, removed or changed (not `written`).
    #[arg(long, requires = "files")]
    pub exact: bool,
}
