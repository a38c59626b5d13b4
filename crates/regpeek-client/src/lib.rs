#![deny(missing_docs)]
//! regpeek's client layer: blocking, no command line, no stdout.
//!
//! Between the sans-IO core (`regpeek-proto`) and a front end: what a run knows of
//! each registry ([`registries`]), the batch engine ([`batch`]), the user's
//! credentials ([`creds`]), TLS conventions ([`tls`]), Docker Hub mirrors
//! ([`mirrors`]), the cache across runs ([`cache`]), and the image model ([`image`]):
//! one merged file system view of an image's layers, read without pulling it, that
//! `ls`, `cat` and `os` all answer from. A program of one's own starts at
//! [`client::Client`]:
//!
//! ```no_run
//! use regpeek_client::client::{Client, Settings};
//! use regpeek_proto::Reference;
//!
//! let client = Client::new(Settings::default());
//! // Three images at once (a lane per registry), answered in order.
//! let refs: Vec<Reference> = ["nginx:1.27", "alpine:3.20", "ghcr.io/org/app:v1"]
//!     .iter()
//!     .map(|r| Reference::parse(r))
//!     .collect::<Result<_, _>>()?;
//! client.inspect_all(&refs, |i, image| {
//!     match image {
//!         Ok(image) => println!("{} {}", refs[i], image.digest),
//!         Err(e) => println!("{}: {e:#}", refs[i]),
//!     }
//!     Ok(())
//! })?;
//! // One file of an image, its layers read top-down, nothing pulled.
//! let mut file = client.image(&refs[1])?.file("/etc/os-release")?.bytes;
//! std::io::copy(&mut file, &mut std::io::stdout())?;
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod batch;
pub mod bounded;
pub mod cache;
pub mod client;
pub mod contents;
pub mod creds;
pub mod estargz;
pub mod image;
pub mod layers;
pub mod mirrors;
pub mod names;
pub mod packages;
pub mod proxies;
pub mod pulls;
pub mod registries;
pub mod source;
pub mod tls;
pub mod unpacked;
pub mod waste;

/// The network for one registry: HTTP/2 where a TLS server offers it (one connection
/// per host carrying every request, [`regpeek_h2::H2Client`], over the run's
/// connections, so that registries redirecting to one CDN share it), HTTP/1.1 where
/// it does not or `http` says so ([`regpeek_ureq::Client`], without a runtime).
pub fn network(
    options: &regpeek_ureq::ClientOptions,
    http: regpeek_h2::H2Options,
    registries: &registries::Registries,
) -> anyhow::Result<std::sync::Arc<dyn regpeek_ureq::Transport>> {
    Ok(match http.http {
        regpeek_h2::Http::Http1 if !http.prior_knowledge => {
            std::sync::Arc::new(regpeek_ureq::Client::new(options)?)
        }
        _ => std::sync::Arc::new(regpeek_h2::H2Client::sharing(
            options,
            http,
            registries.connections()?,
        )?),
    })
}
