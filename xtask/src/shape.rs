//! The shape of the code, checked: `cargo xtask cycles` (import cycles between the
//! files of a crate) and `cargo xtask shape` (that, file lengths, and ARCHITECTURE.md
//! naming only paths that exist and every module). The tests below run both checks on
//! the tree, so `cargo xtask test` fails when the shape breaks.
//!
//! Imports are read from `use crate::…`, `crate::…`, `super::…` and `self::…` paths in
//! code (comments and `#[cfg(test)]` modules are left out). A file's use of its own
//! ancestors or descendants is one module split into files, not an import between
//! modules, so it makes no edge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Longest production source file, in lines.
pub const MAX_SOURCE_LINES: usize = 600;
/// Longest test file (`tests.rs`, `*_tests.rs`, anything under `tests/`), in lines.
pub const MAX_TEST_LINES: usize = 1000;

/// `cargo xtask cycles`: prints every import cycle; fails when there is one.
pub fn cycles_cli() -> Result<()> {
    let found = cycles(&crate::project_root())?;
    for (krate, cycle) in &found {
        println!("{krate}: {}", cycle.join(" -> "));
    }
    if !found.is_empty() {
        bail!("{} import cycle(s) between files", found.len());
    }
    println!("no import cycle between the files of any crate");
    Ok(())
}

/// `cargo xtask shape`: cycles, file lengths and ARCHITECTURE.md.
pub fn shape_cli() -> Result<()> {
    let root = crate::project_root();
    let mut problems = Vec::new();
    for (krate, cycle) in cycles(&root)? {
        problems.push(format!("{krate}: import cycle {}", cycle.join(" -> ")));
    }
    problems.extend(long_files(&root)?);
    problems.extend(architecture(&root)?);
    for p in &problems {
        println!("{p}");
    }
    if !problems.is_empty() {
        bail!("{} problem(s) with the code's shape", problems.len());
    }
    println!("shape: ok");
    Ok(())
}

/// The crates of the workspace: directories with a `src/`.
fn crates(root: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for parent in ["crates", "examples"] {
        for e in std::fs::read_dir(root.join(parent)).with_context(|| parent.to_owned())? {
            let dir = e?.path();
            if dir.join("src").is_dir() {
                out.push(dir);
            }
        }
    }
    out.push(root.join("xtask"));
    out.sort();
    Ok(out)
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e?.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The module path of a file under `src/` (`a/b.rs` and `a/b/mod.rs`: `["a", "b"]`; the
/// crate root: `[]`), or `None` for a binary of its own (`src/bin/`).
fn module_of(rel: &Path) -> Option<Vec<String>> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.first().is_some_and(|p| p == "bin") {
        return None;
    }
    let last = parts.pop()?;
    let stem = last.strip_suffix(".rs")?;
    if !matches!(stem, "mod" | "lib" | "main") || !parts.is_empty() && stem != "mod" {
        parts.push(stem.to_owned());
    }
    Some(parts)
}

/// Code without comments, string contents and `#[cfg(test)]` items, one line per line.
fn code_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip_depth: Option<i64> = None;
    let mut depth: i64 = 0;
    let mut test_next = false;
    for raw in text.lines() {
        let line = strip(raw);
        let trimmed = line.trim();
        if skip_depth.is_none() && trimmed.starts_with("#[cfg(test)]") {
            test_next = true;
            out.push(String::new());
            continue;
        }
        let opens = line.matches('{').count() as i64;
        let closes = line.matches('}').count() as i64;
        if test_next && skip_depth.is_none() && !trimmed.starts_with("#[") {
            test_next = false;
            if opens > closes {
                skip_depth = Some(depth);
            } else {
                // A one-line item (`mod tests;`, a `use`): left out too.
                depth += opens - closes;
                out.push(String::new());
                continue;
            }
        }
        depth += opens - closes;
        if let Some(d) = skip_depth {
            if depth <= d {
                skip_depth = None;
            }
            out.push(String::new());
            continue;
        }
        out.push(line);
    }
    out
}

