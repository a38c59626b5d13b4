//! Tags read as versions, the way image tags use them: SemVer 2 precedence (build
//! metadata ignored, pre-releases ordered identifier by identifier), an optional `v`,
//! one to four numbers (`16`, `1.25`, `1.25.3`), and a suffix that is either a
//! pre-release (`-rc.2`, `-beta1`) or a variant (`-alpine3.19`, `-slim-bookworm`).
//! `tags --sort semver` orders by it, and `outdated` finds newer tags on the same
//! track with it.

use std::cmp::Ordering;

/// Words that open a pre-release rather than a variant.
const PRERELEASE: &[&str] = &[
    "alpha",
    "beta",
    "rc",
    "pre",
    "preview",
    "dev",
    "snapshot",
    "nightly",
    "canary",
    "milestone",
];

/// A tag that reads as a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Written with a leading `v`.
    pub v: bool,
    /// The numbers, 1 to 4 of them.
    pub nums: Vec<u64>,
    /// The pre-release, without its `-`.
    pub pre: Option<String>,
    /// The variant, without its `-`.
    pub variant: Option<String>,
}

impl Version {
    /// The version `tag` reads as, if it reads as one.
    pub fn parse(tag: &str) -> Option<Version> {
        let v = tag.starts_with(['v', 'V']);
        let t = if v { &tag[1..] } else { tag };
        // Build metadata (`+…`) plays no part in precedence (SemVer 2 §10).
        let t = t.split_once('+').map_or(t, |(v, _)| v);
        let (core, suffix) = match t.split_once('-') {
            Some((c, s)) => (c, Some(s)),
            None => (t, None),
        };
        let nums: Option<Vec<u64>> = core.split('.').map(|n| n.parse().ok()).collect();
        let nums = nums.filter(|n| (1..=4).contains(&n.len()))?;
        let (pre, variant) = match suffix {
            None => (None, None),
            Some("") => return None,
            Some(s) if is_prerelease(s) => (Some(s.to_owned()), None),
            Some(s) => (None, Some(s.to_owned())),
        };
        Some(Version {
            v,
            nums,
            pre,
            variant,
        })
    }

    /// What a newer tag must share to be offered instead of this one: the `v`, the
    /// precision (`1.25` moves to `1.26`, not `1.26.1`), and the variant's family
    /// (`alpine3.19` goes with `alpine3.20`, never with `slim`).
    pub fn track(&self) -> (bool, usize, Option<String>) {
        let family = self.variant.as_ref().map(|v| {
            let mut f = String::new();
            for c in v.chars() {
                if c.is_ascii_digit() || c == '.' {
                    if !f.ends_with('#') {
                        f.push('#');
                    }
                } else {
                    f.push(c);
                }
            }
            f
        });
        (self.v, self.nums.len(), family)
    }

    /// SemVer 2 precedence: numbers, then a release above its pre-releases, which
    /// are ordered identifier by identifier.
    pub fn precedence(&self, other: &Version) -> Ordering {
        let len = self.nums.len().max(other.nums.len());
        let pad = |n: &[u64]| -> Vec<u64> {
            let mut n = n.to_vec();
            n.resize(len, 0);
            n
        };
        pad(&self.nums)
            .cmp(&pad(&other.nums))
            .then_with(|| match (&self.pre, &other.pre) {
                (None, None) => Ordering::Equal,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(x), Some(y)) => prerelease_order(x, y),
            })
    }
}

