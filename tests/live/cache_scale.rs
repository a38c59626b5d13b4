//! The cache at scale (its index is an SQLite database): parallel processes lose no
//! update, a killed run leaves what it committed, and an index that cannot be used
//! costs speed, never the answer. 2,000 tags of one repository of the token
//! registry, pushed here (anyone may pull public/*; no test lists its catalog).

use super::*;
use std::io::BufRead as _;
use std::sync::OnceLock;

/// How many tags the scale repository has.
const TAGS: usize = 2000;

/// `public/scale:s0000` … `s1999`, pushed once per test binary, as a `--file -` list.
fn references() -> &'static str {
    static PUSHED: OnceLock<String> = OnceLock::new();
    PUSHED.get_or_init(|| {
        let targets = lab().info.targets().unwrap();
        let image = &lab().seeded.rich;
        let tags: Vec<String> = (0..TAGS).map(|i| format!("s{i:04}")).collect();
        let names: Vec<&str> = tags.iter().map(String::as_str).collect();
        targets.token.image("public/scale", image, &names).unwrap();
        let refs: Vec<String> = tags
            .iter()
            .map(|tag| t(&format!("public/scale:{tag}")))
            .collect();
        refs.join("\n")
    })
}

/// `digest` of the whole list with this cache, and its lines.
fn digests(cache: &str, extra: &[&str]) -> (Output, Vec<Value>) {
    let mut args = vec![
        "--cache-dir",
        cache,
        "digest",
        "--plain-http",
        "--file",
        "-",
    ];
    args.extend_from_slice(extra);
    let out = regpeek_in(&args, &[], Some(references()));
    let rows = lines(&out.stdout)
        .iter()
        .map(|l| json(l.as_bytes()))
        .collect();
    (out, rows)
}