/// A line without its `//` comment and with string literals emptied.
fn strip(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    let mut in_str = false;
    while let Some(c) = chars.next() {
        if in_str {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    in_str = false;
                    out.push('"');
                }
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push('"');
            }
            '/' if chars.peek() == Some(&'/') => break,
            // A char literal: '"' or '{' would confuse what follows.
            '\'' => {
                let rest: String = chars.clone().take(3).collect();
                if rest.starts_with("\\") {
                    for _ in 0..rest.find('\'').map_or(0, |i| i + 1) {
                        chars.next();
                    }
                    out.push_str("' '");
                } else if rest.chars().nth(1) == Some('\'') {
                    chars.next();
                    chars.next();
                    out.push_str("' '");
                } else {
                    out.push(c);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// The module paths a file's code names (`crate::a::b`, `super::c`), resolved from
/// `module` (the file's), with `{…}` groups expanded one level.
fn imports(module: &[String], lines: &[String]) -> BTreeSet<Vec<String>> {
    let text = lines.join("\n");
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        let starts = (i == 0 || !ident(bytes[i - 1]) && bytes[i - 1] != b':')
            && ["crate::", "super::", "self::"]
                .iter()
                .any(|p| bytes[i..].starts_with(p.as_bytes()));
        if !starts {
            i += 1;
            continue;
        }
        // Read `a::b::c` (and a `{x, y::z}` group) from here.
        let mut j = i;
        while j < bytes.len() && (ident(bytes[j]) || bytes[j] == b':') {
            j += 1;
        }
        let head: Vec<&str> = text[i..j].split("::").filter(|s| !s.is_empty()).collect();
        let mut tails: Vec<Vec<&str>> = vec![Vec::new()];
        if j < bytes.len() && bytes[j] == b'{' {
            let end = text[j..].find('}').map_or(bytes.len(), |e| j + e);
            tails = text[j + 1..end]
                .split(',')
                .map(|t| {
                    t.split("::")
                        .map(str::trim)
                        .take_while(|s| !s.is_empty() && s.bytes().all(ident))
                        .collect()
                })
                .collect();
        }
        for tail in tails {
            let mut path: Vec<String> = Vec::new();
            let mut at = module.to_vec();
            let mut first = true;
            for seg in head.iter().chain(tail.iter()) {
                match *seg {
                    "crate" if first => at.clear(),
                    "self" if first => {}
                    "super" if first || path.is_empty() => {
                        at.pop();
                    }
                    s => {
                        path.push(s.to_owned());
                    }
                }
                first = false;
            }
            let mut full = at;
            full.extend(path);
            out.insert(full);
        }
        i = j.max(i + 1);
    }
    out
}

/// The import graph of one crate: file module → the file modules it names.
fn graph(krate: &Path) -> Result<BTreeMap<Vec<String>, BTreeSet<Vec<String>>>> {
    let src = krate.join("src");
    let mut files = BTreeMap::new();
    for f in rust_files(&src)? {
        let rel = f.strip_prefix(&src)?.to_owned();
        if let Some(m) = module_of(&rel) {
            files.insert(m, f);
        }
    }
    let mut edges = BTreeMap::new();
    for (module, file) in &files {
        let text = std::fs::read_to_string(file)?;
        let mut to = BTreeSet::new();
        for path in imports(module, &code_lines(&text)) {
            // The deepest file module that is a prefix of the path.
            let Some(target) = (0..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|p| files.contains_key(p))
            else {
                continue;
            };
            let related = target.starts_with(module) || module.starts_with(&target);
            if !related {
                to.insert(target);
            }
        }
        edges.insert(module.clone(), to);
    }
    Ok(edges)
}

fn name(m: &[String]) -> String {
    if m.is_empty() {
        "(root)".to_owned()
    } else {
        m.join("::")
    }
}

/// Every import cycle, by crate: one per strongly connected set of files, shown as a
/// shortest loop through it.
pub fn cycles(root: &Path) -> Result<Vec<(String, Vec<String>)>> {
    let mut out = Vec::new();
    for krate in crates(root)? {
        let g = graph(&krate)?;
        let krate_name = krate
            .strip_prefix(root)
            .unwrap_or(&krate)
            .display()
            .to_string();
        let mut seen: BTreeSet<Vec<String>> = BTreeSet::new();
        for start in g.keys() {
            if seen.contains(start) {
                continue;
            }
            if let Some(cycle) = shortest_loop(&g, start) {
                seen.extend(cycle.iter().cloned());
                let mut names: Vec<String> = cycle.iter().map(|m| name(m)).collect();
                names.push(name(&cycle[0]));
                out.push((krate_name.clone(), names));
            }
        }
    }
    Ok(out)
}

/// The shortest path from `start` back to itself, by breadth-first search.
fn shortest_loop(
    g: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
    start: &Vec<String>,
) -> Option<Vec<Vec<String>>> {
    let mut prev: BTreeMap<&Vec<String>, &Vec<String>> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(at) = queue.pop_front() {
        for next in g.get(at).into_iter().flatten() {
            if next == start {
                let mut path = vec![at.clone()];
                let mut cur = at;
                while cur != start {
                    cur = prev[cur];
                    path.push(cur.clone());
                }
                path.reverse();
                return Some(path);
            }
            if !prev.contains_key(next) {
                prev.insert(next, at);
                queue.push_back(next);
            }
        }
    }
    None
}

fn is_test_file(rel: &Path) -> bool {
    let name = rel.file_name().map(|n| n.to_string_lossy().into_owned());
    rel.components().any(|c| c.as_os_str() == "tests")
        || name.is_some_and(|n| n == "tests.rs" || n.ends_with("_tests.rs"))
}

/// Files over their length limit.
pub fn long_files(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut dirs = crates(root)?;
    dirs.push(root.join("tests"));
    for dir in dirs {
        for f in rust_files(&dir)? {
            let rel = f.strip_prefix(root)?.to_owned();
            let lines = std::fs::read_to_string(&f)?.lines().count();
            let max = if is_test_file(&rel) {
                MAX_TEST_LINES
            } else {
                MAX_SOURCE_LINES
            };
            if lines > max {
                out.push(format!("{}: {lines} lines (at most {max})", rel.display()));
            }
        }
    }
    Ok(out)
}

/// What is wrong with ARCHITECTURE.md: a path it names that does not exist, or a
/// module of a crate its section does not name.
pub fn architecture(root: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md"))?;
    let mut out = Vec::new();
    // Sections by crate: `### \`crates/x\`` headings.
    let mut sections: Vec<(Option<PathBuf>, String)> = vec![(None, String::new())];
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("### ") {
            let dir = h
                .split('`')
                .nth(1)
                .map(|d| root.join(d))
                .filter(|d| d.is_dir());
            sections.push((dir, String::new()));
        }
        let last = sections.last_mut().expect("one section at least");
        last.1.push_str(line);
        last.1.push('\n');
    }
    for (dir, body) in &sections {
        let named = backticked(body);
        for token in &named {
            if !looks_like_path(token) {
                continue;
            }
            let mut bases = vec![root.to_owned()];
            match dir {
                Some(d) => {
                    bases.extend([d.clone(), d.join("src"), d.join("tests")]);
                    // A file named inside a directory's sentence (`flow/` … `endpoint.rs`).
                    bases.extend(dirs_under(&d.join("src")));
                }
                // Outside a crate's section, a path may be any crate's.
                None => bases.extend(crates(root)?.iter().map(|c| c.join("src"))),
            }
            if !bases.iter().any(|b| b.join(token).exists()) {
                out.push(format!(
                    "ARCHITECTURE.md names `{token}`, which does not exist"
                ));
            }
        }
        let Some(d) = dir else { continue };
        let src = d.join("src");
        for f in rust_files(&src)? {
            let rel = f.strip_prefix(&src)?.to_owned();
            if is_test_file(&rel) || rel.starts_with("bin") {
                continue;
            }
            let rel_s = rel.display().to_string();
            let file = rel
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let ok = match file.as_str() {
                "lib.rs" | "main.rs" if rel.parent() == Some(Path::new("")) => true,
                "mod.rs" => {
                    let dir = rel.parent().map(|p| p.display().to_string());
                    let dir = dir.unwrap_or_default();
                    named.contains(&format!("{dir}/")) || named.contains(&rel_s)
                }
                _ => named.contains(&rel_s) || named.contains(&file),
            };
            if !ok {
                out.push(format!(
                    "ARCHITECTURE.md: the section of `{}` does not name `{rel_s}`",
                    d.strip_prefix(root).unwrap_or(d).display()
                ));
            }
        }
    }
    Ok(out)
}

/// Every directory under `dir` (itself included).
fn dirs_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_owned()];
    let mut i = 0;
    while i < out.len() {
        if let Ok(rd) = std::fs::read_dir(&out[i]) {
            for e in rd.flatten() {
                if e.path().is_dir() {
                    out.push(e.path());
                }
            }
        }
        i += 1;
    }
    out
}