fn is_prerelease(suffix: &str) -> bool {
    let first = suffix
        .split(['.', '-'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let word = first.trim_end_matches(|c: char| c.is_ascii_digit());
    PRERELEASE.contains(&word) || matches!(word, "a" | "b") && word.len() < first.len()
}

/// Tags in version order: versions first, by precedence (`v1.2.10` after `1.2.9`,
/// `1.0.0-rc.2` before `1.0.0-rc.10` before `1.0.0`), then names that are not
/// versions, lexically.
pub fn order(a: &str, b: &str) -> Ordering {
    match (Version::parse(a), Version::parse(b)) {
        (Some(x), Some(y)) => x
            .precedence(&y)
            .then_with(|| x.nums.len().cmp(&y.nums.len()))
            .then_with(|| a.cmp(b)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// Pre-release precedence as SemVer 2 §11 orders it: identifier by identifier,
/// numbers numerically and below words, words in ASCII order, and a shorter list
/// first when it is a prefix of the other (`rc.2` < `rc.10` < `rc.10.1`, `alpha` <
/// `beta`, `1` < `alpha`).
fn prerelease_order(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.split('.'), b.split('.'));
    loop {
        match (x.next(), y.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(p), Some(q)) => {
                let order = match (p.parse::<u64>(), q.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => p.cmp(q),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

/// The newer tags for `current` among `tags`, on its track: the newest patch (same
/// major and minor), the newest minor (same major) and the newest major. A
/// pre-release is offered only when `current` is one.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Newer {
    pub patch: Option<String>,
    pub minor: Option<String>,
    pub major: Option<String>,
}

impl Newer {
    pub fn any(&self) -> bool {
        self.patch.is_some() || self.minor.is_some() || self.major.is_some()
    }
}

/// See [`Newer`].
pub fn newer(current: &Version, tags: &[String]) -> Newer {
    let track = current.track();
    let mut candidates: Vec<(Version, &String)> = tags
        .iter()
        .filter_map(|t| Some((Version::parse(t)?, t)))
        .filter(|(v, _)| v.track() == track)
        .filter(|(v, _)| current.pre.is_some() || v.pre.is_none())
        .filter(|(v, _)| v.precedence(current) == Ordering::Greater)
        .collect();
    candidates.sort_by(|(a, ta), (b, tb)| a.precedence(b).then_with(|| ta.cmp(tb)));
    // The newest that `keep` keeps; among tags of that same version, the one with the
    // current tag's exact variant (`1.25.3-alpine3.19` → `1.25.4-alpine3.19`, not
    // `-alpine3.20`), else the last in order.
    let newest = |keep: &dyn Fn(&Version) -> bool| {
        let (best, _) = candidates.iter().rev().find(|(v, _)| keep(v))?;
        let same: Vec<&(Version, &String)> = candidates
            .iter()
            .filter(|(v, _)| keep(v) && v.precedence(best) == Ordering::Equal)
            .collect();
        same.iter()
            .find(|(v, _)| v.variant == current.variant)
            .or(same.last())
            .map(|(_, t)| (*t).clone())
    };
    let n = &current.nums;
    let precision = n.len();
    Newer {
        patch: (precision >= 3)
            .then(|| newest(&|v| v.nums[..2] == n[..2]))
            .flatten(),
        minor: (precision >= 2)
            .then(|| newest(&|v| v.nums[0] == n[0] && v.nums[1] > n[1]))
            .flatten(),
        major: newest(&|v| v.nums[0] > n[0]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tags_read_as_versions() {
        let v = Version::parse("v1.25.3-alpine3.19").unwrap();
        assert!(v.v && v.nums == [1, 25, 3] && v.variant.as_deref() == Some("alpine3.19"));
        assert_eq!(v.track(), (true, 3, Some("alpine#".into())));
        assert_eq!(
            Version::parse("1.0.0-rc.2").unwrap().pre.as_deref(),
            Some("rc.2")
        );
        assert_eq!(
            Version::parse("2.0-beta1").unwrap().pre.as_deref(),
            Some("beta1")
        );
        assert!(Version::parse("16-slim").unwrap().variant.is_some());
        for not in [
            "latest",
            "stable",
            "1.2.3.4.5",
            "1..2",
            "x1.2",
            "1.2-",
            "sha256-abc",
        ] {
            assert_eq!(Version::parse(not), None, "{not}");
        }
        let mut sorted = tags(&[
            "1.0.0",
            "1.0.0-rc.10",
            "latest",
            "1.0.0-rc.2",
            "v0.9",
            "1.0.0-alpha",
        ]);
        sorted.sort_by(|a, b| order(a, b));
        assert_eq!(
            sorted,
            [
                "v0.9",
                "1.0.0-alpha",
                "1.0.0-rc.2",
                "1.0.0-rc.10",
                "1.0.0",
                "latest"
            ]
        );
    }

    #[test]
    fn the_exact_same_variant_wins_among_tags_of_one_version() {
        let all = tags(&[
            "1.25.3-alpine3.19",
            "1.25.4-alpine3.18",
            "1.25.4-alpine3.19",
            "1.25.4-alpine3.20",
            "1.26.0-alpine3.20",
        ]);
        let n = newer(&Version::parse("1.25.3-alpine3.19").unwrap(), &all);
        assert_eq!(n.patch.as_deref(), Some("1.25.4-alpine3.19"));
        // No tag with the same variant at that version: the last of them.
        assert_eq!(n.minor.as_deref(), Some("1.26.0-alpine3.20"));
    }

    #[test]
    fn newer_tags_stay_on_their_track() {
        let all = tags(&[
            "1.25.3",
            "1.25.4",
            "1.25.10",
            "1.26.0",
            "1.27.1",
            "2.0.0",
            "2.1.0-rc.1",
            "1.25",
            "1.26",
            "2",
            "1.25.3-alpine3.19",
            "1.25.5-alpine3.20",
            "1.27.0-alpine3.20",
            "1.25.9-slim",
            "latest",
            "v1.30.0",
            "1.28.0-rc.1",
        ]);
        let at = |t: &str| newer(&Version::parse(t).unwrap(), &all);
        assert_eq!(
            at("1.25.3"),
            Newer {
                patch: Some("1.25.10".into()),
                minor: Some("1.27.1".into()),
                major: Some("2.0.0".into()),
            }
        );
        // The same precision: `1.25` moves to `1.26`, not `1.26.0`.
        assert_eq!(
            at("1.25"),
            Newer {
                patch: None,
                minor: Some("1.26".into()),
                major: None,
            }
        );
        // The same variant family, never another.
        assert_eq!(
            at("1.25.3-alpine3.19"),
            Newer {
                patch: Some("1.25.5-alpine3.20".into()),
                minor: Some("1.27.0-alpine3.20".into()),
                major: None,
            }
        );
        // Pre-releases only for a pre-release.
        assert_eq!(at("2.0.0").major, None);
        assert_eq!(at("1.28.0-rc.1").minor, None);
        assert_eq!(
            newer(&Version::parse("2.1.0-rc.0").unwrap(), &all).patch,
            Some("2.1.0-rc.1".into())
        );
        assert!(!at("2.0.0").any());
    }
}
