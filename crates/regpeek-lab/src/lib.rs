//! The local registry lab: real CNCF distribution (`docker-registry`) in every auth mode,
//! nginx as front and CDN, a token issuer and tag pager, and deterministic test images
//! built without a Docker engine. Everything binds to 127.0.0.1 / 127.0.0.2.
//!
//! Topology (ports from [`Ports`]):
//!
//! ```text
//!  plain front  127.0.0.1:F1 (nginx) ─┬─ tags/list, _catalog ─> helper pager ─┐
//!                                     └─ everything else ──> plain registry  ─┴─ no auth
//!  token front  127.0.0.1:F2 (nginx) ─┬─ tags/list, _catalog ─> helper pager ─┐
//!                                     └─ everything else ──> token registry ──┴─ auth: token (realm = helper /token)
//!  basic        127.0.0.1:B  distribution itself: TLS (lab CA) + htpasswd
//!  mtls         127.0.0.1:M  distribution itself: TLS + client certificates (lab CA)
//!  issuer-down  127.0.0.1:D  token auth whose realm is a closed port
//!  proxy        127.0.0.1:P  a CONNECT proxy to loopback only (helper; HTTP_PROXY tests)
//!  CDN          127.0.0.2, one nginx port per registry (http for open and token, https
//!               for basic): registries redirect blob GETs here (distribution's `redirect`
//!               storage middleware); the access log records any Authorization received
//! ```

#![deny(missing_docs)]

pub mod certs;
pub mod helper;
pub mod hostile;
pub mod image;
pub mod push;
pub mod record;
pub mod relay;
pub mod token;

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use serde_json::{Value, json};

/// Where Debian's `docker-registry` package puts the binary.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";
/// Debian's nginx.
pub const NGINX_BIN: &str = "/usr/sbin/nginx";

/// The Debian packages the lab and the tests need.
pub const PACKAGES: &[(&str, &str)] = &[
    ("docker-registry", REGISTRY_BIN),
    ("skopeo", "/usr/bin/skopeo"),
    ("nginx-light", NGINX_BIN),
    ("openssl", "/usr/bin/openssl"),
    ("time", "/usr/bin/time"),
    // The curl floor of `cargo xtask bench`.
    ("curl", "/usr/bin/curl"),
];

