//! `cache info | clear | prune`.

use std::io::Write;

use anyhow::{Result, bail};

use crate::args::CacheCommand;
use crate::output;
use crate::session::Session;

/// `cache …`.
pub fn cache(session: &Session, command: &CacheCommand, out: &mut impl Write) -> Result<()> {
    let Some(c) = &session.cache else {
        bail!("the cache is off (--no-cache)");
    };
    match command {
        CacheCommand::Info => session.out.json(out, &c.info())?,
        CacheCommand::Clear => {
            c.clear()?;
            writeln!(out, "Removed {}", c.dir().display())?;
        }
        CacheCommand::Prune {
            max_size,
            older_than,
        } => {
            let (n, bytes) = c.prune(*max_size, *older_than);
            writeln!(out, "Removed {n} entries ({})", output::human_size(bytes))?;
        }
    }
    Ok(())
}
