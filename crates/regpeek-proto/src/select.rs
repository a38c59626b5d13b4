//! Choosing from an index: the entry that best matches a platform (containerd's
//! fallback order, attestations never), and the platforms an index offers
//! (docs/protocol.md §6).

use crate::manifest::Descriptor;
use crate::platform::Platform;

/// Picks the index entry that best matches `wanted`: the entry matching the earliest
/// fallback wins, ties go to index order; attestation entries and entries without a
/// platform are never chosen.
pub(crate) fn select<'a>(entries: &'a [Descriptor], wanted: &Platform) -> Option<&'a Descriptor> {
    wanted.fallbacks().iter().find_map(|candidate| {
        entries.iter().find(|d| {
            !d.is_attestation()
                && d.platform
                    .as_ref()
                    .is_some_and(|p| candidate.matches_entry(p))
        })
    })
}

/// The platforms an index offers, attestations left out, in index order.
pub(crate) fn offered(entries: &[Descriptor]) -> Vec<Platform> {
    entries
        .iter()
        .filter(|d| !d.is_attestation())
        .filter_map(|d| d.platform.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;

    fn entry(platform: &str, n: u8, attestation: bool) -> Descriptor {
        let mut parts = platform.split('/');
        let os = parts.next().unwrap();
        let arch = parts.next().unwrap();
        let variant = parts.next();
        let mut d = Descriptor {
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            digest: Digest::sha256(&[n]),
            size: 1,
            urls: vec![],
            annotations: Default::default(),
            platform: Some(Platform::new(os, arch, variant)),
            artifact_type: None,
        };
        if attestation {
            d.annotations.insert(
                "vnd.docker.reference.type".into(),
                "attestation-manifest".into(),
            );
        }
        d
    }

    #[test]
    fn select_table() {
        let index = vec![
            entry("unknown/unknown", 0, true),
            entry("linux/amd64", 1, false),
            entry("linux/arm/v6", 2, false),
            entry("linux/arm64/v8", 3, false),
            entry("linux/arm/v7", 4, false),
            entry("linux/386", 5, false),
            entry("windows/amd64", 6, false),
            entry("linux/amd64", 7, false),
        ];
        let pick = |want: &str| {
            let p = Platform::parse(want, "amd64").unwrap();
            select(&index, &p).map(|d| index.iter().position(|e| e == d).unwrap())
        };
        assert_eq!(pick("linux/amd64"), Some(1), "first of equal entries wins");
        assert_eq!(pick("linux/amd64/v2"), Some(1), "v2 falls back to v1");
        assert_eq!(pick("linux/arm64"), Some(3), "arm64/v8 normalises to arm64");
        assert_eq!(pick("linux/arm/v7"), Some(4));
        assert_eq!(pick("linux/arm/v8"), Some(4), "arm/v8 falls back to v7");
        assert_eq!(pick("linux/arm/v6"), Some(2));
        assert_eq!(pick("linux/arm/v5"), None);
        assert_eq!(pick("linux/386"), Some(5));
        assert_eq!(pick("windows/amd64"), Some(6));
        assert_eq!(pick("linux/s390x"), None);
        assert_eq!(pick("unknown/unknown"), None, "attestations never chosen");

        let only_arm = vec![entry("linux/arm/v6", 1, false)];
        let p = Platform::parse("linux/arm64", "amd64").unwrap();
        assert!(select(&only_arm, &p).is_some(), "arm64 runs arm/v6");
        assert_eq!(offered(&index).len(), 7);
    }

    #[test]
    fn os_features_must_be_a_subset() {
        let mut e = entry("windows/amd64", 1, false);
        e.platform.as_mut().unwrap().os_features = vec!["win32k".into()];
        let want = Platform::parse("windows/amd64", "amd64").unwrap();
        assert!(select(std::slice::from_ref(&e), &want).is_none());
        let mut want2 = want.clone();
        want2.os_features = vec!["win32k".into()];
        assert!(select(std::slice::from_ref(&e), &want2).is_some());
    }
}
