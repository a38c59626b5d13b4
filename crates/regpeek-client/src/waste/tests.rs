use super::*;
use regpeek_layer::Entry;

fn layer(entries: &[(&str, char, u64)]) -> Contents {
    let entries: Vec<Entry> = entries
        .iter()
        .map(|&(path, kind, size)| Entry {
            path: path.into(),
            kind: match kind {
                'd' => Kind::Dir,
                'l' => Kind::Symlink("x".into()),
                _ => Kind::File,
            },
            mode: 0o644,
            uid: 0,
            gid: 0,
            size,
            mtime: 0,
        })
        .collect();
    let n = entries.len();
    Contents::listed(entries, vec![None; n])
}

#[test]
fn an_image_without_repeats_is_fully_efficient() {
    let base = layer(&[("etc", 'd', 0), ("etc/a", 'f', 100)]);
    let top = layer(&[("etc", 'd', 0), ("etc/b", 'f', 50)]);
    let w = analyze(&[&base, &top]);
    assert_eq!(w.efficiency, 1.0);
    assert_eq!(w.wasted, 0);
    assert_eq!((w.size, w.user_size), (150, 50));
    assert_eq!(w.user_wasted_ratio(), Some(0.0));
    assert!(w.inefficiencies.is_empty());
}

#[test]
fn overwritten_and_deleted_files_count_as_dive_counts_them() {
    let base = layer(&[
        ("etc/a", 'f', 100),
        ("big", 'd', 0),
        ("big/x", 'f', 1000),
        ("big/y", 'f', 24),
    ]);
    // Overwrites /etc/a (200), deletes /big (a directory: its subtree's sizes).
    let top = layer(&[("etc/a", 'f', 200), (".wh.big", 'f', 0)]);
    // Deletes /etc/a, a file: dive counts the whiteout as 0.
    let last = layer(&[("etc/.wh.a", 'f', 0)]);
    let w = analyze(&[&base, &top, &last]);
    // /etc/a: 100 + 200 + 0; /big: leaves big/x and big/y are other paths, and the
    // whiteout of /big (1024) is the first occurrence of the path `/big` itself.
    let a = w
        .inefficiencies
        .iter()
        .find(|i| i.path == "/etc/a")
        .unwrap();
    assert_eq!((a.bytes, a.layers.clone()), (300, vec![0, 1, 2]));
    assert_eq!(w.wasted, 300);
    // minimum: /etc/a 0, /big/x 1000, /big/y 24, /big 1024; total: 300+1000+24+1024.
    assert!((w.efficiency - 2048.0 / 2348.0).abs() < 1e-12);
    assert_eq!(w.layers[0].overwritten, 100);
    assert_eq!(w.layers[1].overwritten, 200);
    assert_eq!(w.layers[2].overwritten, 0);
    assert_eq!(w.user_size, 200);
    assert_eq!(w.user_wasted_ratio(), Some(1.5));
}

#[test]
fn a_whiteout_of_nothing_ends_that_layers_walk_as_in_dive() {
    let base = layer(&[("a", 'f', 10)]);
    // `.wh.b` sorts first (by name, as dive walks): the walk of that layer ends
    // there, so its /a, a repeat, is never counted.
    let top = layer(&[("z", 'f', 5), (".wh.b", 'f', 0), ("a", 'f', 10)]);
    let w = analyze(&[&base, &top]);
    assert_eq!(w.wasted, 0);
    // The next layer's walk starts afresh: its /a is the second occurrence.
    let again = layer(&[("a", 'f', 10)]);
    let w = analyze(&[&base, &top, &again]);
    assert_eq!(w.wasted, 20);
}

#[test]
fn opaque_markers_are_left_out_and_implied_parents_have_no_size() {
    let base = layer(&[("d/f", 'f', 7)]);
    let top = layer(&[("d/.wh..wh..opq", 'f', 0), ("d/g", 'f', 3)]);
    let w = analyze(&[&base, &top]);
    assert_eq!(w.wasted, 0);
    assert_eq!(w.efficiency, 1.0);
}

#[test]
fn gates_read_as_dive_reads_them() {
    assert_eq!(
        Gate::parse("lowestEfficiency", "0.95"),
        Ok(Some(Gate::LowestEfficiency(0.95)))
    );
    assert_eq!(Gate::parse("highest-wasted-bytes", "disabled"), Ok(None));
    assert_eq!(
        Gate::parse("highest-wasted-bytes", "20MB"),
        Ok(Some(Gate::HighestWastedBytes(20_000_000)))
    );
    assert_eq!(parse_bytes("20MiB"), Ok(20 << 20));
    assert_eq!(parse_bytes("1.5 kb"), Ok(1500));
    assert_eq!(parse_bytes("42"), Ok(42));
    assert!(parse_bytes("12 parsecs").is_err());
    assert!(Gate::parse("lowest-efficiency", "1.5").is_err());
    assert!(Gate::parse("lowest-efficiency", "x").is_err());
    assert!(Gate::parse("nope", "1").is_err());
    let w = Waste {
        efficiency: 0.5,
        wasted: 10,
        size: 100,
        user_size: 0,
        layers: vec![],
        inefficiencies: vec![],
    };
    assert!(Gate::LowestEfficiency(0.9).failure(&w).is_some());
    assert!(Gate::LowestEfficiency(0.5).failure(&w).is_none());
    assert!(Gate::HighestWastedBytes(9).failure(&w).is_some());
    // 10 / 0: infinite, so over any threshold; 0 / 0 passes.
    assert!(Gate::HighestUserWastedPercent(0.1).failure(&w).is_some());
    let none = Waste { wasted: 0, ..w };
    assert!(Gate::HighestUserWastedPercent(0.1).failure(&none).is_none());
}
