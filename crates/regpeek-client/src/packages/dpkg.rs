//! The text databases: dpkg's `status` (and distroless `status.d/` files), apk's
//! `installed`, and Python's `METADATA`: records of `Field: value` (dpkg,
//! Python) or `K:value` (apk) lines, records apart by a blank line.

use std::collections::BTreeMap;

use super::{MAX_PACKAGES, Package, lines};

/// dpkg's `status` format (deb-control(5) stanzas). In `status` itself a package
/// is listed unless its `Status` says `not-installed` (as `dpkg-query -W` lists
/// them); a distroless `status.d/` file has no `Status`, and lists what it holds.
pub(super) fn status(
    file: &mut impl std::io::Read,
    has_status: bool,
) -> Result<Vec<Package>, String> {
    let mut out = Vec::new();
    let mut fields: BTreeMap<&'static str, String> = BTreeMap::new();
    let end = |fields: &mut BTreeMap<&'static str, String>, out: &mut Vec<Package>| {
        let f = std::mem::take(fields);
        let Some(name) = f.get("Package").filter(|n| !n.is_empty()) else {
            return Ok(());
        };
        let state = f.get("Status").and_then(|s| s.split_whitespace().nth(2));
        if has_status && matches!(state, None | Some("not-installed")) {
            return Ok(());
        }
        if out.len() >= MAX_PACKAGES {
            return Err(format!("more than {MAX_PACKAGES} packages"));
        }
        let source = f
            .get("Source")
            .and_then(|s| s.split_whitespace().next())
            .filter(|s| *s != name)
            .map(str::to_owned);
        out.push(Package {
            kind: "deb".into(),
            name: name.clone(),
            version: f.get("Version").cloned().unwrap_or_default(),
            arch: f.get("Architecture").cloned(),
            source,
        });
        Ok(())
    };
    lines(file, |line| {
        if line.trim().is_empty() {
            return end(&mut fields, &mut out);
        }
        if line.starts_with([' ', '\t']) {
            return Ok(());
        }
        if let Some((k, v)) = line.split_once(':') {
            let key = match k {
                "Package" => "Package",
                "Status" => "Status",
                "Version" => "Version",
                "Architecture" => "Architecture",
                "Source" => "Source",
                _ => return Ok(()),
            };
            fields.insert(key, v.trim().to_owned());
        }
        Ok(())
    })?;
    end(&mut fields, &mut out)?;
    Ok(out)
}

/// apk's `installed`: `P:` name, `V:` version, `A:` arch, `o:` origin.
pub(super) fn apk(file: &mut impl std::io::Read) -> Result<Vec<Package>, String> {
    let mut out = Vec::new();
    let mut p = Package {
        kind: "apk".into(),
        name: String::new(),
        version: String::new(),
        arch: None,
        source: None,
    };
    let end = |p: &mut Package, out: &mut Vec<Package>| {
        let done = std::mem::replace(
            p,
            Package {
                kind: "apk".into(),
                name: String::new(),
                version: String::new(),
                arch: None,
                source: None,
            },
        );
        if done.name.is_empty() {
            return Ok(());
        }
        if out.len() >= MAX_PACKAGES {
            return Err(format!("more than {MAX_PACKAGES} packages"));
        }
        out.push(Package {
            source: done.source.clone().filter(|s| *s != done.name),
            ..done
        });
        Ok(())
    };
    lines(file, |line| {
        if line.trim().is_empty() {
            return end(&mut p, &mut out);
        }
        match line.split_once(':') {
            Some(("P", v)) => p.name = v.to_owned(),
            Some(("V", v)) => p.version = v.to_owned(),
            Some(("A", v)) => p.arch = Some(v.to_owned()),
            Some(("o", v)) => p.source = Some(v.to_owned()),
            _ => {}
        }
        Ok(())
    })?;
    end(&mut p, &mut out)?;
    Ok(out)
}

/// Python's core metadata (`METADATA`, `PKG-INFO`): `Name` and `Version` of the
/// header block; reading stops once both are known or the headers end.
pub(super) fn python(file: &mut impl std::io::Read) -> Result<Vec<Package>, String> {
    let (mut name, mut version) = (None, None);
    let mut done = false;
    let r = lines(file, |line| {
        if done {
            return Err(String::new());
        }
        if line.trim().is_empty() {
            done = true;
            return Ok(());
        }
        match line.split_once(':') {
            Some(("Name", v)) => name = Some(v.trim().to_owned()),
            Some(("Version", v)) => version = Some(v.trim().to_owned()),
            _ => {}
        }
        if name.is_some() && version.is_some() {
            done = true;
        }
        Ok(())
    });
    // Stopped early on purpose: not an error.
    if let Err(e) = r
        && !e.is_empty()
    {
        return Err(e);
    }
    Ok(match (name, version) {
        (Some(name), Some(version)) => vec![Package {
            kind: "pypi".into(),
            name,
            version,
            arch: None,
            source: None,
        }],
        _ => vec![],
    })
}