/// Installs missing lab packages with apt-get when running as root; otherwise fails
/// naming what is missing.
pub fn ensure_packages() -> Result<()> {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .filter(|(_, path)| !Path::new(path).exists())
        .map(|(pkg, _)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .context("running id -u")?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        bail!(
            "missing Debian packages: {} (install them with `sudo apt-get install {}`)",
            missing.join(" "),
            missing.join(" ")
        );
    }
    eprintln!("lab: installing {}", missing.join(" "));
    let status = Command::new("apt-get")
        .args(["update", "-qq"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get update")?;
    if !status.success() {
        bail!("apt-get update failed");
    }
    let status = Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get install")?;
    if !status.success() {
        bail!("apt-get install {} failed", missing.join(" "));
    }
    Ok(())
}

/// A fresh scratch directory under the system temp dir.
pub fn scratch_dir(label: &str) -> Result<PathBuf> {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "regpeek-lab-{label}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// How lab processes live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Die with the process that started them (tests, demo, recording).
    Owned,
    /// Outlive it, tracked by pid (`cargo xtask lab up` … `down`).
    Detached,
}

/// A process the lab started.
pub enum Proc {
    /// Supervised through a pipe: when the handle (or the whole owner process) goes
    /// away, the pipe closes and a wrapper kills the process.
    Owned {
        /// The wrapper.
        child: Child,
        /// Its stdin; closing it stops the process.
        stdin: Option<ChildStdin>,
    },
    /// Detached, in its own process group.
    Detached {
        /// Its pid.
        pid: u32,
    },
}

impl Proc {
    /// Stops a detached process and its whole process group (nginx's workers too):
    /// SIGTERM, up to 3 s of grace, then SIGKILL. Owned processes stop when dropped.
    pub fn stop(&mut self) {
        if let Proc::Detached { pid } = self {
            stop_group(*pid);
        }
    }

    /// Starts `program args…`, logging to `log`.
    pub fn spawn(keep: Keep, log: &Path, program: &str, args: &[&str]) -> Result<Proc> {
        let log_file = std::fs::File::create(log)?;
        match keep {
            Keep::Owned => {
                // The program runs in the background; a watcher kills it when the
                // owner's pipe closes (the owner is gone), and so does a trap on INT, TERM or HUP
                // (Ctrl-C reaches the whole foreground group, and background jobs of a
                // script ignore SIGINT). `wait` is interruptible by trapped signals;
                // `read` would not be.
                // (A background job's stdin is /dev/null, so the watcher reads the
                // pipe through fd 3, opened before it starts.)
                let script = r#"exec 3<&0
"$@" & p=$!
{ read _ignored <&3; kill "$p" 2>/dev/null; } &
trap 'kill "$p" 2>/dev/null; exit 0' INT TERM HUP
wait "$p""#;
                let mut child = Command::new("sh")
                    .arg("-c")
                    .arg(script)
                    .arg("lab")
                    .arg(program)
                    .args(args)
                    .stdin(Stdio::piped())
                    .stdout(log_file.try_clone()?)
                    .stderr(log_file)
                    .spawn()
                    .with_context(|| format!("starting {program}"))?;
                let stdin = child.stdin.take();
                Ok(Proc::Owned { child, stdin })
            }
            Keep::Detached => {
                use std::os::unix::process::CommandExt as _;
                let child = Command::new(program)
                    .args(args)
                    .stdin(Stdio::null())
                    .stdout(log_file.try_clone()?)
                    .stderr(log_file)
                    .process_group(0)
                    .spawn()
                    .with_context(|| format!("starting {program}"))?;
                Ok(Proc::Detached { pid: child.id() })
            }
        }
    }

    /// A watcher that removes `dir` once its owner is gone (pipe closed).
    pub fn janitor(dir: &Path) -> Result<Proc> {
        let mut child = Command::new("sh")
            .arg("-c")
            // Ctrl-C must not stop it before its owner is gone.
            .arg(r#"trap '' INT; read _ignored; sleep 1; rm -rf "$0""#)
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting the lab janitor")?;
        let stdin = child.stdin.take();
        Ok(Proc::Owned { child, stdin })
    }

    /// True while the process runs.
    pub fn running(&mut self) -> bool {
        match self {
            Proc::Owned { child, .. } => matches!(child.try_wait(), Ok(None)),
            // A detached child that exited is a zombie until this process ends.
            Proc::Detached { pid } => alive(*pid),
        }
    }

    /// The pid of a detached process.
    pub fn pid(&self) -> Option<u32> {
        match self {
            Proc::Detached { pid } => Some(*pid),
            Proc::Owned { .. } => None,
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Proc::Owned { child, stdin } = self {
            if let Some(mut s) = stdin.take() {
                let _ = s.write_all(b"\n");
            }
            let _ = child.wait();
        }
    }
}

/// True while `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

/// Stops the process group led by `pid` (the lab starts detached processes in their
/// own group): SIGTERM, up to 3 s of grace, then SIGKILL.
pub fn stop_group(pid: u32) {
    let signal = |sig: &str| {
        let _ = Command::new("kill")
            .args([sig, "--", &format!("-{pid}")])
            .stderr(Stdio::null())
            .status();
        // A leader that is not a group leader (an older lab): the pid alone.
        let _ = Command::new("kill")
            .args([sig, &pid.to_string()])
            .stderr(Stdio::null())
            .status();
    };
    signal("-TERM");
    let deadline = Instant::now() + Duration::from_secs(3);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if alive(pid) {
        signal("-KILL");
    }
}

/// Waits until `url` answers with one of `ok_statuses`.
fn wait_http(
    agent: &ureq::Agent,
    url: &str,
    ok_statuses: &[u16],
    proc: &mut Proc,
    log: &Path,
) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // A short bound per probe: whatever holds the port may accept and never answer.
        let probe = agent
            .get(url)
            .config()
            .timeout_global(Some(Duration::from_secs(1)))
            .build()
            .call();
        if let Ok(r) = probe
            && ok_statuses.contains(&r.status().as_u16())
        {
            return Ok(());
        }
        if !proc.running() || Instant::now() > deadline {
            bail!(
                "{url} did not come up; log {}:\n{}",
                log.display(),
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until something accepts connections on `addr`.
fn wait_tcp(addr: &str, proc: &mut Proc, log: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        if !proc.running() || Instant::now() > deadline {
            bail!(
                "{addr} did not come up; log {}:\n{}",
                log.display(),
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// The ports of one lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// nginx front of the open registry.
    pub plain: u16,
    /// nginx front of the token registry.
    pub token: u16,
    /// TLS + htpasswd registry.
    pub basic: u16,
    /// TLS + client-certificate registry.
    pub mtls: u16,
    /// Token registry whose issuer is down.
    pub issuer_down: u16,
    /// The helper (issuer + pager).
    pub helper: u16,
    /// Backend: open registry.
    pub plain_backend: u16,
    /// Backend: token registry.
    pub token_backend: u16,
    /// CDN for the open registry, http, on 127.0.0.2 (distribution's redirect middleware
    /// keeps only scheme and host of its base URL, so each registry gets its own port).
    pub cdn_plain: u16,
    /// CDN for the token registry, http, on 127.0.0.2.
    pub cdn_token: u16,
    /// CDN, https, on 127.0.0.2.
    pub cdn_https: u16,
    /// A port nothing listens on (the dead realm).
    pub dead: u16,
    /// The helper's CONNECT proxy (for `HTTP(S)_PROXY` tests).
    pub proxy: u16,
}

impl Ports {
    /// Thirteen distinct ports, free on 127.0.0.1 and 127.0.0.2 when picked, from below
    /// the kernel's ephemeral range: outgoing connections never take them, so only
    /// another lab starting at the same moment can, and [`Lab::start`] retries then.
    /// (Ports picked by the OS with bind-and-drop come from the ephemeral range, where
    /// any client connection may take them before the server binds.)
    pub fn random() -> Result<Ports> {
        Ports::held().map(|(ports, _released)| ports)
    }

    /// [`Ports::random`], with the listeners that held the ports while they were picked
    /// (one pair, on 127.0.0.1 and 127.0.0.2, per port, in [`Ports::named`] order), so a
    /// caller can keep one taken with no moment in which another program could take it.
    fn held() -> Result<(Ports, Vec<(TcpListener, TcpListener)>)> {
        let (low, _) = ephemeral_range();
        let (from, to) = if low > 12_000 {
            (10_000u32, u32::from(low))
        } else {
            (u32::from(low.max(1024)), 60_000)
        };
        let mut x = u64::from(std::process::id())
            ^ SystemTimeNanos::now()
            ^ u64::from(PICKS.fetch_add(1, Ordering::Relaxed)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut held = Vec::new();
        let mut picked: Vec<u16> = Vec::new();
        for _ in 0..10_000 {
            if picked.len() == 13 {
                break;
            }
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let span = u64::from(to - from);
            let port = u16::try_from(u64::from(from) + x % span).unwrap_or(20_000);
            if picked.contains(&port) {
                continue;
            }
            // Hold each one until all are picked, so the thirteen are distinct.
            if let (Ok(a), Ok(b)) = (
                TcpListener::bind(("127.0.0.1", port)),
                TcpListener::bind(("127.0.0.2", port)),
            ) {
                held.push((a, b));
                picked.push(port);
            }
        }
        if picked.len() < 13 {
            bail!("could not find 13 free ports between {from} and {to}");
        }
        let p = |i: usize| picked[i];
        let ports = Ports {
            plain: p(0),
            token: p(1),
            basic: p(2),
            mtls: p(3),
            issuer_down: p(4),
            helper: p(5),
            plain_backend: p(6),
            token_backend: p(7),
            cdn_plain: p(8),
            cdn_token: p(9),
            cdn_https: p(10),
            dead: p(11),
            proxy: p(12),
        };
        Ok((ports, held))
    }

    /// Every port with its name (for `lab.json`).
    pub fn named(&self) -> Vec<(String, Value)> {
        [
            ("plain", self.plain),
            ("token", self.token),
            ("basic", self.basic),
            ("mtls", self.mtls),
            ("issuer_down", self.issuer_down),
            ("helper", self.helper),
            ("plain_backend", self.plain_backend),
            ("token_backend", self.token_backend),
            ("cdn_plain", self.cdn_plain),
            ("cdn_token", self.cdn_token),
            ("cdn_https", self.cdn_https),
            ("dead", self.dead),
            ("proxy", self.proxy),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect()
    }

    /// Consecutive ports from `base` (recordings use fixed ports so URLs are stable).
    pub fn fixed(base: u16) -> Ports {
        Ports {
            plain: base,
            token: base + 1,
            basic: base + 2,
            mtls: base + 3,
            issuer_down: base + 4,
            helper: base + 5,
            plain_backend: base + 6,
            token_backend: base + 7,
            cdn_plain: base + 8,
            cdn_https: base + 9,
            dead: base + 10,
            cdn_token: base + 11,
            proxy: base + 12,
        }
    }
}

static PICKS: AtomicU32 = AtomicU32::new(0);

struct SystemTimeNanos;

impl SystemTimeNanos {
    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    }
}

/// The kernel's ephemeral port range (where bind-to-0 and outgoing connections pick).
fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|n| n.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32_768, 60_999))
}

/// Everything a client needs to know about a running lab; saved as `lab.json`.
#[derive(Debug, Clone)]
pub struct LabInfo {
    /// The lab's directory (config, certs, data, logs).
    pub dir: PathBuf,
    /// Ports.
    pub ports: Ports,
    /// The lab user's password (a throw-away).
    pub password: String,
    /// Pids of detached processes.
    pub pids: Vec<u32>,
}

impl LabInfo {
    /// `127.0.0.1:PORT` of the open registry's front.
    pub fn plain(&self) -> String {
        format!("127.0.0.1:{}", self.ports.plain)
    }
    /// `127.0.0.1:PORT` of the token registry's front.
    pub fn token(&self) -> String {
        format!("127.0.0.1:{}", self.ports.token)
    }
    /// `127.0.0.1:PORT` of the TLS + Basic registry.
    pub fn basic(&self) -> String {
        format!("127.0.0.1:{}", self.ports.basic)
    }
    /// `127.0.0.1:PORT` of the mTLS registry.
    pub fn mtls(&self) -> String {
        format!("127.0.0.1:{}", self.ports.mtls)
    }
    /// `127.0.0.1:PORT` of the token registry whose issuer is down.
    pub fn issuer_down(&self) -> String {
        format!("127.0.0.1:{}", self.ports.issuer_down)
    }
    /// `127.0.0.1:PORT` where nothing listens: picked with the others, below the
    /// ephemeral range, so neither an outgoing connection nor a test server bound to
    /// port 0 can take it while the lab runs.
    pub fn dead(&self) -> String {
        format!("127.0.0.1:{}", self.ports.dead)
    }
    /// The token realm.
    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.ports.helper)
    }
    /// The lab CA (PEM file).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }
    /// A certs.d-style directory for the TLS registries (`ca.crt`, `client.cert`, `client.key`).
    pub fn cert_dir(&self) -> PathBuf {
        self.dir.join("certs.d")
    }
    /// `http://127.0.0.1:PORT`, a forward proxy.
    pub fn proxy(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.proxy)
    }

    /// The forward proxy's access log.
    pub fn proxy_log(&self) -> PathBuf {
        self.dir.join("proxy.log")
    }

    /// The CDN's access log.
    pub fn cdn_log(&self) -> PathBuf {
        self.dir.join("cdn.log")
    }
    /// The lab user's identity token (OAuth2 refresh token) for the token registry.
    pub fn identity_token(&self) -> String {
        token::identity_token(&self.password)
    }

    /// `user:password` of the lab user.
    pub fn creds(&self) -> String {
        format!("{}:{}", token::USER, self.password)
    }

    fn to_json(&self) -> Value {
        json!({
            "dir": self.dir, "password": self.password, "pids": self.pids,
            "ports": self.ports.named().into_iter().collect::<serde_json::Map<String, Value>>(),
        })
    }

    /// Reads `lab.json`.
    pub fn load(path: &Path) -> Result<LabInfo> {
        let v: Value = serde_json::from_slice(
            &std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        )?;
        let port = |name: &str| -> Result<u16> {
            v["ports"][name]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .with_context(|| format!("{}: no port {name:?}", path.display()))
        };
        Ok(LabInfo {
            dir: PathBuf::from(v["dir"].as_str().context("dir")?),
            ports: Ports {
                plain: port("plain")?,
                token: port("token")?,
                basic: port("basic")?,
                mtls: port("mtls")?,
                issuer_down: port("issuer_down")?,
                helper: port("helper")?,
                plain_backend: port("plain_backend")?,
                token_backend: port("token_backend")?,
                cdn_plain: port("cdn_plain")?,
                cdn_token: port("cdn_token")?,
                cdn_https: port("cdn_https")?,
                dead: port("dead")?,
                proxy: port("proxy")?,
            },
            password: v["password"].as_str().context("password")?.to_owned(),
            pids: v["pids"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|p| p.as_u64().map(|p| p as u32))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// The push target for each registry, with the lab's credentials.
    pub fn targets(&self) -> Result<Targets> {
        let ca = std::fs::read_to_string(self.ca_file())?;
        let pki_key = std::fs::read(self.dir.join("issuer.pk8"))?;
        let kid = std::fs::read_to_string(self.dir.join("issuer.kid"))?;
        let issuer = std::sync::Arc::new(token::Issuer::new(&pki_key, &kid, &self.password)?);
        let basic_auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(self.creds())
        );
        let user_auth = basic_auth.clone();
        Ok(Targets {
            plain: push::Target::open(&format!("http://127.0.0.1:{}", self.ports.plain_backend)),
            token: push::Target {
                base: format!("http://127.0.0.1:{}", self.ports.token_backend),
                agent: push::agent(),
                auth: Box::new(move |repo| {
                    let scope = format!("repository:{repo}:pull,push");
                    match issuer.grant(Some(&user_auth), &[scope]).ok()? {
                        token::Grant::Token(v) => Some(format!("Bearer {}", v["token"].as_str()?)),
                        token::Grant::Denied => None,
                    }
                }),
            },
            basic: push::Target {
                base: format!("https://{}", self.basic()),
                agent: push::agent_with_ca(Some(&ca)),
                auth: Box::new(move |_| Some(basic_auth.clone())),
            },
        })
    }
}

/// Push targets for the registries that get content.
pub struct Targets {
    /// The open registry (backend).
    pub plain: push::Target,
    /// The token registry (backend), with minted push tokens.
    pub token: push::Target,
    /// The TLS + Basic registry.
    pub basic: push::Target,
}

/// A running lab.
pub struct Lab {
    /// Where everything is.
    pub info: LabInfo,
    /// What was pushed (deterministic, so also valid for a lab started elsewhere).
    pub seeded: image::Seeded,
    procs: Vec<Proc>,
    helper: Option<helper::Helper>,
    owned: bool,
    /// Delay relays in front of every client-facing address (benchmarks).
    pub relays: Vec<relay::Relay>,
}

fn registry_config(dir: &Path, name: &str, addr: &str, extra: &str) -> Result<PathBuf> {
    // The mTLS registry serves the Basic registry's content.
    let data = dir.join(format!(
        "{}-data",
        if name == "mtls" { "basic" } else { name }
    ));
    std::fs::create_dir_all(&data)?;
    let cfg = format!(
        "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n\
         http:\n  addr: {addr}\n  secret: regpeek-lab-not-a-secret\n{extra}",
        data = data.display()
    );
    let path = dir.join(format!("{name}.yml"));
    std::fs::write(&path, cfg)?;
    Ok(path)
}

fn redirect_to(base: &str) -> String {
    format!(
        "middleware:\n  storage:\n    - name: redirect\n      options:\n        baseurl: {base}\n"
    )
}

impl Lab {
    /// Starts a lab with random ports whose processes die with this process, and seeds it.
    /// A start that fails (another lab took a port at the same moment) is cleaned up and
    /// tried again with new ports, three times in all.
    pub fn start() -> Result<Lab> {
        Lab::with_retries(|| {
            let dir = scratch_dir("lab")?;
            let lab = Lab::start_in(&dir, Ports::random()?, Keep::Owned, None)?;
            lab.seed()?;
            Ok(lab)
        })
    }

    /// Runs `start` up to three times; every failed attempt has cleaned up after itself.
    pub fn with_retries(mut start: impl FnMut() -> Result<Lab>) -> Result<Lab> {
        let mut last = None;
        for attempt in 1..=3 {
            match start() {
                Ok(lab) => return Ok(lab),
                Err(e) => {
                    eprintln!("lab: start attempt {attempt} failed, cleaned up: {e:#}");
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("the lab did not start")))
    }

    /// The lab of `REGPEEK_LAB` (a `lab.json` written by `cargo xtask lab up`) when set,
    /// otherwise a fresh [`Lab::start`].
    pub fn shared() -> Result<Lab> {
        match std::env::var_os("REGPEEK_LAB") {
            Some(path) => Ok(Lab::shared_from(LabInfo::load(Path::new(&path))?)),
            None => Lab::start(),
        }
    }

    /// A handle on a lab started elsewhere (no processes owned).
    pub fn shared_from(info: LabInfo) -> Lab {
        Lab {
            info,
            seeded: image::Seeded::build(),
            procs: Vec::new(),
            helper: None,
            owned: false,
            relays: Vec::new(),
        }
    }

    /// Starts every lab process in `dir`. With `Keep::Detached`, `helper_cmd` is the
    /// command that runs the helper as its own process (`xtask lab helper DIR`);
    /// otherwise the helper runs on a thread of this process.
    ///
    /// Whatever goes wrong, nothing is left running: detached processes already started
    /// are stopped (with their process groups) and `lab.json` is removed; owned ones die
    /// with their handles. While starting, `lab.json` lists every pid started so far, so
    /// `lab down` finds them even if this process is killed halfway.
    pub fn start_in(
        dir: &Path,
        ports: Ports,
        keep: Keep,
        helper_cmd: Option<&[String]>,
    ) -> Result<Lab> {
        Lab::start_in_with(dir, ports, keep, helper_cmd, None)
    }

    /// A lab whose every client-facing address (the registries' fronts, the token
    /// issuer, the CDNs) sits behind a delay relay adding `rtt` per round trip, for
    /// benchmarks of round trips. Processes die with this process.
    pub fn start_with_rtt(rtt: Duration) -> Result<Lab> {
        Lab::with_retries(|| {
            let dir = scratch_dir("lab-rtt")?;
            let lab = Lab::start_in_with(&dir, Ports::random()?, Keep::Owned, None, Some(rtt))?;
            lab.seed()?;
            Ok(lab)
        })
    }

    /// [`Lab::start_in`], optionally behind delay relays.
    pub fn start_in_with(
        dir: &Path,
        ports: Ports,
        keep: Keep,
        helper_cmd: Option<&[String]>,
        rtt: Option<Duration>,
    ) -> Result<Lab> {
        let mut started: Vec<u32> = Vec::new();
        let result = Lab::start_inner(dir, ports, keep, helper_cmd, rtt, &mut started);
        if result.is_err() {
            for pid in started {
                stop_group(pid);
            }
            if keep == Keep::Detached {
                let _ = std::fs::remove_file(dir.join("lab.json"));
            }
        }
        result
    }

    fn start_inner(
        dir: &Path,
        ports: Ports,
        keep: Keep,
        helper_cmd: Option<&[String]>,
        rtt: Option<Duration>,
        started: &mut Vec<u32>,
    ) -> Result<Lab> {
        // With a relay, servers listen on internal ports and the advertised ones (in
        // realms, redirects and lab.json) belong to the relays.
        let mut listen = ports;
        let mut relays = Vec::new();
        if let Some(rtt) = rtt {
            let inner = Ports::random()?;
            listen.plain = inner.plain;
            listen.token = inner.token;
            listen.helper = inner.helper;
            listen.cdn_plain = inner.cdn_plain;
            listen.cdn_token = inner.cdn_token;
            for (host, public, internal) in [
                ("127.0.0.1", ports.plain, listen.plain),
                ("127.0.0.1", ports.token, listen.token),
                ("127.0.0.1", ports.helper, listen.helper),
                ("127.0.0.2", ports.cdn_plain, listen.cdn_plain),
                ("127.0.0.2", ports.cdn_token, listen.cdn_token),
            ] {
                let listener = TcpListener::bind((host, public))
                    .with_context(|| format!("binding the relay on {host}:{public}"))?;
                let target: std::net::SocketAddr = format!("{host}:{internal}").parse()?;
                relays.push(relay::start(listener, target, rtt)?);
            }
        }
        for bin in [REGISTRY_BIN, NGINX_BIN] {
            if !Path::new(bin).exists() {
                bail!(
                    "{bin} is missing: install Debian's docker-registry and nginx-light (`cargo xtask test` does this as root)"
                );
            }
        }
        std::fs::create_dir_all(dir)?;
        let pki = certs::Pki::generate()?;
        let password = format!(
            "lab-pw-{}",
            &image::sha256(pki.issuer_kid.as_bytes())[7..19]
        );
        let w = |name: &str, data: &[u8]| std::fs::write(dir.join(name), data);
        w("ca.crt", pki.ca_pem.as_bytes())?;
        w("server.crt", pki.server_cert_pem.as_bytes())?;
        w("server.key", pki.server_key_pem.as_bytes())?;
        w("issuer.crt", pki.issuer_cert_pem.as_bytes())?;
        w("issuer.pk8", &pki.issuer_key_pkcs8)?;
        w("issuer.kid", pki.issuer_kid.as_bytes())?;
        w("password", password.as_bytes())?;
        w("helper.port", ports.helper.to_string().as_bytes())?;
        w("proxy.port", ports.proxy.to_string().as_bytes())?;
        let certs_d = dir.join("certs.d");
        std::fs::create_dir_all(&certs_d)?;
        std::fs::write(certs_d.join("ca.crt"), &pki.ca_pem)?;
        std::fs::write(certs_d.join("client.cert"), &pki.client_cert_pem)?;
        std::fs::write(certs_d.join("client.key"), &pki.client_key_pem)?;
        let hash = bcrypt::hash(&password, 4)?;
        std::fs::write(dir.join("htpasswd"), format!("{}:{hash}\n", token::USER))?;

        let mut info = LabInfo {
            dir: dir.to_owned(),
            ports,
            password,
            pids: Vec::new(),
        };
        // Removes the lab directory once this process is gone, whichever way it ends;
        // declared before `procs`, so dropped (and run) after them.
        let janitor = match keep {
            Keep::Owned => Some(Proc::janitor(dir)?),
            Keep::Detached => None,
        };
        let mut procs = Vec::new();
        let agent = push::agent_with_ca(Some(&pki.ca_pem));
        let p = ports;
        let tls = |cas: &str| {
            format!(
                "  tls:\n    certificate: {}\n    key: {}\n{cas}",
                dir.join("server.crt").display(),
                dir.join("server.key").display()
            )
        };
        let token_auth = |realm: &str| {
            format!(
                "auth:\n  token:\n    realm: {realm}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                token::SERVICE,
                token::ISSUER,
                dir.join("issuer.crt").display()
            )
        };
        let cdn_plain = format!("http://127.0.0.2:{}/", p.cdn_plain);
        let cdn_token = format!("http://127.0.0.2:{}/", p.cdn_token);
        let cdn_https = format!("https://127.0.0.2:{}/", p.cdn_https);
        let registries: Vec<(&str, String, String, Vec<u16>)> = vec![
            (
                "plain",
                format!("127.0.0.1:{}", p.plain_backend),
                redirect_to(&cdn_plain),
                vec![200],
            ),
            (
                "token",
                format!("127.0.0.1:{}", p.token_backend),
                format!("{}{}", token_auth(&info.realm()), redirect_to(&cdn_token)),
                vec![401],
            ),
            (
                "basic",
                format!("127.0.0.1:{}", p.basic),
                format!(
                    "{}auth:\n  htpasswd:\n    realm: regpeek-lab-basic\n    path: {}\n{}",
                    tls(""),
                    dir.join("htpasswd").display(),
                    redirect_to(&cdn_https)
                ),
                vec![401],
            ),
            (
                "mtls",
                format!("127.0.0.1:{}", p.mtls),
                tls(&format!(
                    "    clientcas:\n      - {}\n",
                    dir.join("ca.crt").display()
                )),
                vec![],
            ),
            (
                "issuer-down",
                format!("127.0.0.1:{}", p.issuer_down),
                token_auth(&format!("http://127.0.0.1:{}/token", p.dead)),
                vec![401],
            ),
        ];
        for (name, addr, extra, ok) in &registries {
            let cfg = registry_config(dir, name, addr, extra)?;
            let log = dir.join(format!("{name}.log"));
            let mut proc = Proc::spawn(
                keep,
                &log,
                REGISTRY_BIN,
                &["serve", cfg.to_str().context("utf-8 path")?],
            )?;
            let scheme = if extra.contains("tls:") {
                "https"
            } else {
                "http"
            };
            if ok.is_empty() {
                wait_tcp(addr, &mut proc, &log)?;
            } else {
                wait_http(
                    &agent,
                    &format!("{scheme}://{addr}/v2/"),
                    ok,
                    &mut proc,
                    &log,
                )?;
            }
            record_started(dir, &mut info, started, &proc)?;
            procs.push(proc);
        }

        // The helper: the token issuer and the pager.
        let helper = match (keep, helper_cmd) {
            (Keep::Detached, Some(cmd)) => {
                let log = dir.join("helper.log");
                let args: Vec<&str> = cmd[1..].iter().map(String::as_str).collect();
                let mut proc = Proc::spawn(keep, &log, &cmd[0], &args)?;
                record_started(dir, &mut info, started, &proc)?;
                wait_http(
                    &agent,
                    &format!("http://127.0.0.1:{}/token", p.helper),
                    &[200],
                    &mut proc,
                    &log,
                )?;
                procs.push(proc);
                None
            }
            _ => {
                helper::start_connect_proxy(p.proxy, dir.join("proxy.log"))?;
                Some(helper::Helper::start(
                    listen.helper,
                    token::Issuer::new(&pki.issuer_key_pkcs8, &pki.issuer_kid, &info.password)?,
                )?)
            }
        };

        let nginx_conf = nginx_config(dir, &listen)?;
        let log = dir.join("nginx.log");
        let mut proc = Proc::spawn(
            keep,
            &log,
            NGINX_BIN,
            &[
                "-c",
                nginx_conf.to_str().context("utf-8")?,
                "-p",
                dir.to_str().context("utf-8")?,
            ],
        )?;
        record_started(dir, &mut info, started, &proc)?;
        wait_http(
            &agent,
            &format!("http://{}/v2/", info.plain()),
            &[200],
            &mut proc,
            &log,
        )?;
        procs.push(proc);

        procs.extend(janitor);
        std::fs::write(
            dir.join("lab.json"),
            serde_json::to_vec_pretty(&info.to_json())?,
        )?;
        Ok(Lab {
            info,
            seeded: image::Seeded::build(),
            procs,
            helper,
            owned: keep == Keep::Owned,
            relays,
        })
    }

    /// Runs the helper of the lab in `dir` until killed (the detached helper process).
    pub fn serve_helper(dir: &Path) -> Result<()> {
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name)).with_context(|| format!("reading {name}"))
        };
        let port: u16 = read("helper.port")?.trim().parse()?;
        let proxy: u16 = read("proxy.port")?.trim().parse()?;
        helper::start_connect_proxy(proxy, dir.join("proxy.log"))?;
        let key = std::fs::read(dir.join("issuer.pk8"))?;
        let issuer =
            token::Issuer::new(&key, read("issuer.kid")?.trim(), read("password")?.trim())?;
        helper::Helper::start(port, issuer)?.wait();
        Ok(())
    }

    /// Pushes the standard content: the open registry gets `lab/*` (with 150 tags and
    /// 40 layers) and `library/rich`, `library/multi` (to act as a Docker Hub mirror), the token registry `public/*` and `private/*`, the Basic one (whose storage the mTLS one shares) `lab/*` and `library/*`.
    pub fn seed(&self) -> Result<()> {
        let t = self.info.targets()?;
        self.seeded.push(&t.plain, "lab", true)?;
        // Docker Hub-shaped paths, for mirror tests.
        self.seeded.push(&t.plain, "library", false)?;
        self.seeded.push(&t.token, "public", true)?;
        self.seeded.push(&t.token, "private", false)?;
        self.seeded.push(&t.basic, "lab", false)?;
        // The mTLS registry shares the Basic one's storage: a mirror that wants a
        // client certificate.
        self.seeded.push(&t.basic, "library", false)?;
        Ok(())
    }

    /// Stops a detached lab by its `lab.json` (also a half-written one from a start
    /// that was killed): every process group, then the directory.
    pub fn down(dir: &Path) -> Result<()> {
        // Only the pids matter here; tolerate a state file from an older layout.
        let state: Value =
            serde_json::from_slice(&std::fs::read(dir.join("lab.json"))?).unwrap_or(Value::Null);
        let pids = state["pids"].as_array().cloned().unwrap_or_default();
        for pid in pids.iter().filter_map(Value::as_u64) {
            if let Ok(pid) = u32::try_from(pid) {
                stop_group(pid);
            }
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
        Ok(())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.helper.take();
        self.procs.clear();
        if self.owned {
            let _ = std::fs::remove_dir_all(&self.info.dir);
        }
    }
}

/// Notes a started detached process: in `started` (to stop it if the start fails) and
/// in `lab.json` (so that `lab down` finds it even if this process dies first).
fn record_started(
    dir: &Path,
    info: &mut LabInfo,
    started: &mut Vec<u32>,
    proc: &Proc,
) -> Result<()> {
    if let Some(pid) = proc.pid() {
        started.push(pid);
        info.pids.push(pid);
        std::fs::write(
            dir.join("lab.json"),
            serde_json::to_vec_pretty(&info.to_json())?,
        )?;
    }
    Ok(())
}

fn nginx_config(dir: &Path, p: &Ports) -> Result<PathBuf> {
    let d = dir.display();
    let tmp = dir.join("nginx-tmp");
    std::fs::create_dir_all(&tmp)?;
    let front = |port: u16, backend: u16| {
        format!(
            r#"
  server {{
    listen 127.0.0.1:{port};
    location ~ ^/v2/(.+/tags/list|_catalog)$ {{
      proxy_pass http://127.0.0.1:{helper};
      proxy_set_header Host $http_host;
      proxy_set_header X-Lab-Backend http://127.0.0.1:{backend};
    }}
    location / {{
      proxy_pass http://127.0.0.1:{backend};
      proxy_set_header Host $http_host;
      proxy_buffering off;
      proxy_request_buffering off;
    }}
  }}"#,
            helper = p.helper
        )
    };
    let conf = format!(
        r#"worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_max_body_size 0;
  client_body_temp_path {t}/body;
  proxy_temp_path {t}/proxy;
  fastcgi_temp_path {t}/fastcgi;
  uwsgi_temp_path {t}/uwsgi;
  scgi_temp_path {t}/scgi;
  types {{ }}
  default_type application/octet-stream;
  log_format cdn '$server_port "$request" $status authorization="$http_authorization"';
{plain}
{token}
  server {{
    listen 127.0.0.2:{cdn_plain};
    access_log {d}/cdn.log cdn;
    root {d}/plain-data;
  }}
  server {{
    listen 127.0.0.2:{cdn_token};
    access_log {d}/cdn.log cdn;
    root {d}/token-data;
  }}
  server {{
    listen 127.0.0.2:{cdn_https} ssl;
    ssl_certificate {d}/server.crt;
    ssl_certificate_key {d}/server.key;
    access_log {d}/cdn.log cdn;
    root {d}/basic-data;
  }}
}}
"#,
        t = tmp.display(),
        plain = front(p.plain, p.plain_backend),
        token = front(p.token, p.token_backend),
        cdn_plain = p.cdn_plain,
        cdn_token = p.cdn_token,
        cdn_https = p.cdn_https,
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tests that pick ports take turns: while one holds its picks, another's bind of
    /// a port it was just given could fail (a CI run did, once).
    static PICKING: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn picking() -> std::sync::MutexGuard<'static, ()> {
        PICKING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Pids of live processes whose command line mentions `needle`.
    fn processes_mentioning(needle: &str) -> Vec<u32> {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| alive(*pid))
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
            })
            .collect()
    }

    #[test]
    fn ports_are_distinct_and_outside_the_ephemeral_range() {
        let _turn = picking();
        let (low, high) = ephemeral_range();
        for _ in 0..20 {
            let p = Ports::random().unwrap();
            let mut all: Vec<u16> = p
                .named()
                .iter()
                .map(|(_, v)| u16::try_from(v.as_u64().unwrap()).unwrap())
                .collect();
            assert!(
                all.iter().all(|port| *port < low || *port > high),
                "{all:?}"
            );
            all.sort_unstable();
            all.dedup();
            assert_eq!(all.len(), 13);
        }
    }

    /// Ctrl-C reaches an owned process's wrapper (and the process, which ignores it as
    /// a background job): the wrapper's trap stops the process.
    #[test]
    fn an_interrupted_owner_leaves_no_owned_process() {
        let scratch = tempfile::Builder::new()
            .prefix("regpeek-lab-sigint-")
            .tempdir()
            .unwrap();
        let dir = scratch.path().to_owned();
        let marker = format!("{}.4242", std::process::id());
        let sleeping = || -> Vec<u32> {
            processes_mentioning(&marker)
                .into_iter()
                .filter(|pid| {
                    std::fs::read(format!("/proc/{pid}/cmdline"))
                        .is_ok_and(|c| c.starts_with(b"sleep\0"))
                })
                .collect()
        };
        let proc = Proc::spawn(Keep::Owned, &dir.join("log"), "sleep", &[&marker]).unwrap();
        let Proc::Owned { child, .. } = &proc else {
            panic!("owned")
        };
        let wrapper = child.id();
        let deadline = Instant::now() + Duration::from_secs(15);
        while sleeping().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            !sleeping().is_empty(),
            "the owned process did not start: {:?}",
            processes_mentioning(&marker)
                .iter()
                .map(|p| std::fs::read_to_string(format!("/proc/{p}/cmdline")).unwrap_or_default())
                .collect::<Vec<_>>()
        );
        Command::new("kill")
            .args(["-INT", &wrapper.to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        while !sleeping().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            sleeping().is_empty(),
            "still running after SIGINT to the wrapper"
        );
        drop(proc);

        // And when the owner lets go (or dies), the watcher stops it.
        let proc = Proc::spawn(Keep::Owned, &dir.join("log"), "sleep", &[&marker]).unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        while sleeping().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!sleeping().is_empty(), "the owned process did not start");
        drop(proc);
        assert!(
            sleeping().is_empty(),
            "still running after its owner let go"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A start that fails halfway (a port taken by someone else) leaves no process
    /// running and no lab.json behind, so `lab status` tells the truth.
    #[test]
    fn a_failed_start_leaves_nothing_running() {
        if !Path::new(REGISTRY_BIN).exists() {
            panic!("{REGISTRY_BIN} is missing: run `cargo xtask test` (it installs it as root)");
        }
        let scratch = tempfile::Builder::new()
            .prefix("regpeek-lab-failed-start-")
            .tempdir()
            .unwrap();
        let dir = scratch.path().to_owned();
        let _turn = picking();
        let (ports, mut held) = Ports::held().unwrap();
        // The third registry cannot bind: the first two have started by then. Its port
        // stays held from the pick on (binding it again after the pick raced with
        // whoever picks ports at the same time).
        let _squatter = held.swap_remove(2);
        assert_eq!(
            _squatter.0.local_addr().unwrap().port(),
            ports.basic,
            "held() keeps the named() order"
        );
        drop(held);
        let Err(e) = Lab::start_in(&dir, ports, Keep::Detached, None) else {
            panic!("the start should fail on the taken port");
        };
        // (It fails on the taken port, unless another port of the thirteen was taken
        // first: either way, a start that failed halfway.)
        eprintln!("the start failed as it should: {e:#}");
        assert!(!dir.join("lab.json").exists(), "lab.json left behind");
        let needle = dir.to_str().unwrap();
        let left = processes_mentioning(needle);
        assert!(left.is_empty(), "processes left running: {left:?}");
    }
}
