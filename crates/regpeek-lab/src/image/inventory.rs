//! `<prefix>/inventory`: a repository whose tags point at many images, for `tags
//! --long` and `--points-at`: [`INVENTORY_TAGS`] tags, of which
//! [`INVENTORY_ALIASES`] share a digest with an earlier tag and
//! [`INVENTORY_INDEXES`] are indexes (two platforms each). Each image has a date of
//! its own, in an order that is not the tags' order.

use serde_json::{Value, json};

use super::{Image, Index, Spec, build, oci_index, platform_descriptor};

/// How many tags `<prefix>/inventory` has.
pub const INVENTORY_TAGS: usize = 150;
/// How many of them point at the digest of an earlier tag.
pub const INVENTORY_ALIASES: usize = 20;
/// How many of them are indexes.
pub const INVENTORY_INDEXES: usize = 3;

/// What one tag of the inventory points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// `Inventory::images[i]`.
    Image(usize),
    /// `Inventory::indexes[i]`.
    Index(usize),
}

/// The inventory's images, indexes and tags.
pub struct Inventory {
    /// Single-platform images.
    pub images: Vec<Image>,
    /// Indexes of two platforms each.
    pub indexes: Vec<Index>,
    /// `t000` … `t149`, each with what it points at.
    pub tags: Vec<(String, Entry)>,
}

/// The inventory (pure, deterministic).
pub fn inventory() -> Inventory {
    let distinct = INVENTORY_TAGS - INVENTORY_ALIASES;
    let singles = distinct - INVENTORY_INDEXES;
    let images: Vec<Image> = (0..singles)
        .map(|i| {
            // Dates in an order of their own: 37 is prime to the count.
            let hour = (i * 37) % singles;
            dated(
                ("linux", "amd64", None),
                &format!("image {i}\n"),
                &format!("2024-01-{:02}T{:02}:00:00Z", 1 + hour / 24, hour % 24),
            )
        })
        .collect();
    let indexes: Vec<Index> = (0..INVENTORY_INDEXES).map(two_platforms).collect();
    let mut tags: Vec<(String, Entry)> = (0..distinct)
        .map(|i| {
            let entry = if i < singles {
                Entry::Image(i)
            } else {
                Entry::Index(i - singles)
            };
            (format!("t{i:03}"), entry)
        })
        .collect();
    for j in 0..INVENTORY_ALIASES {
        // The last alias names an index; the others, images.
        let of = if j + 1 == INVENTORY_ALIASES {
            singles
        } else {
            j * 6
        };
        let entry = tags[of].1;
        tags.push((format!("t{:03}", distinct + j), entry));
    }
    Inventory {
        images,
        indexes,
        tags,
    }
}

/// A one-layer OCI image of `platform` whose config says `created`.
fn dated(platform: (&str, &str, Option<&str>), text: &str, created: &str) -> Image {
    build(&Spec {
        docker: false,
        platform,
        runtime: json!({"Cmd": ["/bin/true"]}),
        layers: vec![vec![("inventory.txt", text.as_bytes().to_vec())]],
        extra: json!({"created": created}),
    })
}

/// Index `k`: linux/amd64 and linux/arm64 images of its own.
fn two_platforms(k: usize) -> Index {
    let children = [("amd64", None), ("arm64", Some("v8"))].map(|(arch, variant)| {
        dated(
            ("linux", arch, variant),
            &format!("index {k} {arch}\n"),
            &format!("2025-02-{:02}T00:00:00Z", 1 + k),
        )
    });
    let entries: Vec<Value> = children.iter().map(platform_descriptor).collect();
    Index {
        index: oci_index(entries),
        children: children.to_vec(),
    }
}

/// Pushes the inventory to `repo` of `target`.
pub fn push_inventory(target: &crate::push::Target, repo: &str) -> anyhow::Result<()> {
    let inv = inventory();
    for (i, img) in inv.images.iter().enumerate() {
        let tags: Vec<&str> = tags_of(&inv, Entry::Image(i));
        target.image(repo, img, &tags)?;
    }
    for (k, idx) in inv.indexes.iter().enumerate() {
        let tags: Vec<&str> = tags_of(&inv, Entry::Index(k));
        target.index(repo, idx, &tags)?;
    }
    Ok(())
}

/// The tags of the inventory that point at `entry`.
fn tags_of(inv: &Inventory, entry: Entry) -> Vec<&str> {
    inv.tags
        .iter()
        .filter(|(_, e)| *e == entry)
        .map(|(t, _)| t.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_hold() {
        let inv = inventory();
        assert_eq!(inv.tags.len(), INVENTORY_TAGS);
        let mut digests: Vec<&str> = inv
            .tags
            .iter()
            .map(|(_, e)| match e {
                Entry::Image(i) => inv.images[*i].manifest.digest.as_str(),
                Entry::Index(k) => inv.indexes[*k].index.digest.as_str(),
            })
            .collect();
        digests.sort_unstable();
        digests.dedup();
        assert_eq!(digests.len(), INVENTORY_TAGS - INVENTORY_ALIASES);
        assert_eq!(inv.indexes.len(), INVENTORY_INDEXES);
    }
}
