//! `tags` and `catalog`: listings, followed across pages, filtered and sorted.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use regpeek_proto::{Goal, Listing, Outcome};

use crate::args::{self, Common, ListArgs, TagArgs};
use crate::errors::usage;
use crate::flags::{parse_reference, registry_target};
use crate::output;
use crate::session::Session;

/// `tags REPOSITORY`.
pub fn tags(
    session: &Session,
    repository: &str,
    asked: &super::inventory::Asked,
    common: &Common,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let (list, inventory) = (asked.list, asked.inventory);
    let bare = repository.strip_prefix("docker://").unwrap_or(repository);
    let last = bare.rsplit('/').next().unwrap_or(bare);
    if crate::local::path_of(bare).is_none() && (last.contains(':') || bare.contains('@')) {
        let name = parse_reference(repository).map_or_else(|_| repository.to_owned(), |r| r.name());
        return Err(usage(format!(
            "tags lists a repository's tags: give the repository without a tag or digest (`regpeek tags {name}`), as crane does"
        )));
    }
    let r = parse_reference(repository)?;
    let goal = Goal::Tags {
        limit: registry_limit(list),
        page_size: list.page_size,
    };
    let filter = list_filter(list)?;
    let mut listing = listing_of(session.run(&r, common, goal)?)?;
    if list.omit_digest_tags {
        listing.items.retain(|t| !is_digest_tag(t));
    }
    arrange(&mut listing, list, filter.as_ref());
    if asked.sizes.uncompressed && !inventory.long {
        return Err(usage(
            "--uncompressed adds a column to `tags --long`: give --long too",
        ));
    }
    if super::inventory::wanted(list, inventory) {
        let details = std::mem::take(&mut listing.details);
        let rows = super::inventory::answer(session, &r, listing.items, &details, asked, common)?;
        return print_inventory(session, out, &r, &rows, list, inventory);
    }
    if common.platform.is_some() {
        return Err(usage(super::inventory::PLATFORM_ALONE));
    }
    if list.full_ref {
        for tag in &mut listing.items {
            *tag = format!("{}:{tag}", r.name());
        }
    }
    let listed = (&listing.items[..], listing.complete);
    print_listing(session, out, "tags", &r.name(), list_format(list), listed)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints what [`super::inventory::answer`] found: rows with `--long`, else the
/// tags' names (failures on stderr). Exit 1 when a tag failed, or when none points
/// at `--points-at`'s digest.
fn print_inventory(
    session: &Session,
    out: &mut impl Write,
    r: &regpeek_proto::Reference,
    rows: &[crate::pipeline::inventory::TagRow],
    list: &ListArgs,
    inventory: &TagArgs,
) -> Result<ExitCode> {
    if inventory.long {
        super::inventory::print_rows(session, out, rows, list, r)?;
    } else {
        for row in rows {
            if let Some(e) = &row.error {
                let tag = output::safe_line(&row.tag);
                eprintln!("regpeek: error: {tag}: {}", output::safe_line(e));
            }
        }
        let tags: Vec<String> = rows
            .iter()
            .filter(|row| row.error.is_none())
            .map(|row| super::inventory::shown_tag(list, r, &row.tag))
            .collect();
        print_listing(
            session,
            out,
            "tags",
            &r.name(),
            list_format(list),
            (&tags, true),
        )?;
    }
    out.flush()?;
    let failed = rows.iter().any(|row| row.error.is_some());
    let none = inventory.points_at.is_some() && rows.iter().all(|row| row.error.is_some());
    Ok(if failed || none {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Every tag of the repository `r` names, across pages (for `outdated`).
pub fn tag_list(
    session: &Session,
    common: &Common,
    r: &regpeek_proto::Reference,
) -> Result<Vec<String>> {
    let goal = Goal::Tags {
        limit: None,
        page_size: None,
    };
    Ok(listing_of(session.run(r, common, goal)?)?.items)
}

/// `catalog REGISTRY`.
pub fn catalog(
    session: &Session,
    registry: &str,
    list: &ListArgs,
    common: &Common,
    out: &mut impl Write,
) -> Result<()> {
    if list.omit_digest_tags {
        return Err(usage(
            "--omit-digest-tags applies to tags; a catalog lists repositories",
        ));
    }
    if dated(list.sort) {
        return Err(usage(
            "--sort created and --sort pushed order tags by their images; a catalog lists repositories",
        ));
    }
    let goal = Goal::Catalog {
        limit: registry_limit(list),
        page_size: list.page_size,
    };
    let filter = list_filter(list)?;
    if regpeek_client::names::without_scheme(registry).contains('/') {
        return Err(usage(format!(
            "catalog lists a registry's repositories: give a registry host such as `localhost:5000`, not a repository ({registry:?}); `regpeek tags {registry}` lists its tags"
        )));
    }
    let target = registry_target(registry)?;
    let mut listing = listing_of(session.run(&target, common, goal)?)?;
    arrange(&mut listing, list, filter.as_ref());
    let name = target.registry().to_owned();
    if list.full_ref {
        for repo in &mut listing.items {
            *repo = format!("{name}/{repo}");
        }
    }
    let listed = (&listing.items[..], listing.complete);
    print_listing(session, out, "catalog", &name, list_format(list), listed)
}

/// How a listing is printed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ListFormat {
    Lines,
    Json,
    Table,
}

fn list_format(list: &args::ListArgs) -> ListFormat {
    match (list.json, list.output) {
        (true, _) | (_, Some(args::OutputFormat::Json)) => ListFormat::Json,
        (_, Some(args::OutputFormat::Table)) => ListFormat::Table,
        _ => ListFormat::Lines,
    }
}

/// `--filter`, compiled.
fn list_filter(list: &args::ListArgs) -> Result<Option<regex::Regex>> {
    list.filter
        .as_deref()
        .map(|f| {
            regex::Regex::new(f).map_err(|e| {
                // The parser's message draws the pattern over lines; its last says why.
                let text = e.to_string();
                let why = text.lines().rev().find(|l| !l.trim().is_empty());
                let why = why.unwrap_or_default().trim_start_matches("error: ");
                usage(format!(
                    "--filter {f:?} is not a valid regular expression: {why}"
                ))
            })
        })
        .transpose()
}

/// What to ask the registry for: `--limit` entries when they are the first the
/// registry sends; everything when `--filter` or `--sort` decide which come first
/// (the limit then applies to what they leave).
fn registry_limit(list: &ListArgs) -> Option<usize> {
    let arranged =
        list.filter.is_some() || list.sort != args::SortOrder::Registry || list.omit_digest_tags;
    list.limit
        .filter(|_| !arranged)
        .map(|l| usize::try_from(l).unwrap_or(usize::MAX))
}

/// Whether `sort` orders by a date the images or the registry say.
fn dated(sort: args::SortOrder) -> bool {
    matches!(sort, args::SortOrder::Created | args::SortOrder::Pushed)
}

/// The `sha256-<hex>` tags that hold referrers (signatures, SBOMs) on registries
/// without the referrers API, and cosign's `.sig`/`.att`/`.sbom` suffixes of them.
fn is_digest_tag(tag: &str) -> bool {
    let Some(rest) = tag.strip_prefix("sha256-") else {
        return false;
    };
    let hex = rest.split('.').next().unwrap_or_default();
    hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Filters, orders and cuts a listing as `--filter`, `--sort` and `--limit` ask, in
/// that order.
/// Ordered by a date, the limit waits for the dates.
fn arrange(listing: &mut regpeek_proto::Listing, list: &ListArgs, filter: Option<&regex::Regex>) {
    arrange_items(&mut listing.items, list.sort, filter);
    if list.reverse && !dated(list.sort) {
        listing.items.reverse();
    }
    if let Some(limit) = list.limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX))
        && listing.items.len() > limit
        && !dated(list.sort)
    {
        listing.items.truncate(limit);
        listing.complete = false;
    }
}

/// Filters and orders listing entries as `--filter` and `--sort` ask.
fn arrange_items(items: &mut Vec<String>, sort: args::SortOrder, filter: Option<&regex::Regex>) {
    if let Some(re) = filter {
        items.retain(|i| re.is_match(i));
    }
    match sort {
        // Dates are known later ([`super::inventory`]).
        args::SortOrder::Registry | args::SortOrder::Created | args::SortOrder::Pushed => {}
        args::SortOrder::Lexical => items.sort(),
        args::SortOrder::Semver => items.sort_by(|a, b| crate::versions::order(a, b)),
    }
}

/// The listing a tags or catalog flow ends with.
fn listing_of(outcome: Outcome) -> Result<Listing> {
    match outcome {
        Outcome::List(l) => Ok(l),
        other => anyhow::bail!("internal error: a listing flow ended with {other:?}"),
    }
}

/// Prints a tag or catalog listing: its entries, and whether they are all there.
fn print_listing(
    session: &Session,
    out: &mut impl Write,
    command: &str,
    name: &str,
    format: ListFormat,
    listing: (&[String], bool),
) -> Result<()> {
    let (items, complete) = listing;
    if format == ListFormat::Table {
        let header = if command == "catalog" {
            "REPOSITORY"
        } else {
            "TAG"
        };
        let rows: Vec<Vec<String>> = items.iter().map(|i| vec![i.clone()]).collect();
        output::print_columns(out, &[header], &rows)?;
    } else if format == ListFormat::Json || session.out.jq.is_some() {
        let value = if command == "catalog" {
            serde_json::json!({"Registry": name, "Repositories": items})
        } else {
            serde_json::json!({"Repository": name, "Tags": items})
        };
        session.out.json(out, &value)?;
    } else {
        for item in items {
            writeln!(out, "{}", output::safe_line(item))?;
        }
    }
    if !complete {
        eprintln!(
            "regpeek: stopped after --limit {}; the registry has more",
            items.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_order() {
        let mut tags: Vec<String> = [
            "latest",
            "1.10.0",
            "v1.2.10",
            "1.2.9",
            "1.0.0",
            "1.0.0-rc1",
            "2",
            "1.2",
            "alpine",
            "1.0.0-beta",
        ]
        .map(String::from)
        .to_vec();
        arrange_items(&mut tags, args::SortOrder::Semver, None);
        assert_eq!(
            tags,
            [
                "1.0.0-beta",
                "1.0.0-rc1",
                "1.0.0",
                "1.2",
                "1.2.9",
                "v1.2.10",
                "1.10.0",
                "2",
                "alpine",
                "latest"
            ]
        );
        // SemVer 2 pre-releases: numbers as numbers, words after numbers; build
        // metadata ignored.
        let mut pre: Vec<String> = [
            "1.0.0",
            "1.0.0-rc.10",
            "1.0.0-rc.2",
            "1.0.0-beta",
            "1.0.0-alpha.1",
            "1.0.0-alpha",
            "1.0.0-alpha.beta",
            "1.0.0-beta.11",
            "1.0.0-beta.2",
            "1.0.0+build.5",
        ]
        .map(String::from)
        .to_vec();
        arrange_items(&mut pre, args::SortOrder::Semver, None);
        assert_eq!(
            pre,
            [
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.2",
                "1.0.0-rc.10",
                "1.0.0",
                "1.0.0+build.5",
            ]
        );
        let re = regex::Regex::new(r"^1\.").unwrap();
        arrange_items(&mut tags, args::SortOrder::Lexical, Some(&re));
        assert_eq!(
            tags,
            ["1.0.0", "1.0.0-beta", "1.0.0-rc1", "1.10.0", "1.2", "1.2.9"]
        );
    }
}
