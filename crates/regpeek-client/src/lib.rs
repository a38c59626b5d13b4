#![deny(missing_docs)]
//! regpeek's client layer: blocking, no command line, no stdout.
//!
//! Between the sans-IO core (`regpeek-proto`) and a front end: the user's
//! credentials ([`creds`]), TLS conventions ([`tls`]), Docker Hub mirrors
//! ([`mirrors`]), the cache across runs ([`cache`]), and the image model
//! ([`image`]): one merged file system view of an image's layers, read without
//! pulling it, that `ls`, `cat` and `os` all answer from.

pub mod batch;
pub mod bounded;
pub mod cache;
pub mod creds;
pub mod estargz;
pub mod image;
pub mod layers;
pub mod mirrors;
pub mod names;
pub mod registries;
pub mod source;
pub mod tls;
