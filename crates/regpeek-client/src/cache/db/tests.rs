use super::*;

fn tag(name: &str, tag: &str, digest: &str) -> Row {
    Row::Tag {
        name: name.into(),
        tag: tag.into(),
        digest: digest.into(),
    }
}

#[test]
fn rows_wait_for_their_transaction_and_are_seen_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path()).unwrap();
    db.add([tag("r/a", "1", "sha256:aa")]);
    // Not written yet (one row, just now), but seen by lookups.
    assert_eq!(db.tag("r/a", "1").as_deref(), Some("sha256:aa"));
    let other = Db::open(dir.path()).unwrap();
    assert_eq!(
        other.tag("r/a", "1"),
        None,
        "another process sees committed rows only"
    );
    db.flush();
    assert_eq!(other.tag("r/a", "1").as_deref(), Some("sha256:aa"));
    // A group of FLUSH_ROWS goes at once, without a flush.
    db.add((0..FLUSH_ROWS).map(|i| tag("r/b", &i.to_string(), "sha256:bb")));
    assert_eq!(other.counts().unwrap().tags, 1 + FLUSH_ROWS as u64);
    // A later answer for a tag replaces the earlier.
    db.add([tag("r/a", "1", "sha256:cc")]);
    drop(db);
    assert_eq!(other.tag("r/a", "1").as_deref(), Some("sha256:cc"));
}

#[test]
fn parallel_writers_lose_nothing() {
    // Four "processes" (each its own connection), eight threads each.
    let dir = tempfile::tempdir().unwrap();
    std::thread::scope(|s| {
        for p in 0..4 {
            let db = Db::open(dir.path()).unwrap();
            s.spawn(move || {
                std::thread::scope(|s| {
                    for t in 0..8 {
                        let db = &db;
                        s.spawn(move || {
                            for i in 0..50 {
                                db.add([tag("r/x", &format!("{p}-{t}-{i}"), "sha256:dd")]);
                            }
                        });
                    }
                });
            });
        }
    });
    let db = Db::open(dir.path()).unwrap();
    assert_eq!(db.counts().unwrap().tags, 4 * 8 * 50);
}

#[test]
fn the_earlier_json_index_is_migrated_once_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let index = r#"{"tags":{"localhost:5000/lab/rich:v1":"sha256:aa","bad-key":"x"},"chains":{"localhost:5000/lab/rich@sha256:aa":["sha256:aa","sha256:bb"]}}"#;
    std::fs::write(dir.path().join("index.json"), index).unwrap();
    let db = Db::open(dir.path()).unwrap();
    assert_eq!(
        db.tag("localhost:5000/lab/rich", "v1").as_deref(),
        Some("sha256:aa")
    );
    assert!(db.served("localhost:5000/lab/rich", "sha256:aa"));
    assert!(!db.served("localhost:5000/lab/other", "sha256:aa"));
    assert!(!dir.path().join("index.json").exists());
    let counts = db.counts().unwrap();
    assert_eq!((counts.tags, counts.served), (1, 1));
}

#[test]
fn what_cannot_be_used_is_refused_with_its_reason() {
    // Garbage where the database should be.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cache.db"), vec![0x5a; 8192]).unwrap();
    let err = format!("{:#}", Db::open(dir.path()).err().unwrap());
    assert!(err.contains("cache.db"), "{err}");
    // A newer format.
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = Connection::open(dir.path().join("cache.db")).unwrap();
        conn.pragma_update(None, "user_version", FORMAT + 1)
            .unwrap();
    }
    let err = format!("{:#}", Db::open(dir.path()).err().unwrap());
    assert!(err.contains("newer regpeek"), "{err}");
}

#[test]
fn tokens_are_kept_and_old_rows_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path()).unwrap();
    assert_eq!(db.tokens().len(), 0);
    db.update_tokens(|_| {}).unwrap();
    assert_eq!(db.tokens().len(), 0);
    db.add([tag("r/a", "1", "sha256:aa")]);
    db.flush();
    assert_eq!(db.forget_older_than(Duration::from_secs(3600)).unwrap(), 0);
    // Everything is older than "from now on".
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(db.forget_older_than(Duration::ZERO).unwrap(), 1);
    assert!(db.prune_due());
    assert!(!db.prune_due(), "at most once a day");
}
