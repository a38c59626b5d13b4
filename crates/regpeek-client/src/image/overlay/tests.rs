use super::*;

fn entry(path: &str, kind: Kind) -> Entry {
    Entry {
        path: path.to_owned(),
        kind,
        mode: 0o755,
        uid: 0,
        gid: 0,
        size: 7,
        mtime: 0,
    }
}

fn dir(p: &str) -> Entry {
    entry(p, Kind::Dir)
}
fn file(p: &str) -> Entry {
    entry(p, Kind::File)
}
fn link(p: &str, t: &str) -> Entry {
    entry(p, Kind::Symlink(t.to_owned()))
}
fn hard(p: &str, t: &str) -> Entry {
    entry(p, Kind::Hardlink(t.to_owned()))
}

/// The lookup driven over whole layers.
fn lookup(layers: &[Vec<Entry>], path: &str) -> Outcome {
    let mut l = Lookup::new(path, layers.len());
    while let Some(i) = l.layer() {
        let mut judge = l.judge();
        for e in &layers[i] {
            judge.see(e);
        }
        let (say, dirs) = judge.verdict();
        l.take(say, dirs);
    }
    l.outcome().cloned().unwrap()
}

fn tree(layers: &[Vec<Entry>]) -> Tree {
    let mut t = Tree::new();
    for (i, l) in layers.iter().enumerate() {
        t.apply(i, l);
    }
    t
}

/// What the merged view says of `path` (links followed), in [`Outcome`]'s terms.
fn merged(t: &Tree, path: &str) -> Outcome {
    match t.resolve(path, true) {
        Err(Miss::Loop) => Outcome::Loop,
        Err(Miss::NotADirectory(at)) => Outcome::NotADirectory(at),
        Err(Miss::NotFound(_)) => Outcome::Missing,
        Ok(p) if p.is_empty() => Outcome::Dir(p),
        Ok(p) => match t.get(&p) {
            None => Outcome::Missing,
            Some(n) => match (&n.entry.kind, &n.file) {
                (Kind::Dir, _) => Outcome::Dir(p),
                (Kind::Other(c), _) => Outcome::NotRegular(p, *c),
                (_, Some((layer, path))) => Outcome::File {
                    layer: *layer,
                    path: path.clone(),
                },
                _ => Outcome::Missing,
            },
        },
    }
}

/// Misses of every kind are one class: both readings say there is no file.
fn class(o: Outcome) -> Outcome {
    match o {
        Outcome::Deleted(_) | Outcome::NotADirectory(_) | Outcome::Loop => Outcome::Missing,
        o => o,
    }
}

fn file_at(layer: usize, path: &str) -> Outcome {
    Outcome::File {
        layer,
        path: path.to_owned(),
    }
}

#[test]
fn a_directory_replaced_by_a_symlink_hides_what_was_under_it() {
    // The usr-merge: /lib becomes a link to usr/lib, with and without a whiteout.
    for whiteout in [false, true] {
        let mut top = vec![
            link("lib", "usr/lib"),
            dir("usr/lib"),
            file("usr/lib/ld.so"),
        ];
        if whiteout {
            top.insert(0, entry(".wh.lib", Kind::File));
        }
        let layers = vec![vec![dir("lib"), file("lib/libc.so"), dir("usr")], top];
        let t = tree(&layers);
        assert!(t.get("lib/libc.so").is_none(), "{whiteout}: {t:?}");
        assert_eq!(t.resolve("lib/", true), Ok("usr/lib".to_owned()));
        assert_eq!(lookup(&layers, "lib/libc.so"), Outcome::Missing);
        assert_eq!(lookup(&layers, "/lib/ld.so"), file_at(1, "usr/lib/ld.so"));
        assert_eq!(merged(&t, "/lib/ld.so"), file_at(1, "usr/lib/ld.so"));
    }
}

#[test]
fn a_directory_replaced_by_a_file_and_back() {
    let layers = vec![
        vec![dir("etc"), dir("etc/conf"), file("etc/conf/a")],
        vec![file("etc/conf")],
        vec![dir("etc/conf"), file("etc/conf/b")],
    ];
    let t = tree(&layers);
    assert!(t.get("etc/conf/a").is_none());
    assert_eq!(merged(&t, "etc/conf/b"), file_at(2, "etc/conf/b"));
    // The file of layer 1 hid a; the directory of layer 2 replaced the file.
    assert_eq!(lookup(&layers, "etc/conf/a"), Outcome::Missing);
    assert_eq!(lookup(&layers, "etc/conf"), Outcome::Dir("etc/conf".into()));
}

#[test]
fn whiteouts_opaque_directories_and_recreated_files() {
    let layers = vec![
        vec![dir("d"), file("d/x"), file("d/y"), file("gone")],
        vec![
            entry("d/.wh..wh..opq", Kind::File),
            file("d/z"),
            entry(".wh.gone", Kind::File),
        ],
        vec![file("gone")],
    ];
    let t = tree(&layers);
    let paths: Vec<&str> = t.nodes().map(|n| n.entry.path.as_str()).collect();
    assert_eq!(paths, ["d", "d/z", "gone"]);
    assert_eq!(lookup(&layers, "d/x"), Outcome::Deleted(1));
    assert_eq!(lookup(&layers, "gone"), file_at(2, "gone"));
    assert_eq!(lookup(&layers, "d/z"), file_at(1, "d/z"));
}

