//! `ls` as `ls` reads: `-d` lists the entry itself, `--depth N` limits the levels
//! below the path, `-h` prints human sizes in the table, a last argument without a
//! leading `/` that is no reference is a path (a note says so), and `--help` still
//! works with `-h` taken.

use crate::support::*;

fn paths(out: &[u8]) -> Vec<String> {
    lines(out)
        .iter()
        .map(|l| json(l.as_bytes())["Path"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn ls_takes_d_depth_and_h() {
    let fs = r("lab/fs:v1");
    let ls = |extra: &[&str]| {
        let mut args = vec!["ls", "--plain-http", fs.as_str()];
        args.extend(extra);
        ok(&args)
    };
    assert_eq!(paths(&ls(&["-d", "/etc"])), ["/etc"]);
    // Through a link on the path: the entry it leads to.
    assert_eq!(paths(&ls(&["-d", "/bin/"])), ["/usr/bin"]);
    let one = paths(&ls(&["--depth", "1", "/usr"]));
    assert!(one.contains(&"/usr/bin".to_owned()), "{one:?}");
    assert!(!one.iter().any(|p| p.starts_with("/usr/bin/")), "{one:?}");
    let all = paths(&ls(&["/usr"]));
    assert!(all.iter().any(|p| p.starts_with("/usr/bin/")), "{all:?}");
    let top = paths(&ls(&["--depth", "1"]));
    assert!(top.iter().all(|p| p.matches('/').count() == 1), "{top:?}");
    // -h: human sizes in the table (the lab's files are small: bytes).
    let table = String::from_utf8(ls(&["-o", "table", "-h", "/etc/motd"])).unwrap();
    assert!(table.contains("SIZE"), "{table}");
    // -d without a path is refused.
    assert_eq!(
        regpeek(&["ls", "--plain-http", &fs, "-d"]).status.code(),
        Some(2)
    );
    // A last argument that is no reference is a path, and a note says so.
    let out = regpeek(&["ls", "--plain-http", &fs, "Etc/Motd"]);
    assert!(stderr_of(&out).contains("as a path"), "{}", stderr_of(&out));
    // --help still works.
    let help = String::from_utf8(ok(&["ls", "--help"])).unwrap();
    assert!(
        help.contains("--human-readable") && help.contains("--depth"),
        "{help}"
    );
}
