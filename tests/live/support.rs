//! What every live test uses: the lab, scratch homes, running regpeek in an isolated
//! environment, and the scan for secrets every output goes through.

use regpeek_lab::Lab;
use serde_json::Value;
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The lab `cargo xtask test` brought up (`REGPEEK_LAB`), or one started here.
pub fn lab() -> &'static Lab {
    static LAB: OnceLock<Lab> = OnceLock::new();
    LAB.get_or_init(|| {
        Lab::shared().unwrap_or_else(|e| panic!("cannot start the live-test lab: {e:#}"))
    })
}

/// A scratch directory, removed when dropped (on a failed test too, as the panic
/// unwinds): the live suite leaves nothing behind in the temp dir.
pub struct Scratch(tempfile::TempDir);

impl std::ops::Deref for Scratch {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        self.0.path()
    }
}

/// An empty directory to serve as `$HOME`, so no developer's real credentials, certs.d
/// or proxies leak into a test.
pub fn empty_home() -> Scratch {
    Scratch(
        tempfile::Builder::new()
            .prefix("regpeek-live-home-")
            .tempdir()
            .expect("creating a scratch $HOME"),
    )
}

/// `regpeek` in an isolated environment: a fresh `$HOME`, no proxies, no credential
/// variables. `env` adds variables, `stdin` feeds standard input.
pub fn regpeek_in(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_regpeek"));
    // Lives until regpeek has ended (the explicit `HOME` of `env` wins over it).
    let home = empty_home();
    cmd.args(args).env("HOME", &*home);
    isolate(&mut cmd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(if stdin.is_some() {
        std::process::Stdio::piped()
    } else {
        std::process::Stdio::null()
    });
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("running regpeek");
    if let Some(text) = stdin {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().expect("running regpeek");
    assert_no_secret(
        &format!("the output of regpeek {args:?}"),
        &format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    );
    out
}

/// Fails when `text` (something regpeek printed or wrote) holds a secret of the lab:
/// its password, its identity token, a JWT its token issuer signed, or what the
/// hostile registry's `leaky` repository hands out and echoes. Every run of the live
/// suite goes through here (its stdout and stderr), and so does every recording.
pub fn assert_no_secret(what: &str, text: &str) {
    static JWT: OnceLock<regex::Regex> = OnceLock::new();
    let jwt = JWT.get_or_init(|| {
        regex::Regex::new(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.").unwrap()
    });
    let info = &lab().info;
    let mut secrets = vec![info.password.clone(), info.identity_token()];
    secrets.extend(regpeek_lab::hostile::LEAKY_SECRETS.map(String::from));
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "{what} holds a secret ({}…): {text}",
            &secret[..4]
        );
    }
    assert!(!jwt.is_match(text), "{what} holds a token: {text}");
}

/// Every file under `dir`, scanned with [`assert_no_secret`].
pub fn assert_no_secret_in_dir(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            assert_no_secret_in_dir(&path);
        } else if let Ok(bytes) = std::fs::read(&path) {
            assert_no_secret(
                &path.display().to_string(),
                &String::from_utf8_lossy(&bytes),
            );
        }
    }
}

pub fn regpeek(args: &[&str]) -> Output {
    regpeek_in(args, &[], None)
}