#[test]
fn a_hard_link_keeps_the_file_its_target_was() {
    let layers = vec![
        vec![dir("bin"), file("bin/a"), hard("bin/b", "bin/a")],
        vec![file("bin/a")],
    ];
    let t = tree(&layers);
    let b = t.get("bin/b").unwrap();
    assert_eq!(b.file, Some((0, "bin/a".to_owned())));
    assert_eq!(b.shared_size, Some(7));
    assert_eq!(t.links(&(0, "bin/a".to_owned())), 1);
    assert_eq!(lookup(&layers, "bin/b"), file_at(0, "bin/a"));
    assert_eq!(lookup(&layers, "bin/a"), file_at(1, "bin/a"));
}

#[test]
fn links_resolve_inside_the_root_and_loops_end() {
    let layers = vec![vec![
        dir("usr"),
        dir("usr/bin"),
        file("usr/bin/sh"),
        link("bin", "usr/bin"),
        link("up", "../../../usr"),
        link("loop", "loop"),
    ]];
    let t = tree(&layers);
    assert_eq!(lookup(&layers, "bin/sh"), file_at(0, "usr/bin/sh"));
    assert_eq!(lookup(&layers, "up/bin/sh"), file_at(0, "usr/bin/sh"));
    assert_eq!(merged(&t, "up/bin/sh"), file_at(0, "usr/bin/sh"));
    assert_eq!(lookup(&layers, "loop"), Outcome::Loop);
    assert_eq!(t.resolve("loop", true), Err(Miss::Loop));
    // Not followed at the end unless asked (ls lists the link itself).
    assert_eq!(t.resolve("bin", false), Ok("bin".to_owned()));
}

/// A random image: layers whose entries an unpacker could apply (a path's parents are
/// directories or absent where it is written, no path twice in a layer).
fn random_layers(rng: &mut fastrand::Rng) -> Vec<Vec<Entry>> {
    const PARTS: [&str; 3] = ["a", "b", "c"];
    let random_path = |rng: &mut fastrand::Rng| {
        let depth = rng.usize(1..=3);
        (0..depth)
            .map(|_| PARTS[rng.usize(..PARTS.len())])
            .collect::<Vec<_>>()
            .join("/")
    };
    let mut layers = Vec::new();
    let mut state = Tree::new();
    for i in 0..rng.usize(1..=4) {
        let mut layer: Vec<Entry> = Vec::new();
        for _ in 0..rng.usize(0..=7) {
            let path = random_path(rng);
            let parent_ok = |t: &Tree, layer: &[Entry], p: &str| {
                let mut at = String::new();
                for part in p.split('/').collect::<Vec<_>>().split_last().unwrap().1 {
                    if !at.is_empty() {
                        at.push('/');
                    }
                    at.push_str(part);
                    let in_layer = layer.iter().rev().find(|e| e.path == at);
                    let kind = in_layer
                        .map(|e| &e.kind)
                        .or(t.get(&at).map(|n| &n.entry.kind));
                    if kind.is_some_and(|k| *k != Kind::Dir) {
                        return false;
                    }
                }
                true
            };
            let taken = |layer: &[Entry], p: &str| {
                layer.iter().any(|e| {
                    // A link's target is written before it, never after (tar).
                    if let Kind::Hardlink(t) = &e.kind
                        && (t == p || t.starts_with(&format!("{p}/")))
                    {
                        return true;
                    }
                    let named = whiteout(&e.path).map_or(e.path.clone(), |(g, _)| g);
                    named == p
                        || named.starts_with(&format!("{p}/"))
                        || p.starts_with(&format!("{named}/"))
                })
            };
            if !parent_ok(&state, &layer, &path) || taken(&layer, &path) {
                continue;
            }
            let e = match rng.usize(0..7) {
                0 | 1 => dir(&path),
                2 => file(&path),
                3 => {
                    let target = random_path(rng);
                    let target = match rng.usize(0..3) {
                        0 => format!("/{target}"),
                        1 => format!("../{target}"),
                        _ => target,
                    };
                    link(&path, &target)
                }
                4 => {
                    // To a regular file below, or of this layer already written.
                    let files: Vec<String> = state
                        .nodes()
                        .filter(|n| n.file.is_some())
                        .map(|n| n.entry.path.clone())
                        .chain(
                            layer
                                .iter()
                                .filter(|e| e.kind == Kind::File)
                                .map(|e| e.path.clone()),
                        )
                        .filter(|f| *f != path)
                        .collect();
                    if files.is_empty() {
                        continue;
                    }
                    hard(&path, &files[rng.usize(..files.len())])
                }
                5 => {
                    let (dir, name) = path.rsplit_once('/').unwrap_or(("", &path));
                    let wh = if dir.is_empty() {
                        format!(".wh.{name}")
                    } else {
                        format!("{dir}/.wh.{name}")
                    };
                    entry(&wh, Kind::File)
                }
                _ => {
                    if state.get(&path).is_none_or(|n| n.entry.kind != Kind::Dir) {
                        continue;
                    }
                    entry(&format!("{path}/.wh..wh..opq"), Kind::File)
                }
            };
            layer.push(e);
        }
        state.apply(i, &layer);
        layers.push(layer);
    }
    layers
}

#[test]
fn the_merged_view_and_the_top_down_lookup_never_disagree() {
    let mut paths = vec![String::new()];
    for a in ["a", "b", "c"] {
        paths.push(a.to_owned());
        for b in ["a", "b", "c"] {
            paths.push(format!("{a}/{b}"));
            for c in ["a", "b", "c"] {
                paths.push(format!("{a}/{b}/{c}"));
            }
        }
    }
    for seed in 0..3000 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let layers = random_layers(&mut rng);
        let t = tree(&layers);
        for p in &paths {
            assert_eq!(
                class(lookup(&layers, p)),
                class(merged(&t, p)),
                "seed {seed}, path {p:?}, layers {layers:#?}"
            );
        }
    }
}
