//! Platforms (`linux/arm64/v8`): parsing, containerd's normalisation and best-match
//! selection from an index (docs/protocol.md §6).

use crate::parse_error::ParseError;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A platform as it appears in an index entry or is asked for by a user.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture, Go `GOARCH` names (`amd64`, `arm64`).
    pub architecture: String,
    /// Operating system, Go `GOOS` names (`linux`, `windows`).
    pub os: String,
    /// CPU variant (`v7`, `v8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// OS version (Windows builds).
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// Required OS features.
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
}

const KNOWN_OS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "illumos",
    "ios",
    "js",
    "linux",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "wasip1",
    "windows",
    "macos",
];

impl Platform {
    /// A platform from its parts.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        Platform {
            architecture: architecture.to_owned(),
            os: os.to_owned(),
            variant: variant.filter(|v| !v.is_empty()).map(str::to_owned),
            os_version: None,
            os_features: Vec::new(),
        }
    }

    /// Parses `os[/arch[/variant]]`, or a lone `arch` (the OS is then `linux`), and
    /// normalises it. A lone OS takes `default_arch`.
    pub fn parse(input: &str, default_arch: &str) -> Result<Platform, ParseError> {
        let err = |reason: &str| ParseError::new("platform", input, reason);
        let parts: Vec<&str> = input.split('/').collect();
        if parts.len() > 3 {
            return Err(err("expected os[/arch[/variant]]"));
        }
        for p in &parts {
            if p.is_empty() {
                return Err(err("empty component"));
            }
            if !p
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
            {
                return Err(err("components may only hold A-Z a-z 0-9 _ . -"));
            }
        }
        let lower: Vec<String> = parts.iter().map(|p| p.to_ascii_lowercase()).collect();
        let p = match lower.as_slice() {
            [one] if KNOWN_OS.contains(&one.as_str()) => Platform::new(one, default_arch, None),
            [arch] => Platform::new("linux", arch, None),
            [os, arch] => Platform::new(os, arch, None),
            [os, arch, variant] => Platform::new(os, arch, Some(variant)),
            _ => unreachable!("1 to 3 parts"),
        };
        Ok(p.normalized())
    }

    /// Whether an image built for `image` answers a request for this platform, as
    /// containerd matches: both normalised (`arm` is `arm/v7`, `aarch64` is `arm64`),
    /// the same OS, and the image's architecture and variant this one's or one of its
    /// fallbacks (an `arm64` machine runs `arm/v7`); a variant left out on either side
    /// matches any.
    pub fn matches(&self, image: &Platform) -> bool {
        let image = image.normalized();
        self.fallbacks().iter().any(|f| {
            f.os == image.os
                && f.architecture == image.architecture
                && (f.variant.is_none() || image.variant.is_none() || f.variant == image.variant)
        })
    }

    /// Whether both name the same platform once normalised (`aarch64` is `arm64`,
    /// `arm` is `arm/v7`): the same OS, architecture, variant and OS version. Unlike
    /// [`Platform::matches`], no fallback: `arm64` is not `arm/v7`.
    pub fn same(&self, other: &Platform) -> bool {
        let (a, b) = (self.normalized(), other.normalized());
        a.os == b.os
            && a.architecture == b.architecture
            && a.variant == b.variant
            && a.os_version == b.os_version
    }

    /// containerd's normalisation: `x86_64`→`amd64`, `aarch64`→`arm64` (v8 implied),
    /// `armhf`→`arm/v7`, `arm` without variant → `v7`, `macos`→`darwin`, and so on.
    pub(crate) fn normalized(&self) -> Platform {
        let os = match self.os.to_ascii_lowercase().as_str() {
            "macos" => "darwin".to_owned(),
            o => o.to_owned(),
        };
        let arch = self.architecture.to_ascii_lowercase();
        let variant = self.variant.as_deref().map(str::to_ascii_lowercase);
        let (arch, variant): (&str, Option<String>) = match arch.as_str() {
            "i386" => ("386", None),
            "x86_64" | "x86-64" | "amd64" => ("amd64", variant.filter(|v| v != "v1")),
            "aarch64" | "arm64" => (
                "arm64",
                match variant.as_deref() {
                    Some("8" | "v8" | "v8.0") | None => None,
                    Some("9" | "9.0" | "v9.0") => Some("v9".to_owned()),
                    Some(_) => variant,
                },
            ),
            "armhf" => ("arm", Some("v7".to_owned())),
            "armel" => ("arm", Some("v6".to_owned())),
            "arm" => (
                "arm",
                match variant.as_deref() {
                    None | Some("" | "7") => Some("v7".to_owned()),
                    Some("5" | "6" | "8") => variant.map(|v| format!("v{v}")),
                    Some(_) => variant,
                },
            ),
            other => (other, variant),
        };
        Platform {
            architecture: arch.to_owned(),
            os,
            variant,
            os_version: self.os_version.clone(),
            os_features: self.os_features.clone(),
        }
    }

    /// The ordered list of platforms acceptable in place of this one, best first
    /// (containerd's `platforms.Only`).
    pub(crate) fn fallbacks(&self) -> Vec<Platform> {
        let me = self.normalized();
        let mut out = vec![me.clone()];
        let with = |arch: &str, v: Option<String>| Platform {
            architecture: arch.to_owned(),
            variant: v,
            ..me.clone()
        };
        let num = |v: &Option<String>, prefix: &str| -> Option<String> {
            v.as_deref()?.strip_prefix(prefix).map(str::to_owned)
        };
        match me.architecture.as_str() {
            "amd64" => {
                if let Some(n) = num(&me.variant, "v").and_then(|n| n.parse::<u32>().ok()) {
                    for k in (1..n).rev() {
                        out.push(with("amd64", (k > 1).then(|| format!("v{k}"))));
                    }
                }
                out.push(with("386", None));
            }
            "arm" => {
                if let Some(n) = num(&me.variant, "v").and_then(|n| n.parse::<u32>().ok()) {
                    for k in (5..n).rev() {
                        out.push(with("arm", Some(format!("v{k}"))));
                    }
                }
            }
            "arm64" => {
                let (major, minor) = match &me.variant {
                    None => (8, 0),
                    Some(v) => {
                        let v = v.trim_start_matches('v');
                        let (a, b) = v.split_once('.').unwrap_or((v, "0"));
                        (a.parse::<u32>().unwrap_or(8), b.parse::<u32>().unwrap_or(0))
                    }
                };
                let v8 = |m: u32| (m > 0).then(|| format!("v8.{m}"));
                if major == 9 {
                    for m in (1..minor).rev() {
                        out.push(with("arm64", Some(format!("v9.{m}"))));
                    }
                    if minor > 0 {
                        out.push(with("arm64", Some("v9".to_owned())));
                    }
                    for m in (0..=(minor + 5).min(9)).rev() {
                        out.push(with("arm64", v8(m)));
                    }
                } else {
                    for m in (0..minor).rev() {
                        out.push(with("arm64", v8(m)));
                    }
                }
                for k in (5..=8).rev() {
                    out.push(with("arm", Some(format!("v{k}"))));
                }
            }
            _ => {}
        }
        out
    }

    /// True when an entry's platform satisfies this wanted one exactly (after
    /// normalisation): os, arch, variant, compatible Windows `os.version`, and
    /// `os.features` a subset of ours.
    pub(crate) fn matches_entry(&self, entry: &Platform) -> bool {
        let e = entry.normalized();
        if e.os != self.os || e.architecture != self.architecture || e.variant != self.variant {
            return false;
        }
        if self.os == "windows"
            && let (Some(want), Some(have)) = (&self.os_version, &e.os_version)
        {
            let major_minor_build = |v: &str| v.split('.').take(3).collect::<Vec<_>>().join(".");
            if major_minor_build(want) != major_minor_build(have) {
                return false;
            }
        }
        e.os_features.iter().all(|f| self.os_features.contains(f))
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_normalises_but_never_falls_back() {
        let p = |s: &str| Platform::parse(s, "amd64").unwrap();
        assert!(p("linux/aarch64").same(&p("linux/arm64/v8")));
        assert!(p("linux/arm").same(&p("linux/arm/v7")));
        assert!(!p("linux/arm64").same(&p("linux/arm/v7")));
        assert!(!p("linux/arm/v6").same(&p("linux/arm/v7")));
        assert!(!p("linux/amd64").same(&p("windows/amd64")));
    }

    #[test]
    fn parse_table() {
        let cases = [
            ("linux/amd64", Ok("linux/amd64")),
            ("linux/x86_64", Ok("linux/amd64")),
            ("linux/amd64/v1", Ok("linux/amd64")),
            ("linux/amd64/v3", Ok("linux/amd64/v3")),
            ("linux/aarch64", Ok("linux/arm64")),
            ("linux/arm64/v8", Ok("linux/arm64")),
            ("linux/arm64/9.0", Ok("linux/arm64/v9")),
            ("linux/arm", Ok("linux/arm/v7")),
            ("linux/arm/6", Ok("linux/arm/v6")),
            ("linux/armhf", Ok("linux/arm/v7")),
            ("linux/armel", Ok("linux/arm/v6")),
            ("linux/i386", Ok("linux/386")),
            ("Linux/AMD64", Ok("linux/amd64")),
            ("macos/arm64", Ok("darwin/arm64")),
            ("arm64", Ok("linux/arm64")),
            ("windows", Ok("windows/amd64")),
            ("linux/s390x", Ok("linux/s390x")),
            ("", Err("empty component")),
            ("linux//v7", Err("empty component")),
            ("a/b/c/d", Err("expected os[/arch[/variant]]")),
            ("linux/am d64", Err("components may only hold")),
        ];
        for (input, want) in cases {
            match (Platform::parse(input, "amd64"), want) {
                (Ok(p), Ok(s)) => assert_eq!(p.to_string(), s, "{input}"),
                (Err(e), Err(needle)) => assert!(e.to_string().contains(needle), "{e}"),
                (got, want) => panic!("{input}: {got:?} vs {want:?}"),
            }
        }
    }

    #[test]
    fn fallback_orders() {
        let show = |s: &str| {
            Platform::parse(s, "amd64")
                .unwrap()
                .fallbacks()
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(show("linux/amd64"), "linux/amd64 linux/386");
        assert_eq!(
            show("linux/amd64/v3"),
            "linux/amd64/v3 linux/amd64/v2 linux/amd64 linux/386"
        );
        assert_eq!(
            show("linux/arm/v7"),
            "linux/arm/v7 linux/arm/v6 linux/arm/v5"
        );
        assert_eq!(
            show("linux/arm64"),
            "linux/arm64 linux/arm/v8 linux/arm/v7 linux/arm/v6 linux/arm/v5"
        );
        assert_eq!(
            show("linux/arm64/v8.2"),
            "linux/arm64/v8.2 linux/arm64/v8.1 linux/arm64 linux/arm/v8 linux/arm/v7 linux/arm/v6 linux/arm/v5"
        );
        assert_eq!(
            show("linux/arm64/v9"),
            "linux/arm64/v9 linux/arm64/v8.5 linux/arm64/v8.4 linux/arm64/v8.3 linux/arm64/v8.2 linux/arm64/v8.1 linux/arm64 linux/arm/v8 linux/arm/v7 linux/arm/v6 linux/arm/v5"
        );
        assert_eq!(show("linux/riscv64"), "linux/riscv64");
    }
}