#[test]
fn four_processes_on_one_cache_lose_no_update() {
    let home = empty_home();
    let cache = home.join("cache").display().to_string();
    let want = &lab().seeded.rich.manifest.digest;
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..4)
            .map(|_| s.spawn(|| digests(&cache, &["--jobs", "32"])))
            .collect();
        for run in runs {
            let (out, rows) = run.join().unwrap();
            let failed: Vec<&Value> = rows.iter().filter(|r| r.get("Error").is_some()).collect();
            assert_eq!(out.status.code(), Some(0), "{}{failed:?}", stderr_of(&out));
            assert_eq!(rows.len(), TAGS);
            assert!(stderr_of(&out).is_empty(), "{}", stderr_of(&out));
        }
    });
    // Every tag is known now: answered with no network at all.
    let (out, rows) = digests(&cache, &["--offline"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(rows.len(), TAGS);
    assert!(
        rows.iter().all(|r| r["Digest"] == want.as_str()),
        "{rows:?}"
    );
    let info = json(&ok(&["--cache-dir", &cache, "cache", "info"]));
    assert_eq!(info["Tags"], TAGS as u64, "{info}");
    assert!(
        info["File"].as_str().unwrap().ends_with("cache.db"),
        "{info}"
    );
    assert!(
        info["Oldest"].is_string() && info["Newest"].is_string(),
        "{info}"
    );
}

#[test]
fn a_killed_run_leaves_what_it_committed() {
    let home = empty_home();
    let cache = home.join("cache").display().to_string();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_regpeek"));
    cmd.args([
        "--cache-dir",
        &cache,
        "digest",
        "--plain-http",
        "--jobs",
        "4",
    ])
    .args(["--file", "-"])
    .env("HOME", &*home)
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::null());
    isolate(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(references().as_bytes()).unwrap();
    }
    // 300 answers printed: the first 100 rows were committed before the 100th
    // answer was handed on.
    let stdout = child.stdout.take().unwrap();
    let mut read = std::io::BufReader::new(stdout).lines();
    for _ in 0..300 {
        read.next().unwrap().unwrap();
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no flush.
    child.wait().unwrap();
    let (out, rows) = digests(&cache, &["--offline"]);
    let answered = rows.iter().filter(|r| r.get("Digest").is_some()).count();
    assert!(answered >= 100, "{answered} answered: {}", stderr_of(&out));
    // The others are missing from the cache, not a broken cache.
    for r in rows.iter().filter(|r| r.get("Error").is_some()) {
        let e = r["Error"].as_str().unwrap();
        assert!(e.contains("offline"), "{e}");
    }
    assert!(
        !stderr_of(&out).contains("cache is not used"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn an_index_that_cannot_be_used_costs_speed_never_the_answer() {
    let want = lab().seeded.rich.manifest.digest.clone();
    let rich = t("public/rich:v1");
    let broken = |what: &str, damage: &dyn Fn(&std::path::Path)| {
        let home = empty_home();
        let dir = home.join("cache");
        let cache = dir.display().to_string();
        ok(&["--cache-dir", &cache, "digest", "--plain-http", &rich]);
        damage(&dir.join("cache.db"));
        let out = regpeek(&["--cache-dir", &cache, "digest", "--plain-http", &rich]);
        assert_eq!(out.status.code(), Some(0), "{what}: {}", stderr_of(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), want, "{what}");
        let err = stderr_of(&out);
        assert_eq!(
            err.matches("warning").count(),
            1,
            "{what}: one warning: {err}"
        );
        assert!(
            err.contains("cache.db") && err.contains("regpeek cache clear"),
            "{what}: names the file and the remedy: {err}"
        );
        // --offline has nothing to answer from.
        let out = regpeek(&["--cache-dir", &cache, "--offline", "digest", &rich]);
        assert_ne!(out.status.code(), Some(0), "{what}");
        assert!(
            stderr_of(&out).contains("cannot be used"),
            "{what}: {}",
            stderr_of(&out)
        );
        // cache info says why; cache clear is the remedy, and it works.
        let info = json(&ok(&["--cache-dir", &cache, "cache", "info"]));
        assert!(info["Problem"].is_string(), "{what}: {info}");
        ok(&["--cache-dir", &cache, "cache", "clear"]);
        let out = regpeek(&["--cache-dir", &cache, "digest", "--plain-http", &rich]);
        assert!(stderr_of(&out).is_empty(), "{what}: {}", stderr_of(&out));
    };
    // The log goes too, or SQLite would read its newer copy of the header.
    let without_log = |db: &std::path::Path| {
        for f in ["cache.db-wal", "cache.db-shm"] {
            let _ = std::fs::remove_file(db.with_file_name(f));
        }
    };
    broken("garbage", &|db| {
        std::fs::write(db, vec![0x5a; 16384]).unwrap();
        without_log(db);
    });
    // A newer format: SQLite's header keeps `user_version` at byte 60.
    broken("a newer format", &|db| {
        let mut bytes = std::fs::read(db).unwrap();
        bytes[60..64].copy_from_slice(&99u32.to_be_bytes());
        std::fs::write(db, bytes).unwrap();
        without_log(db);
    });
}

#[test]
fn an_index_of_the_earlier_format_is_migrated_and_answers_offline() {
    let home = empty_home();
    let dir = home.join("cache");
    let cache = dir.display().to_string();
    let rich = t("public/rich:v1");
    let want = &lab().seeded.rich.manifest.digest;
    ok(&["--cache-dir", &cache, "inspect", "--plain-http", &rich]);
    // What the earlier regpeek wrote for that inspection, instead of the database.
    for f in ["cache.db", "cache.db-wal", "cache.db-shm"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let name = format!("{}/public/rich", lab().info.token());
    let old = json!({
        "tags": {format!("{name}:v1"): want},
        "chains": {format!("{name}@{want}"): [want]},
    });
    std::fs::write(dir.join("index.json"), old.to_string()).unwrap();
    std::fs::write(
        dir.join("tokens.json"),
        r#"{"version":1,"tokens":[],"hosts":{}}"#,
    )
    .unwrap();
    let out = ok(&["--cache-dir", &cache, "--offline", "digest", &rich]);
    assert_eq!(String::from_utf8_lossy(&out).trim(), want.as_str());
    assert!(!dir.join("index.json").exists() && !dir.join("tokens.json").exists());
    assert!(dir.join("cache.db").exists());
}

/// Lifts the immutable flag of a file when dropped, however the test ends (else its
/// scratch directory could not be removed).
struct Immutable(std::path::PathBuf);

impl Immutable {
    /// `chattr +i`: not even root may write it (root ignores a read-only mode).
    fn set(path: &std::path::Path) -> Immutable {
        let out = Command::new("chattr").arg("+i").arg(path).output();
        let ok = out.as_ref().is_ok_and(|o| o.status.success());
        assert!(
            ok,
            "this test needs chattr (e2fsprogs) and a file system with the immutable flag: {out:?}"
        );
        Immutable(path.to_owned())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

#[test]
fn an_index_that_cannot_be_written_warns_once_and_answers() {
    let home = empty_home();
    let dir = home.join("cache");
    let cache = dir.display().to_string();
    let rich = t("public/rich:v1");
    ok(&["--cache-dir", &cache, "digest", "--plain-http", &rich]);
    let _frozen = Immutable::set(&dir.join("cache.db"));
    // What is kept still answers; what is new cannot be kept, and says so once.
    let out = regpeek(&["--cache-dir", &cache, "--offline", "digest", &rich]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let multi = t("public/multi:v1");
    let out = regpeek(&[
        "--cache-dir",
        &cache,
        "digest",
        "--plain-http",
        &multi,
        &rich,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let rows = lines(&out.stdout);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows[0].contains(lab().seeded.multi.index.digest.as_str()),
        "{rows:?}"
    );
    let err = stderr_of(&out);
    assert_eq!(err.matches("warning").count(), 1, "one warning: {err}");
    assert!(
        err.contains("cache.db") && err.contains("regpeek cache clear"),
        "{err}"
    );
}
