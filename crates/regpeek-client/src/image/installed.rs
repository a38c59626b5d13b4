//! The packages an image has installed, from the package databases its layers carry
//! ([`crate::packages`]), read top-down: an operating system's database in an upper
//! layer hides the lower ones' (the overlay rules: the top-most entry of a path wins,
//! whiteouts and opaque directories hide what lies below), so the walk stops at the
//! first layer that holds one. Distroless' `status.d/` files and language manifests
//! (Python, Node, Go executables) can be in any layer: with them every layer is read.

use std::collections::BTreeSet;

use anyhow::{Result, bail};
use regpeek_layer::Kind;

use super::Image;
use crate::packages::{Database, Package, STATUS_D, database};

/// A package, and where the image holds its record.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    /// The package.
    pub package: Package,
    /// The database file that lists it (no leading `/`).
    pub file: String,
    /// The layer that holds that file (0 is the base).
    pub layer: usize,
}

/// What [`Image::installed`] found.
#[derive(Debug, Clone, Default)]
pub struct Installed {
    /// The packages, operating system's first, each database's in its order.
    pub packages: Vec<Listed>,
    /// The distribution's `ID` and `VERSION_ID`, when an `os-release` was among the
    /// layers read.
    pub os: Option<(String, String)>,
    /// The layers read (or taken from the cache), top first.
    pub layers_read: Vec<usize>,
    /// Language manifests that could not be read (their packages are left out).
    pub problems: Vec<String>,
}

impl Image<'_> {
    /// The packages the image has installed: the operating system's (dpkg, apk,
    /// rpm), reading layers top-down only until one holds its database; with
    /// `languages`, also Python and Node packages, from every layer.
    pub fn installed(&self, languages: bool) -> Result<Installed> {
        let readable = self.readable_layers();
        // Every layer is needed: read together, and used as read (the run's index
        // may not hold them all).
        let all = if languages {
            Some(self.entries_of(&readable)?)
        } else {
            None
        };
        let mut walk = Walk::default();
        let mut found = Installed::default();
        for (k, &i) in readable.iter().enumerate().rev() {
            let contents = match &all {
                Some(all) => all[k].clone(),
                None => self.entries(i)?,
            };
            found.layers_read.push(i);
            for (path, read) in &contents.databases {
                // Only executables with Go's build info are kept by their bytes.
                let db = database(path).unwrap_or(Database::GoBinary);
                if walk.hidden(path) {
                    continue;
                }
                let wanted = db.is_os() || db == Database::DpkgStatusD || languages;
                if db == Database::OsRelease {
                    if found.os.is_none()
                        && let Ok(p) = read
                        && let Some(p) = p.first()
                    {
                        found.os = Some((p.name.clone(), p.version.clone()));
                    }
                    continue;
                }
                if !wanted {
                    continue;
                }
                let packages = match read {
                    Ok(p) => p,
                    Err(why) if db.is_os() => bail!("layer {i}: {why}"),
                    // A broken manifest costs its packages, said, not the answer.
                    Err(why) => {
                        found.problems.push(format!("layer {i}: {why}"));
                        continue;
                    }
                };
                if db.is_os() {
                    walk.os_found = true;
                }
                if db == Database::DpkgStatusD {
                    walk.status_d = true;
                }
                found.packages.extend(packages.iter().map(|p| Listed {
                    package: p.clone(),
                    file: path.clone(),
                    layer: i,
                }));
            }
            // An empty `status.d/` still says: distroless, its files in any layer.
            if contents
                .iter()
                .any(|e| e.path == STATUS_D && e.kind == Kind::Dir)
            {
                walk.status_d = true;
            }
            walk.lay(&contents);
            if walk.os_found && !walk.status_d && !languages {
                break;
            }
        }
        found.packages.sort_by_key(|l| {
            !database(&l.file).is_some_and(|d| d.is_os() || d == Database::DpkgStatusD)
        });
        Ok(found)
    }
}

/// What the layers above hide of the ones below.
#[derive(Default)]
struct Walk {
    /// Paths an upper layer has an entry for: the top-most wins.
    taken: BTreeSet<String>,
    /// Paths whose lower contents are hidden: whiteouts, opaque directories,
    /// and what an upper layer made a non-directory.
    masked: BTreeSet<String>,
    os_found: bool,
    status_d: bool,
}

impl Walk {
    /// Whether the lower layers' `path` is hidden by the layers already walked.
    fn hidden(&self, path: &str) -> bool {
        if self.taken.contains(path) {
            return true;
        }
        let mut at = path;
        loop {
            if self.masked.contains(at) {
                return true;
            }
            match at.rsplit_once('/') {
                Some((up, _)) => at = up,
                None => return false,
            }
        }
    }

    /// Lays a layer on: its entries hide what lies below them.
    fn lay(&mut self, contents: &crate::contents::Contents) {
        let mut masks = Vec::new();
        for e in contents.iter() {
            match regpeek_layer::whiteout(&e.path) {
                Some((gone, _)) => masks.push(gone),
                None => {
                    self.taken.insert(e.path.clone());
                    if e.kind != Kind::Dir {
                        masks.push(e.path.clone());
                    }
                }
            }
        }
        self.masked.extend(masks);
    }
}
