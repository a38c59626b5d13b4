//! Live tests: the `regpeek` binary against a real CNCF distribution registry
//! (`docker-registry`) that this test binary starts on 127.0.0.1 and seeds with the lab's
//! images. Nothing here reaches beyond loopback. If the registry cannot start, every
//! test fails saying why.

use serde_json::{Value, json};
use std::process::{Command, Output};

mod actionable;
mod analysis;
mod analysis_hostile;
mod answers;
mod auth_modes;
mod base_flags;
mod basics;
mod batches;
mod cache;
mod cache_scale;
mod cat_messages;
mod conventions;
mod files;
mod habits;
mod hostile;
mod http2;
mod inventory;
mod local;
mod ls_flags;
mod matrix;
mod outdated_answers;
mod pin;
mod pin_platforms;
mod pulls;
mod recordings;
mod registries;
mod strangers;
mod support;
mod trust;
mod tty;
mod unpacked;

use support::*;