/// Runs regpeek, expects success, returns stdout.
pub fn ok(args: &[&str]) -> Vec<u8> {
    let out = regpeek(args);
    assert!(
        out.status.success(),
        "regpeek {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs regpeek, expects failure, returns stderr.
pub fn fails(args: &[&str]) -> String {
    let out = regpeek(args);
    assert!(!out.status.success(), "regpeek {args:?} should have failed");
    assert_eq!(
        out.status.code(),
        Some(1),
        "errors exit 1, never by a panic"
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.starts_with("regpeek: error: "), "{err}");
    err
}

pub fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

/// A reference on the lab's open registry.
pub fn r(path: &str) -> String {
    format!("{}/{path}", lab().info.plain())
}

/// A reference on the lab's token-auth registry.
pub fn t(path: &str) -> String {
    format!("{}/{path}", lab().info.token())
}

/// A reference on the lab's Basic-over-TLS registry.
pub fn b(path: &str) -> String {
    format!("{}/{path}", lab().info.basic())
}

pub fn ca() -> String {
    lab().info.ca_file().display().to_string()
}

pub fn creds() -> String {
    lab().info.creds()
}

pub fn skopeo(args: &[&str]) -> Value {
    let out = Command::new("skopeo").args(args).output().expect(
        "skopeo is not installed: run `cargo xtask test` (installs it) or apt-get install skopeo",
    );
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&out.stdout)
}

pub fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

pub fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

pub fn write(path: &std::path::Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

pub fn ok_in(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let out = regpeek_in(args, env, stdin);
    assert!(
        out.status.success(),
        "regpeek {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fresh `$HOME` whose `~/.config/containers/certs.d/<mTLS registry>` holds the lab
/// CA and the client certificate and key.
pub fn home_with_mtls_certs_d() -> Scratch {
    let info = &lab().info;
    let home = empty_home();
    let d = home.join(".config/containers/certs.d").join(info.mtls());
    for f in ["ca.crt", "client.cert", "client.key"] {
        write(
            &d.join(f),
            &std::fs::read_to_string(info.cert_dir().join(f)).unwrap(),
        );
    }
    home
}

/// Runs regpeek on a pseudo-terminal (`script`, from Debian's essential bsdutils) with
/// `env` set, answering each `(prompt, line)` in turn: the line is typed once the
/// prompt is on the screen, and half a second later (the prompt is written just
/// before echo is turned off; typed ahead, the terminal would echo what a later
/// prompt hides). Returns the screen.
pub fn on_a_terminal_with(args: &[&str], env: &[(&str, &str)], answers: &[(&str, &str)]) -> String {
    use std::io::{Read as _, Write as _};
    use std::sync::{Arc, Mutex};
    let cmd = std::iter::once(env!("CARGO_BIN_EXE_regpeek").to_owned())
        .chain(args.iter().map(|a| format!("'{a}'")))
        .collect::<Vec<_>>()
        .join(" ");
    let home = empty_home();
    let mut c = Command::new("script");
    isolate(&mut c);
    c.args(["-qec", &cmd, "/dev/null"])
        .env("HOME", &*home)
        .env_remove("NO_COLOR")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c
        .spawn()
        .expect("script (bsdutils) is needed for terminal tests");
    let screen = Arc::new(Mutex::new(Vec::<u8>::new()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = {
        let screen = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stdout.read(&mut buf) {
                screen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let mut stdin = child.stdin.take().unwrap();
    let mut seen = 0;
    for (prompt, line) in answers {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let text = String::from_utf8_lossy(&screen.lock().unwrap()).into_owned();
            if let Some(at) = text.get(seen..).and_then(|rest| rest.find(prompt)) {
                seen += at + prompt.len();
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no prompt {prompt:?} within 30 s: {text}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        let _ = stdin.write_all(line.as_bytes());
        let _ = stdin.write_all(b"\n");
        let _ = stdin.flush();
    }
    drop(stdin);
    let _ = child.wait();
    reader.join().unwrap();
    let screen = screen.lock().unwrap();
    String::from_utf8_lossy(&screen).into_owned()
}

/// [`on_a_terminal_with`] without environment.
pub fn on_a_terminal(args: &[&str], answers: &[(&str, &str)]) -> String {
    on_a_terminal_with(args, &[], answers)
}

/// [`on_a_terminal_with`], typing nothing.
pub fn on_a_terminal_env(args: &[&str], env: &[(&str, &str)]) -> String {
    on_a_terminal_with(args, env, &[])
}

/// The hostile registry, started once for this test binary.
pub fn hostile() -> &'static regpeek_lab::hostile::Hostile {
    static H: OnceLock<regpeek_lab::hostile::Hostile> = OnceLock::new();
    H.get_or_init(|| {
        regpeek_lab::hostile::Hostile::start()
            .unwrap_or_else(|e| panic!("cannot start the hostile registry: {e:#}"))
    })
}

/// Runs regpeek against the hostile registry with `--timeout secs`; asserts it failed
/// with exit 1 (not a panic), one line of error on stderr, within the deadline plus a
/// margin; returns stderr. The product bound is deadline + 1 s; the test allows 2.5 s
/// so that a loaded CI machine does not make it flaky (a broken deadline takes 10 s
/// or more, so it still fails).
pub fn fails_within(args: &[&str], secs: u64) -> String {
    let timeout = secs.to_string();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--plain-http", "--timeout", &timeout]);
    let start = std::time::Instant::now();
    let out = regpeek(&all);
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "regpeek {all:?}: {stderr}");
    assert!(
        took < std::time::Duration::from_millis(secs * 1000 + 2500),
        "regpeek {all:?} took {took:?} with --timeout {secs}: {stderr}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("hint:")).collect();
    assert_eq!(lines.len(), 1, "one line of error: {stderr}");
    assert!(lines[0].starts_with("regpeek: error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// Records `args` into a fresh directory, then replays it offline; both must print
/// the same thing and exit the same way, and the recording holds no secret.
pub fn record_then_replay(args: &[&str]) -> (Output, Output, String) {
    let scratch = empty_home();
    let dir = scratch.join("recording");
    let mut all = vec!["--record", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    let live = regpeek(&all);
    let text = std::fs::read_to_string(dir.join("exchanges.http"))
        .unwrap_or_else(|e| panic!("no recording for {args:?}: {e}"));
    assert_no_secret_in_dir(&dir);
    let replayed = regpeek(&["replay", dir.to_str().unwrap()]);
    assert_eq!(
        String::from_utf8_lossy(&live.stdout),
        String::from_utf8_lossy(&replayed.stdout),
        "{args:?}: replay printed something else"
    );
    assert_eq!(live.status.code(), replayed.status.code(), "{args:?}");
    (live, replayed, text)
}

/// The requests regpeek sent, from its `-v` trace.
pub fn requests(out: &Output) -> Vec<String> {
    stderr_of(out)
        .lines()
        .filter(|l| l.starts_with("> ") && l.contains(" http"))
        .map(|l| l[2..].to_owned())
        .collect()
}

/// Splits a README command line into words: spaces separate, single quotes group.
pub fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    words.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(word);
    }
    words
}

/// Takes from a regpeek command every variable of the developer's environment that
/// would change what it does: proxies, credential files, config and cache homes.
pub fn isolate(cmd: &mut Command) {
    for var in [
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "https_proxy",
        "http_proxy",
        "all_proxy",
        "no_proxy",
        "DOCKER_CONFIG",
        "REGISTRY_AUTH_FILE",
        "DOCKER_AUTH_CONFIG",
        "XDG_RUNTIME_DIR",
        "XDG_CONFIG_HOME",
        // Each run's cache lives in its fresh $HOME: tests never share one by accident.
        "XDG_CACHE_HOME",
    ] {
        cmd.env_remove(var);
    }
}

/// Every byte of a cache's index, as text (its database and its log): what a reader
/// of the disk would find there.
pub fn cache_bytes(cache: &std::path::Path) -> String {
    ["cache.db", "cache.db-wal"]
        .iter()
        .filter_map(|f| std::fs::read(cache.join(f)).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .collect()
}
