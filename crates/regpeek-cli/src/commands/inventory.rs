//! `tags --long`, `tags --points-at` and `tags --sort created|pushed`: a repository's
//! tags with what each points at ([`crate::pipeline::inventory`]).

use std::cmp::Ordering;
use std::io::Write;

use anyhow::Result;
use regpeek_proto::{Digest, Reference};

use crate::args::{Common, ListArgs, OutputFormat, SortOrder, TagArgs};
use crate::errors::usage;
use crate::output::human_size;
use crate::pipeline::inventory::{self, SizeOf, TagRow};
use crate::session::Session;

/// `tags --long`'s `HEAD`s at once over HTTP/1.1 (each a connection): cheap enough
/// that more pay, unlike a batch's whole inspections.
const LONG_HTTP1_JOBS: usize = 32;

/// What `tags` was asked: its listing, what each tag points at, sizes unpacked.
pub struct Asked<'a> {
    pub list: &'a ListArgs,
    pub inventory: &'a TagArgs,
    pub sizes: crate::args::SizeArgs,
}

/// Whether `tags` needs more than the names.
pub fn wanted(list: &ListArgs, inventory: &TagArgs) -> bool {
    inventory.long
        || inventory.points_at.is_some()
        || matches!(list.sort, SortOrder::Created | SortOrder::Pushed)
}

/// What `tags` answers for `names` (the listing, filtered and ordered by name; cut to
/// `--limit` already unless a date orders it) of repository `r`: a row a tag, in the
/// order to print, those `--points-at` keeps (and those that failed, with `Error`).
pub fn answer(
    session: &Session,
    r: &Reference,
    names: Vec<String>,
    details: &[regpeek_proto::TagDetail],
    asked: &Asked,
    common: &Common,
) -> Result<Vec<TagRow>> {
    let (list, inventory) = (asked.list, asked.inventory);
    let wanted_digest = inventory
        .points_at
        .as_deref()
        .map(|d| Digest::parse(d).map_err(|e| usage(format!("--points-at: {e}"))))
        .transpose()?;
    let sized = if common.platform.as_deref() == Some("all") {
        SizeOf::All(crate::flags::host_platform())
    } else {
        SizeOf::One(crate::flags::platform(common)?)
    };
    if !inventory.long && common.platform.is_some() && list.sort != SortOrder::Created {
        return Err(usage(PLATFORM_ALONE));
    }
    let jobs = session.jobs(inventory.jobs).over_http1(LONG_HTTP1_JOBS);
    let name = r.name();
    let heads =
        crate::pipeline::listed::heads_of(session, common, &name, &names, details, jobs.clone())?;
    let (names, heads): (Vec<String>, Vec<_>) = match &wanted_digest {
        // A tag whose `HEAD` failed stays, to be reported: it may point there.
        Some(wanted) => {
            let hit = inventory::points_at(session, common, &name, &heads, wanted, jobs.clone())?;
            names
                .into_iter()
                .zip(heads)
                .zip(hit)
                .filter(|((_, h), hit)| *hit || h.is_err())
                .map(|(pair, _)| pair)
                .unzip()
        }
        None => (names, heads),
    };
    let dated = matches!(list.sort, SortOrder::Created | SortOrder::Pushed);
    let mut rows = if inventory.long || dated {
        let wanted = inventory::Wanted {
            sized,
            unpacked: asked.sizes.uncompressed.then_some(asked.sizes.exact),
            jobs: jobs.clone(),
        };
        inventory::rows(session, common, &name, &names, heads, &wanted)?
    } else {
        names
            .iter()
            .zip(heads)
            .map(|(tag, h)| TagRow::of(tag, h))
            .collect()
    };
    if dated {
        order_by_date(session, &mut rows, list.sort, list.reverse);
        if let Some(limit) = list.limit {
            rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        }
    }
    Ok(rows)
}

/// Why `--platform` is refused without `--long` or `--sort created`.
pub const PLATFORM_ALONE: &str = "--platform picks whose size and date `tags --long` (or `--sort created`) shows; without them it changes nothing";

/// A tag as printed: `registry/repo:tag` with `--full-ref`.
pub fn shown_tag(list: &ListArgs, r: &Reference, tag: &str) -> String {
    if list.full_ref {
        format!("{}:{tag}", r.name())
    } else {
        tag.to_owned()
    }
}

/// Orders rows by `created` or `pushed`, oldest first (newest with `reverse`); rows
/// without a date come last either way, in the order they had.
fn order_by_date(session: &Session, rows: &mut [TagRow], sort: SortOrder, reverse: bool) {
    let date = |row: &TagRow| -> Option<jiff::Timestamp> {
        let text = match sort {
            SortOrder::Pushed => row.pushed.as_deref(),
            _ => row.created.as_deref(),
        };
        text?.parse().ok()
    };
    if sort == SortOrder::Pushed && rows.iter().all(|r| r.pushed.is_none()) {
        session.warn_once(
            "this registry does not say when tags were pushed (Docker Hub, GCR, Artifact Registry and Quay do); the order is the registry's",
        );
    }
    rows.sort_by(|a, b| match (date(a), date(b)) {
        (Some(x), Some(y)) if reverse => y.cmp(&x),
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    });
}

/// `tags --long`: one JSON line a tag (through `--jq`), or `-o table`.
pub fn print_rows(
    session: &Session,
    out: &mut impl Write,
    rows: &[TagRow],
    list: &ListArgs,
    r: &Reference,
) -> Result<()> {
    if list.output == Some(OutputFormat::Table) {
        session.out.refuse_table_with_jq()?;
        let failed = rows.iter().any(|row| row.error.is_some());
        let unpacked = rows.iter().any(|row| row.uncompressed_exact.is_some());
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|row| {
                let dash = || "-".to_owned();
                let mut cells = vec![
                    shown_tag(list, r, &row.tag),
                    row.digest.clone().unwrap_or_else(dash),
                    row.platforms.as_ref().map_or_else(dash, |p| p.join(",")),
                    row.size.map_or_else(dash, human_size),
                    row.created.clone().unwrap_or_else(dash),
                    row.pushed.clone().unwrap_or_else(dash),
                ];
                if unpacked {
                    let size = row.uncompressed_size.map_or_else(dash, human_size);
                    cells.insert(4, size);
                }
                if failed {
                    cells.push(row.error.clone().unwrap_or_default());
                }
                cells
            })
            .collect();
        let mut header = vec!["TAG", "DIGEST", "PLATFORMS", "SIZE", "CREATED", "PUSHED"];
        if unpacked {
            header.insert(4, "UNPACKED");
        }
        if failed {
            header.push("ERROR");
        }
        return crate::output::print_columns(out, &header, &cells);
    }
    for row in rows {
        let mut row = row.clone();
        row.tag = shown_tag(list, r, &row.tag);
        session.out.line(out, &row)?;
    }
    Ok(())
}
