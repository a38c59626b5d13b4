//! The command line as clap parses it (the low layer); `main.rs` validates it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod analysis;
mod auth;
mod common;
mod list;

pub use analysis::{DiffArgs, GateArgs, PackageFormat, PackagesArgs};
pub use auth::{AuthArgs, LoginArgs, LogoutArgs};
pub use common::{Common, HttpVersion, SizeArgs};
pub use list::{ListArgs, SortOrder, TagArgs};

/// The version and the commit it was built from (see build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("REGPEEK_COMMIT"),
    ")"
);

/// The TLS stack every connection uses (a macro: `concat!` takes literals).
macro_rules! tls_backend {
    () => {
        "rustls (ring), platform verifier"
    };
}

/// The TLS stack every connection uses.
pub const TLS_BACKEND: &str = tls_backend!();

/// What `--version` prints: the version, the commit and whether the tree it was built
/// from had changes, the compiler, the TLS stack.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\ncommit: ",
    env!("REGPEEK_COMMIT"),
    "\ndirty: ",
    env!("REGPEEK_DIRTY"),
    "\nrustc: ",
    env!("REGPEEK_RUSTC"),
    "\ntls: ",
    tls_backend!()
);

/// Inspect container images in remote registries without pulling them.
#[derive(Debug, Parser)]
#[command(name = "regpeek", version = VERSION, long_version = LONG_VERSION, max_term_width = 100)]
pub struct Cli {
    /// Also write what the command exchanged with the registry, scrubbed of passwords
    /// and tokens, to DIR/exchanges.http: attach it to a bug report, or run it back
    /// offline with `regpeek replay DIR`. The run starts cold (the cache is neither
    /// read nor written), so the recording holds every exchange.
    #[arg(long, global = true, value_name = "DIR")]
    pub record: Option<PathBuf>,
    /// With --record: replace the recording DIR already holds.
    #[arg(long, global = true, requires = "record")]
    pub force: bool,
    /// Filter JSON output through a jq expression (jaq): `--jq .Digest` prints the bare
    /// digest, as `jq -r` would.
    #[arg(long, global = true, value_name = "EXPR")]
    pub jq: Option<String>,
    /// Where the cache across runs lives (default `$XDG_CACHE_HOME/regpeek`, else
    /// `~/.cache/regpeek`).
    #[arg(long, global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Neither read nor write the cache.
    #[arg(long, global = true, conflicts_with = "offline")]
    pub no_cache: bool,
    /// Send no request: answer from the cache only, and say what is missing.
    #[arg(long, global = true)]
    pub offline: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show an image's digest, platforms, layers, env, labels, entrypoint … as JSON.
    Inspect {
        /// Image references, e.g. `nginx`, `ghcr.io/org/app:v1`,
        /// `localhost:5000/x@sha256:…` (skopeo's `docker://` prefix is accepted). More
        /// than one (or --file, --from) gives one JSON object per line, in input order.
        #[arg(value_name = "REFERENCE")]
        references: Vec<String>,
        #[command(flatten)]
        batch: BatchArgs,
        /// Print the manifest exactly as served instead (as `skopeo inspect --raw`).
        #[arg(long, conflicts_with = "config")]
        raw: bool,
        /// Print the image config blob exactly as stored instead (as `skopeo inspect
        /// --config`).
        #[arg(long)]
        config: bool,
        /// Accepted for skopeo command lines; regpeek never lists tags to inspect.
        #[arg(long)]
        no_tags: bool,
        /// Output format: `json`, or `table` (field and value, one per line).
        #[arg(short, long, value_name = "FORMAT", default_value = "json")]
        output: OutputFormat,
        #[command(flatten)]
        sizes: SizeArgs,
        #[command(flatten)]
        common: Common,
    },
    /// One row per platform of an image: platform, manifest digest, compressed size,
    /// layers, created, attestation (the same as `inspect --platform all`).
    Platforms {
        /// Image references (more than one, or --file, --from: JSON lines, one per
        /// reference, each with its `Platforms` rows).
        #[arg(value_name = "REFERENCE")]
        references: Vec<String>,
        #[command(flatten)]
        batch: BatchArgs,
        /// Output format (`table`: one reference only).
        #[arg(short, long, value_name = "FORMAT", default_value = "json")]
        output: OutputFormat,
        #[command(flatten)]
        sizes: SizeArgs,
        #[command(flatten)]
        common: Common,
    },
    /// The image's history, newest first, as `docker history` shows it: each step of
    /// the config's history with its instruction, matched to the layer it made
    /// (digest, compressed size); steps that made no layer are marked. From the
    /// manifest and config alone: no layer is read.
    History {
        /// Image references (more than one, or --file, --from: JSON lines, one per
        /// reference, each with its `History` rows).
        #[arg(value_name = "REFERENCE")]
        references: Vec<String>,
        #[command(flatten)]
        batch: BatchArgs,
        /// Output format (`table`: one reference only).
        #[arg(short, long, value_name = "FORMAT", default_value = "json")]
        output: OutputFormat,
        #[command(flatten)]
        sizes: SizeArgs,
        #[command(flatten)]
        common: Common,
    },
    /// Write one blob of an image's repository (a layer, a config) to stdout, its bytes
    /// verified against the digest before any is written (as `crane blob`).
    Blob {
        /// The image (its repository holds the blob), or `REPO@DIGEST` (crane's form)
        /// without DIGEST.
        #[arg(value_name = "IMAGE")]
        image: String,
        /// The blob's digest.
        #[arg(value_name = "DIGEST")]
        digest: Option<String>,
        /// Write the bytes to FILE (atomically: a temporary file renamed), or `-` for
        /// standard output even on a terminal.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Write one file of an image to stdout, exactly, without pulling the image: layers
    /// are read from the top down to the one that holds (or deletes) the path, each
    /// verified before anything of it is written; links are followed inside the image.
    Cat {
        /// The image, then the file's path in it. Several images (or `--file`,
        /// `--from`) print one JSON line each, with the file as `Text` (UTF-8) or
        /// `Base64`, its `Size` and `Digest`.
        #[arg(value_name = "IMAGE… PATH", required = true)]
        args: Vec<String>,
        /// Write the file to FILE (atomically: a temporary file renamed), or `-` for
        /// standard output even on a terminal (one image).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        batch: BatchArgs,
        #[command(flatten)]
        common: Common,
    },
    /// List an image's files as a container sees them (whiteouts and opaque
    /// directories applied), with mode, owner, size, mtime and the layer each comes
    /// from; or one layer's own entries with `--layer`.
    #[command(disable_help_flag = true)]
    Ls {
        /// The image, then optionally a PATH (it starts with `/`) to list only it and
        /// what lies below it. Several images (or `--file`, `--from`) lead each row
        /// with its `Reference`.
        #[arg(value_name = "IMAGE… [PATH]")]
        args: Vec<String>,
        /// One layer's own entries, whiteouts included: its index (0 is the base) or
        /// digest.
        #[arg(long, value_name = "N|DIGEST")]
        layer: Option<String>,
        /// Output format: JSON lines, or `table` (`ls -l`; one image; the default on
        /// a terminal).
        #[arg(short, long, value_name = "FORMAT")]
        output: Option<OutputFormat>,
        /// List the entry PATH names itself, not what lies below it.
        #[arg(short = 'd', long)]
        directory: bool,
        /// How many levels below PATH (or the root) to list: 1 is its own entries.
        #[arg(long, value_name = "N")]
        depth: Option<usize>,
        /// Sizes as `ls -h` prints them (4.0K, 12M) in the table.
        #[arg(short = 'h', long)]
        human_readable: bool,
        /// Print help (`-h` is --human-readable, as in `ls`).
        #[arg(long, action = clap::ArgAction::Help)]
        help: Option<bool>,
        #[command(flatten)]
        batch: BatchArgs,
        #[command(flatten)]
        common: Common,
    },
    /// Installed packages: from the image's SBOM (unless `--scan`), else from its
    /// package databases (dpkg, distroless `status.d`, apk, rpm), reading layers
    /// top-down only until one holds the database (docs/analysis.md §3).
    Packages {
        #[arg(value_name = "IMAGE")]
        images: Vec<String>,
        #[command(flatten)]
        asked: PackagesArgs,
        #[command(flatten)]
        batch: BatchArgs,
        #[command(flatten)]
        common: Common,
    },
    /// Wasted space as dive computes it, from the registry: per layer and dive's
    /// efficiency score, wasted bytes and user wasted percent (docs/analysis.md §2),
    /// with dive's CI gates: exit 1 when one fails (flags, `.dive-ci`, defaults).
    Waste {
        #[arg(value_name = "IMAGE")]
        images: Vec<String>,
        #[command(flatten)]
        gates: GateArgs,
        /// Output format: JSON lines, or `table` (the summary and the 20 most wasted
        /// paths; the default on a terminal).
        #[arg(short, long, value_name = "FORMAT")]
        output: Option<OutputFormat>,
        #[command(flatten)]
        batch: BatchArgs,
        #[command(flatten)]
        common: Common,
    },
    /// The distribution and version of each image, from its `os-release` (or its
    /// release files, busybox), read out of its layers without pulling them.
    Os {
        #[arg(value_name = "IMAGE")]
        images: Vec<String>,
        /// Output format: JSON lines, or `table` (the default on a terminal).
        #[arg(short, long, value_name = "FORMAT")]
        output: Option<OutputFormat>,
        #[command(flatten)]
        batch: BatchArgs,
        #[command(flatten)]
        common: Common,
    },
    /// The packages each image's SBOM lists (name, version, purl, licence), read from
    /// its BuildKit attestations (SPDX, CycloneDX) and the SBOMs attached to it as
    /// referrers, without pulling its layers.
    Sbom {
        #[arg(value_name = "IMAGE")]
        images: Vec<String>,
        #[command(flatten)]
        batch: BatchArgs,
        /// The documents themselves, one JSON line each.
        #[arg(long)]
        raw: bool,
        /// Output format: JSON lines (default), or `table`.
        #[arg(short, long, value_name = "FORMAT")]
        output: Option<OutputFormat>,
        #[command(flatten)]
        common: Common,
    },
    /// How each image was built, from its SLSA provenance attestation (v0.2 or v1):
    /// builder, source repository, commit, build arguments and materials.
    Provenance {
        #[arg(value_name = "IMAGE")]
        images: Vec<String>,
        #[command(flatten)]
        batch: BatchArgs,
        /// The documents themselves, one JSON line each.
        #[arg(long)]
        raw: bool,
        /// Output format: JSON lines (default), or `table`.
        #[arg(short, long, value_name = "FORMAT")]
        output: Option<OutputFormat>,
        #[command(flatten)]
        common: Common,
    },
    /// List what refers to an image: signatures, SBOMs and other OCI 1.1 referrers (the
    /// referrers API, else the `sha256-<hex>` tag schema), and BuildKit attestations
    /// with their in-toto predicate types.
    Referrers {
        /// Image reference.
        reference: String,
        /// Keep only referrers of this artifact type (e.g. `application/spdx+json`).
        #[arg(long, value_name = "TYPE")]
        artifact_type: Option<String>,
        /// Output format.
        #[arg(short, long, value_name = "FORMAT", default_value = "json")]
        output: OutputFormat,
        #[command(flatten)]
        common: Common,
    },
    /// Compare two images: platforms, env, labels, entrypoint, cmd, user, ports,
    /// volumes, layers, size, created; or their files (`--files`) or packages
    /// (`--packages`). Exit 0 when equal, 1 when they differ, 2 on error (as `diff`).
    Diff {
        /// The first image.
        a: String,
        /// The second image.
        b: String,
        #[command(flatten)]
        files: DiffArgs,
        #[command(flatten)]
        common: Common,
    },
    /// Print the manifest exactly as the registry serves it.
    Manifest {
        /// Image references (more than one: JSON lines).
        #[arg(value_name = "REFERENCE")]
        references: Vec<String>,
        #[command(flatten)]
        batch: BatchArgs,
        #[command(flatten)]
        common: Common,
    },
    /// Print the image config blob exactly as stored.
    Config {
        /// Image references (more than one: JSON lines).
        #[arg(value_name = "REFERENCE")]
        references: Vec<String>,
        #[command(flatten)]
        batch: BatchArgs,
        #[command(flatten)]
        common: Common,
    },
    /// Print the digest the reference resolves to (with --platform: that platform's
    /// manifest digest).
    Digest {
        /// Image references (more than one: JSON lines).
        #[arg(value_name = "REFERENCE")]
        references: Vec<String>,
        /// Print `name:tag@digest`, ready to pin (the tag kept, as `pin` writes it).
        #[arg(long)]
        full_ref: bool,
        /// With --full-ref: `name@digest`, without the tag (as `crane digest --full-ref`).
        #[arg(long, requires = "full_ref")]
        omit_tag: bool,
        #[command(flatten)]
        batch: BatchArgs,
        #[command(flatten)]
        common: Common,
    },
    /// Pin image references to digests, in place: Dockerfiles (`FROM`, the `ARG`
    /// default a `FROM` names, `COPY --from`), compose files, Kubernetes manifests,
    /// GitHub Actions workflows and reference lists. Only the references change; every
    /// other byte stays. Digests are learnt with `HEAD`, which Docker Hub does not count
    /// as a pull.
    Pin {
        /// Files to pin (all resolved before any is written).
        #[arg(value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
        /// The kind of every FILE, instead of telling it from its name and content.
        #[arg(long, value_enum)]
        kind: Option<crate::inputs::places::FileKind>,
        /// Write nothing; print the diff pin would apply, and exit 1 when a reference
        /// is unpinned, its pin stale, or its digest unknown (for CI).
        #[arg(long, conflicts_with = "diff")]
        check: bool,
        /// Print the diff pin would apply; write nothing.
        #[arg(long)]
        diff: bool,
        /// Rewrite pins whose tag has moved (without it they are only reported).
        #[arg(long)]
        update: bool,
        /// How many tags to resolve at once on each registry.
        #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
        jobs: u32,
        #[command(flatten)]
        common: Common,
    },
    /// Newer tags for each tagged reference, on its track (the same variant and
    /// precision): the newest patch, minor and major, from the repository's tag list;
    /// for a pinned reference, whether its tag has moved. Files (Dockerfiles, compose
    /// files, Kubernetes manifests, workflows, lists) are read for their references.
    Outdated {
        /// Files to read references from, or references.
        #[arg(value_name = "FILE|REF")]
        targets: Vec<String>,
        /// Exit 1 when anything is outdated (a newer tag, or a moved pin).
        #[arg(long)]
        exit_code: bool,
        /// Output format: JSON lines (default), or `table`.
        #[arg(short, long, value_name = "FORMAT")]
        output: Option<OutputFormat>,
        #[command(flatten)]
        batch: BatchArgs,
        #[command(flatten)]
        common: Common,
    },
    /// Whether each image was built on a base that has since moved, as its
    /// `org.opencontainers.image.base.name` and `.base.digest` annotations say. Exit
    /// 0: up to date; 1: a rebuild is due; 2: it could not be told.
    Base {
        /// Image references.
        #[arg(value_name = "REFERENCE")]
        references: Vec<String>,
        /// The base, for images that do not say theirs (as regctl's `check-base
        /// --base/--digest`): with `@DIGEST`, what they were built on; without, an
        /// image is on its base as it is when the base's layers are its first layers.
        #[arg(long, value_name = "IMAGE[@DIGEST]")]
        base: Option<String>,
        /// Output format: JSON lines, or `table` (the default on a terminal).
        #[arg(short, long, value_name = "FORMAT")]
        output: Option<OutputFormat>,
        #[command(flatten)]
        batch: BatchArgs,
        #[command(flatten)]
        common: Common,
    },
    /// What a registry says of its pull limit (Docker Hub: pulls allowed and left),
    /// asked with a `HEAD`, which costs no pull. Without a reference, Docker Hub's own
    /// check image (`ratelimitpreview/test`).
    Ratelimit {
        /// Image references to ask about (default: Docker Hub's check image).
        #[arg(value_name = "REFERENCE")]
        references: Vec<String>,
        #[command(flatten)]
        batch: BatchArgs,
        #[command(flatten)]
        common: Common,
    },
    /// Whether image references exist: exit 0 when every one resolves, 1 when any does
    /// not (404, `MANIFEST_UNKNOWN`, `NAME_UNKNOWN`), 2 for anything else (auth,
    /// network, usage). `HEAD` only, which Docker Hub does not count as a pull. Prints
    /// nothing for one reference; for several, one line per missing one; with `-v`, a
    /// line for each.
    Exists {
        /// Image references.
        #[arg(value_name = "REFERENCE")]
        references: Vec<String>,
        #[command(flatten)]
        batch: BatchArgs,
        #[command(flatten)]
        common: Common,
    },
    /// List a repository's tags, following pagination.
    Tags {
        /// Repository, e.g. `nginx`, `ghcr.io/org/app` (a tag or digest is ignored).
        repository: String,
        #[command(flatten)]
        list: ListArgs,
        #[command(flatten)]
        inventory: TagArgs,
        #[command(flatten)]
        sizes: SizeArgs,
        #[command(flatten)]
        common: Common,
    },
    /// List the repositories of a registry (`/v2/_catalog`), one per line, or with
    /// --json as `{"Registry": …, "Repositories": […]}`; Docker Hub has none.
    Catalog {
        /// Registry host, e.g. `localhost:5000`.
        #[arg(default_value = "docker.io")]
        registry: String,
        #[command(flatten)]
        list: ListArgs,
        #[command(flatten)]
        common: Common,
    },
    /// Show how a reference is normalised and which registry it hits (no network).
    Ref {
        /// Image reference.
        reference: String,
        #[command(flatten)]
        common: Common,
    },
    /// Run a recording made with --record back, offline, and print what the command
    /// printed then.
    #[command(
        help_template = "{about-with-newline}\n{usage-heading} regpeek replay <DIR>\n\nArguments:\n{positionals}\n"
    )]
    Replay {
        /// The directory given to --record.
        dir: PathBuf,
    },
    /// The tags a shell offers for a reference being typed (`REPO:PREFIX`), one
    /// `REPO:TAG` a line: the cache's, then the registry's within 2 s (not with
    /// `REGPEEK_COMPLETE_OFFLINE=1`). What the completion scripts call.
    #[command(name = "__complete", hide = true)]
    Complete {
        /// The word being completed (a flag being typed too: it completes to nothing).
        #[arg(allow_hyphen_values = true)]
        word: String,
    },
    /// Write the man pages (regpeek.1 and one per command) into DIR; used by
    /// `cargo xtask man`.
    #[command(hide = true)]
    Man {
        /// Where to write them.
        dir: PathBuf,
    },
    /// The version, the commit and whether its tree had changes, the compiler and the
    /// TLS stack (`-o json` as JSON).
    Version {
        /// `text` or `json`.
        #[arg(short, long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
        output: String,
    },
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// The cache across runs: what it holds, emptying it, pruning it.
    Cache {
        #[command(subcommand)]
        command: CacheCommand,
    },
    /// Credentials: where regpeek finds them.
    Auth {
        #[command(subcommand)]
        command: AuthCommand,
    },
    /// Check credentials against a registry, then store them where docker would.
    Login {
        /// Registry host, e.g. `ghcr.io`, `localhost:5000` (default Docker Hub).
        #[arg(default_value = "docker.io")]
        registry: String,
        #[command(flatten)]
        args: LoginArgs,
    },
    /// Remove stored credentials for a registry.
    Logout {
        /// Registry host (default Docker Hub).
        #[arg(default_value = "docker.io")]
        registry: String,
        #[command(flatten)]
        args: LogoutArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Where the cache is and what it holds (never a token).
    Info,
    /// Remove everything in it.
    Clear,
    /// Remove what was not used for a while, then the least recently used content
    /// until the cache fits (regpeek also prunes to 500MB by itself, once a day).
    Prune {
        /// The size to fit in: `100MB`, `1GiB`, `500K`; a bare number is MiB.
        #[arg(long, value_name = "SIZE", default_value = "500MB", value_parser = common::parse_size)]
        max_size: u64,
        /// Also remove what was not used for this long: `30d`, `12h`, `2w`.
        #[arg(long, value_name = "AGE", value_parser = common::parse_age)]
        older_than: Option<std::time::Duration>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Say which credentials would be used for a registry and where they come from
    /// (never the secret).
    Show {
        /// Registry host or image reference.
        registry: String,
        #[command(flatten)]
        args: AuthArgs,
    },
}

/// Many references in one call.
#[derive(Debug, Args, Clone)]
pub struct BatchArgs {
    /// Read references from FILE, one a line (`-` for stdin; `#` starts a comment).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Read the image references out of a compose file (`services.*.image`, variables
    /// interpolated from the environment and `.env` as compose does), Kubernetes
    /// manifests (every container's `image`) or a Dockerfile (`FROM`, `COPY --from`,
    /// `RUN --mount=from=`, with `ARG` defaults in BuildKit's scope); `-` for stdin.
    #[arg(long, value_name = "PATH")]
    pub from: Option<PathBuf>,
    /// References at once per registry (each has workers of its own, so a slow one
    /// holds up only its own). Default: 64 on a registry speaking HTTP/2, else 8.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub jobs: Option<u32>,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// JSON (pretty on a terminal, one line when piped).
    Json,
    /// Aligned columns for people.
    Table,
}
