//! Installed packages, read from the package databases an image's layers carry (never
//! by running anything): dpkg's `status` and distroless `status.d/`, apk's
//! `installed`, rpm's `rpmdb.sqlite`, and language manifests (Python's
//! `*.dist-info/METADATA`, Node's `package.json` under `node_modules`, Go's build info
//! in executables). Which paths are
//! databases is `database`; what one lists is `parse`, bounded against hostile
//! input (lines, records and fields have caps; a database over its cap is an error).

mod dpkg;
pub(crate) mod golang;
mod rpm;

use std::io::BufRead;

use serde::{Deserialize, Serialize};

/// The most packages one database may list.
pub(crate) const MAX_PACKAGES: usize = 1_000_000;
/// The longest line a text database may hold.
pub(crate) const MAX_LINE: usize = 1 << 20;

/// What kind of database a path holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Database {
    /// dpkg's `var/lib/dpkg/status`.
    DpkgStatus,
    /// A file of distroless' `var/lib/dpkg/status.d/`: one package's stanza.
    DpkgStatusD,
    /// apk's `lib/apk/db/installed`.
    Apk,
    /// rpm's SQLite database.
    Rpm,
    /// A Python distribution's `METADATA` (or an egg's `PKG-INFO`).
    Python,
    /// A Node package's `package.json` under `node_modules`.
    Npm,
    /// `os-release`: the distribution, for the packages' purls.
    OsRelease,
    /// An executable with Go's build info ([`golang`]): found by its bytes, not its path.
    GoBinary,
}

impl Database {
    /// Whether it is an operating system's package database (as opposed to a
    /// language manifest, or `os-release`).
    pub(crate) fn is_os(self) -> bool {
        matches!(self, Database::DpkgStatus | Database::Apk | Database::Rpm)
    }
}

/// The paths of the operating systems' package databases, by kind.
pub(crate) const OS_DATABASES: [(&str, Database); 4] = [
    ("var/lib/dpkg/status", Database::DpkgStatus),
    ("lib/apk/db/installed", Database::Apk),
    ("var/lib/rpm/rpmdb.sqlite", Database::Rpm),
    ("usr/lib/sysimage/rpm/rpmdb.sqlite", Database::Rpm),
];

/// The directory of distroless' per-package dpkg files.
pub(crate) const STATUS_D: &str = "var/lib/dpkg/status.d";

/// What kind of database the (normalised) `path` is, if any.
pub(crate) fn database(path: &str) -> Option<Database> {
    if let Some((_, db)) = OS_DATABASES.iter().find(|(p, _)| *p == path) {
        return Some(*db);
    }
    if path == "etc/os-release" || path == "usr/lib/os-release" {
        return Some(Database::OsRelease);
    }
    if let Some(name) = path
        .strip_prefix(STATUS_D)
        .and_then(|r| r.strip_prefix('/'))
    {
        return (!name.contains('/') && !name.ends_with(".md5sums"))
            .then_some(Database::DpkgStatusD);
    }
    if path.ends_with(".dist-info/METADATA") || path.ends_with(".egg-info/PKG-INFO") {
        return Some(Database::Python);
    }
    let mut parts = path.rsplit('/');
    if parts.next() == Some("package.json") {
        let name = parts.next()?;
        let above = parts.next()?;
        let npm = above == "node_modules"
            || (above.starts_with('@')
                && !name.starts_with('@')
                && parts.next() == Some("node_modules"));
        return npm.then_some(Database::Npm);
    }
    None
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// `deb`, `apk`, `rpm`, `pypi`, `npm`, `golang`, or `os` (an `os-release`: `name` its
    /// `ID`, `version` its `VERSION_ID`).
    pub kind: String,
    /// The package's name.
    pub name: String,
    /// Its version as its database states it (rpm: `[epoch:]version-release`).
    pub version: String,
    /// Its architecture, where stated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// The source package it was built from, where stated (and not its own name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// What the database `db` at `path` lists.
pub(crate) fn parse(
    db: Database,
    path: &str,
    file: &mut impl std::io::Read,
) -> Result<Vec<Package>, String> {
    let within = |e: String| format!("/{path}: {e}");
    match db {
        Database::DpkgStatus | Database::DpkgStatusD => {
            dpkg::status(file, db == Database::DpkgStatus)
        }
        Database::Apk => dpkg::apk(file),
        Database::Rpm => rpm::sqlite(file),
        Database::Python => dpkg::python(file),
        Database::Npm => npm(file),
        Database::OsRelease => os_release(file),
        Database::GoBinary => {
            let mut bytes = Vec::new();
            file.take(golang::MAX_CAPTURE as u64)
                .read_to_end(&mut bytes)
                .map_err(|e| e.to_string())?;
            golang::parse(&bytes)
        }
    }
    .map_err(within)
}

/// Lines of a text database, each at most [`MAX_LINE`] bytes, invalid UTF-8 replaced.
pub(crate) fn lines(
    file: &mut impl std::io::Read,
    mut each: impl FnMut(&str) -> Result<(), String>,
) -> Result<(), String> {
    let mut reader = std::io::BufReader::new(file);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(());
        }
        if line.len() > MAX_LINE && line.last() != Some(&b'\n') {
            return Err(format!("a line longer than {MAX_LINE} bytes"));
        }
        let text = String::from_utf8_lossy(&line);
        each(text.trim_end_matches(['\n', '\r']))?;
    }
}

use std::io::Read as _;

/// A `package.json`: its `name` and `version` (a private package without them is
/// not listed).
fn npm(file: &mut impl std::io::Read) -> Result<Vec<Package>, String> {
    let mut bytes = Vec::new();
    file.take(16 << 20)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    Ok(match (field("name"), field("version")) {
        (Some(name), Some(version)) => vec![Package {
            kind: "npm".into(),
            name,
            version,
            arch: None,
            source: None,
        }],
        _ => vec![],
    })
}

/// `os-release`: `ID` and `VERSION_ID`.
fn os_release(file: &mut impl std::io::Read) -> Result<Vec<Package>, String> {
    let (mut id, mut version) = (None, String::new());
    lines(&mut file.take(1 << 20), |line| {
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim().trim_matches(['"', '\'']).to_owned();
            match k.trim() {
                "ID" => id = Some(v),
                "VERSION_ID" => version = v,
                _ => {}
            }
        }
        Ok(())
    })?;
    Ok(id
        .map(|name| Package {
            kind: "os".into(),
            name,
            version,
            arch: None,
            source: None,
        })
        .into_iter()
        .collect())
}

#[cfg(test)]
mod tests;
