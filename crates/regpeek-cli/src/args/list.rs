//! The flags of `tags` and `catalog`: what to list, in which order, how much, and
//! for `tags` what each tag points at.

use clap::Args;

use super::OutputFormat;

#[derive(Debug, Args)]
pub struct ListArgs {
    /// At most this many entries (after --filter and --sort, when given).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
    /// Ask the registry for pages of this size (`n=`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub page_size: Option<u32>,
    /// Print JSON instead of one entry per line: for tags `{"Repository": …, "Tags": […]}`
    /// (as `skopeo list-tags`), for a catalog `{"Registry": …, "Repositories": […]}`.
    #[arg(long, conflicts_with = "output")]
    pub json: bool,
    /// Output format: one entry per line (default), or `table` (with a header).
    #[arg(short, long, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
    /// Order: as the registry sent them (default), `lexical`, or `semver` (versions by
    /// their numbers, `v` prefix allowed, pre-releases first; other names after, lexically).
    #[arg(long, value_name = "ORDER", default_value = "registry")]
    pub sort: SortOrder,
    /// Reverse the order (with `--sort created` or `pushed`: newest first).
    #[arg(short = 'r', long)]
    pub reverse: bool,
    /// Keep only entries matching this regular expression (Rust regex syntax).
    #[arg(long, value_name = "REGEX")]
    pub filter: Option<String>,
    /// Leave out the `sha256-<hex>` tags that hold signatures and other referrers on
    /// registries without the referrers API (tags only).
    #[arg(long)]
    pub omit_digest_tags: bool,
    /// Print whole references (`registry/repo:tag`, or `registry/repo` for a
    /// catalog), as crane's `--full-ref`.
    #[arg(long)]
    pub full_ref: bool,
}

/// How `tags` and `catalog` order their entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SortOrder {
    /// As the registry sent them.
    Registry,
    /// Byte order.
    Lexical,
    /// By version numbers.
    Semver,
    /// By the image's `created` date, oldest first (tags; reads each distinct image's
    /// config once, by digest).
    Created,
    /// By when the registry says the tag was pushed, oldest first (tags; where the
    /// registry says it: tags it does not date come last).
    Pushed,
}

/// What `tags` learns beyond the names: one `HEAD` a tag, and each distinct image
/// read once, by digest (cached for good).
#[derive(Debug, Args)]
pub struct TagArgs {
    /// One row per tag: `Tag`, `Digest`, `MediaType`, `Platforms`, `Size` (compressed,
    /// of this machine's or `--platform`'s image; every platform's with `--platform
    /// all`), `Created`, `Pushed`. JSON lines, or `-o table`.
    #[arg(short, long)]
    pub long: bool,
    /// Only the tags that point at DIGEST: theirs is DIGEST, or their index holds it
    /// as a platform's manifest. Exit 1 when none does (as `git tag --points-at`).
    #[arg(long, value_name = "DIGEST")]
    pub points_at: Option<String>,
    /// How many tags (then distinct images) to ask about at once. `HEAD`s are cheap:
    /// over HTTP/1.1 the wall time is round trips divided by this [default: 32 over
    /// HTTP/1.1, 64 streams over HTTP/2].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub jobs: Option<u32>,
}
