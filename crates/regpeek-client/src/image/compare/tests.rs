use super::*;
use regpeek_layer::Entry;

/// A layer of (path, type, content) entries; files get the content's digest.
fn layer(entries: &[(&str, char, &str)]) -> Contents {
    let (entries, digests): (Vec<Entry>, Vec<Option<String>>) = entries
        .iter()
        .map(|&(path, kind, text)| {
            let kind = match kind {
                'd' => Kind::Dir,
                'l' => Kind::Symlink(text.into()),
                'h' => Kind::Hardlink(text.into()),
                _ => Kind::File,
            };
            let digest = (kind == Kind::File).then(|| {
                format!(
                    "{:x}",
                    text.len() * 1000 + text.bytes().map(usize::from).sum::<usize>()
                )
            });
            let e = Entry {
                path: path.into(),
                kind,
                mode: 0o644,
                uid: 0,
                gid: 0,
                size: text.len() as u64,
                mtime: 0,
            };
            (e, digest)
        })
        .unzip();
    Contents::listed(entries, digests)
}

fn kinds(changes: &[Change]) -> Vec<(&str, &str)> {
    changes
        .iter()
        .map(|c| (c.path.as_str(), c.change))
        .collect()
}

#[test]
fn only_the_uppers_decide_and_the_shared_side_says_so() {
    let a = layer(&[
        ("srv/changed", 'f', "in a"),
        ("usr/bin/a", 'f', "a"),
        ("srv/.wh.removed", 'f', ""),
        ("same", 'f', "x"),
    ]);
    let b = layer(&[
        ("srv/changed", 'f', "in b"),
        ("usr/bin/b", 'f', "b"),
        ("same", 'f', "x"),
    ]);
    let got = compare_views(&[(2, &a)], &[(2, &b)], None);
    assert_eq!(
        kinds(&got),
        [
            ("/srv/changed", "changed"),
            ("/srv/removed", "added"),
            ("/usr/bin/a", "written"),
            ("/usr/bin/b", "written"),
        ]
    );
    let removed = got.iter().find(|c| c.path == "/srv/removed").unwrap();
    assert_eq!((&removed.a, &removed.b), (&Side::Absent, &Side::Shared));
}

#[test]
fn with_the_base_known_every_change_is_added_removed_or_changed() {
    let base = layer(&[
        ("srv", 'd', ""),
        ("srv/removed", 'f', "r"),
        ("srv/changed", 'f', "base"),
        ("usr/bin/a", 'f', "a"),
        ("opt/d", 'd', ""),
        ("opt/d/x", 'f', "x"),
    ]);
    // a rewrites usr/bin/a as the base has it: not a change.
    let a = layer(&[
        ("usr/bin/a", 'f', "a"),
        ("srv/.wh.removed", 'f', ""),
        ("opt/d/.wh..wh..opq", 'f', ""),
        ("opt/d/y", 'f', "y"),
    ]);
    let b = layer(&[
        ("srv/changed", 'f', "b"),
        ("usr/bin/b", 'f', "b"),
        ("srv/hard", 'h', "srv/changed"),
    ]);
    let got = compare_views(&[(1, &a)], &[(1, &b)], Some(&[(0, &base)]));
    assert_eq!(
        kinds(&got),
        [
            ("/opt/d/x", "added"),
            ("/opt/d/y", "removed"),
            ("/srv/changed", "changed"),
            ("/srv/hard", "added"),
            ("/srv/removed", "added"),
            ("/usr/bin/b", "added"),
        ]
    );
    // A hard link carries its target's content.
    let hard = got.iter().find(|c| c.path == "/srv/hard").unwrap();
    let Side::Present(m) = &hard.b else { panic!() };
    assert_eq!((m.size, m.digest.is_some()), (1, true));
}

#[test]
fn a_file_replacing_a_directory_hides_what_was_below() {
    let base = layer(&[("d", 'd', ""), ("d/x", 'f', "x")]);
    let a = layer(&[("d", 'f', "now a file")]);
    let b = layer(&[("other", 'f', "o")]);
    let got = compare_views(&[(1, &a)], &[(1, &b)], Some(&[(0, &base)]));
    assert_eq!(
        kinds(&got),
        [("/d", "changed"), ("/d/x", "added"), ("/other", "added")]
    );
}