/// The `code spans` of a text, each split at spaces and commas (`a.rs, b.rs`).
fn backticked(text: &str) -> BTreeSet<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .flat_map(|s| s.split([' ', ',']))
        .map(|s| s.trim_end_matches(['.', ':', ';']).to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// A file or directory path: `x.rs`, `x.md`, `x.toml`, `x/`, or `a/b` of plain names.
fn looks_like_path(token: &str) -> bool {
    let plain = token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_-./".contains(&b));
    if !plain || token.starts_with('/') || token.contains("//") || token.starts_with('.') {
        return false;
    }
    [".rs", ".md", ".toml", ".http"]
        .iter()
        .any(|x| token.ends_with(x))
        || token.ends_with('/') && token.len() > 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Vec<String> {
        s.split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn imports_are_resolved_from_the_file_module() {
        let code = "use crate::a::{b, c::D};\nuse super::e::F;\nfn f() { crate::g::h(); self::i::j(); }\n// crate::comment\nlet s = \"crate::string\";";
        let lines = code_lines(code);
        let got = imports(&m("x::y"), &lines);
        let want: BTreeSet<Vec<String>> = ["a::b", "a::c::D", "x::e::F", "g::h", "x::y::i::j"]
            .into_iter()
            .map(m)
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn test_modules_make_no_edges() {
        let code = "use crate::a;\n#[cfg(test)]\nmod tests {\n    use crate::b;\n    fn f() { let x = '{'; }\n}\nuse crate::c;\n#[cfg(test)]\nuse crate::d;\n";
        let got = imports(&[], &code_lines(code));
        assert_eq!(got, ["a", "c"].into_iter().map(m).collect());
    }

    #[test]
    fn a_cycle_is_found_and_a_parent_and_child_make_none() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (path, text) in [
            ("crates/k/src/lib.rs", "mod a; mod b; mod c;"),
            ("crates/k/src/a.rs", "use crate::b::X;"),
            ("crates/k/src/b.rs", "use crate::c::Y;"),
            ("crates/k/src/c.rs", "fn f() { crate::a::z(); }"),
            ("crates/j/src/lib.rs", "mod p;"),
            ("crates/j/src/p/mod.rs", "mod q; use q::Q;"),
            ("crates/j/src/p/q.rs", "use super::P;"),
            ("examples/.keep", ""),
            ("xtask/src/main.rs", ""),
        ] {
            let p = root.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let found = cycles(root).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "crates/k");
        assert_eq!(found[0].1, ["a", "b", "c", "a"]);
    }

    #[test]
    fn architecture_paths_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for path in [
            "crates/k/src/lib.rs",
            "crates/k/src/a.rs",
            "crates/k/src/d/mod.rs",
        ] {
            let p = root.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        std::fs::write(
            root.join("ARCHITECTURE.md"),
            "# A\n\n### `crates/k`\n\n`a.rs` and `gone.rs`.\n",
        )
        .unwrap();
        let got = architecture(root).unwrap();
        assert_eq!(
            got,
            [
                "ARCHITECTURE.md names `gone.rs`, which does not exist",
                "ARCHITECTURE.md: the section of `crates/k` does not name `d/mod.rs`",
            ]
        );
    }

    /// The tree itself: no import cycle between the files of any crate.
    #[test]
    fn the_tree_has_no_import_cycle() {
        let found = cycles(&crate::project_root()).unwrap();
        assert!(found.is_empty(), "import cycles: {found:#?}");
    }

    /// The tree itself: ARCHITECTURE.md names only paths that exist, and every module.
    #[test]
    fn architecture_md_is_true() {
        let found = architecture(&crate::project_root()).unwrap();
        assert!(found.is_empty(), "{}", found.join("\n"));
    }

    /// The tree itself: no production file over 600 lines, no test file over 1,000.
    #[test]
    fn no_file_is_too_long() {
        let found = long_files(&crate::project_root()).unwrap();
        assert!(found.is_empty(), "{}", found.join("\n"));
    }
}
