//! The command line as clap parses it (the low layer); `main.rs` validates it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Inspect container images in remote registries without pulling them.
#[derive(Debug, Parser)]
#[command(name = "regpeek", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show an image's digest, platforms, layers, env, labels, entrypoint … as JSON.
    Inspect {
        /// Image reference, e.g. `nginx`, `ghcr.io/org/app:v1`, `localhost:5000/x@sha256:…`.
        reference: String,
        #[command(flatten)]
        common: Common,
    },
    /// Print the manifest exactly as the registry serves it.
    Manifest {
        /// Image reference.
        reference: String,
        #[command(flatten)]
        common: Common,
    },
    /// Print the image config blob exactly as stored.
    Config {
        /// Image reference.
        reference: String,
        #[command(flatten)]
        common: Common,
    },
    /// Print the digest the reference resolves to (with --platform: that platform's
    /// manifest digest).
    Digest {
        /// Image reference.
        reference: String,
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
        common: Common,
    },
    /// List the repositories of a registry (`/v2/_catalog`); Docker Hub has none.
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
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Stop after this many entries.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Ask the registry for pages of this size (`n=`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub page_size: Option<u32>,
    /// Print JSON (`{"Repository": …, "Tags": […]}`, as `skopeo list-tags`) instead of one
    /// entry per line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct Common {
    /// Platform to pick from a multi-platform image: os/arch[/variant] (default: this
    /// machine's, on linux).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Credentials for the registry.
    #[arg(long, value_name = "USER:PASSWORD")]
    pub creds: Option<String>,
    /// Speak plain http to the registry (loopback registries fall back to it anyway).
    #[arg(long)]
    pub plain_http: bool,
    /// Trust this PEM CA bundle instead of the system's roots.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Trace HTTP on stderr (secrets redacted).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}
