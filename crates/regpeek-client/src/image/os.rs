//! Which distribution an image is: its `os-release` (`/etc`, then `/usr/lib`, links
//! followed), else an older release file, else BusyBox; read top-down, only as far as
//! the layer that holds the answer.

use std::collections::BTreeMap;
use std::io::Read;

use anyhow::Result;
use serde::Serialize;

use super::Image;

/// What an image says of its distribution (skopeo has no such answer; the field names
/// follow os-release).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Os {
    /// `ID` (`debian`, `alpine`, `scratch`…).
    #[serde(rename = "ID")]
    pub id: Option<String>,
    /// `VERSION_ID`.
    #[serde(rename = "VersionID")]
    pub version_id: Option<String>,
    /// `PRETTY_NAME`.
    pub pretty_name: Option<String>,
    /// The file the answer came from.
    pub release_file: Option<String>,
    /// Why there is no answer, when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Image<'_> {
    /// The image's distribution and version.
    pub fn os(&self) -> Result<Os> {
        if self.layers().is_empty() {
            return Ok(Os {
                id: Some("scratch".into()),
                version_id: None,
                pretty_name: Some("scratch (no layers)".into()),
                release_file: None,
                note: None,
            });
        }
        // A file's text; `None` when the image has no regular file there.
        let text = |path: &str| -> Result<Option<String>> {
            match self.find(path)?.file {
                Some(mut f) => {
                    let mut s = String::new();
                    Read::by_ref(&mut f.bytes)
                        .take(64 << 10)
                        .read_to_string(&mut s)
                        .ok();
                    Ok(Some(s))
                }
                None => Ok(None),
            }
        };
        for path in ["etc/os-release", "usr/lib/os-release"] {
            if let Some(body) = text(path)? {
                let vars = os_release(&body);
                return Ok(Os {
                    id: vars.get("ID").cloned(),
                    version_id: vars.get("VERSION_ID").cloned(),
                    pretty_name: vars.get("PRETTY_NAME").cloned(),
                    release_file: Some(format!("/{path}")),
                    note: None,
                });
            }
        }
        for (path, id, name) in [
            ("etc/alpine-release", "alpine", "Alpine Linux"),
            ("etc/debian_version", "debian", "Debian GNU/Linux"),
            ("etc/redhat-release", "rhel", ""),
        ] {
            if let Some(body) = text(path)? {
                let version = body.trim().to_owned();
                let pretty = if name.is_empty() {
                    version.clone()
                } else {
                    format!("{name} {version}")
                };
                return Ok(Os {
                    id: Some(id.into()),
                    version_id: Some(version),
                    pretty_name: Some(pretty),
                    release_file: Some(format!("/{path}")),
                    note: None,
                });
            }
        }
        if text("bin/busybox")?.is_some() {
            return Ok(Os {
                id: Some("busybox".into()),
                version_id: None,
                pretty_name: Some("BusyBox".into()),
                release_file: Some("/bin/busybox".into()),
                note: None,
            });
        }
        Ok(Os {
            id: None,
            version_id: None,
            pretty_name: None,
            release_file: None,
            note: Some(
                "no os-release or release file: scratch-like (a static binary, perhaps)".into(),
            ),
        })
    }
}

/// `KEY=value` lines of an os-release file, quotes removed.
pub(crate) fn os_release(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            (k.trim().to_owned(), v.replace("\\\"", "\""))
        })
        .collect()
}
