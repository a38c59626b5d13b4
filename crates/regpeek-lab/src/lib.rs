//! The local registry lab: real CNCF distribution (`docker-registry`) on loopback and
//! deterministic test images built without a Docker engine.
//!
//! Used by `cargo xtask demo`, the live tests and the benchmarks. Everything binds to
//! 127.0.0.1 and everything it starts dies with the process that started it.

pub mod fixture;
pub mod image;
pub mod push;
pub mod replay;

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Where Debian's `docker-registry` package puts the binary.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// The Debian packages the lab and the tests need.
pub const PACKAGES: &[(&str, &str)] = &[
    ("docker-registry", REGISTRY_BIN),
    ("skopeo", "/usr/bin/skopeo"),
    ("nginx-light", "/usr/sbin/nginx"),
    ("openssl", "/usr/bin/openssl"),
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

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
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

/// A process supervised through a pipe: when this handle (or the whole test process)
/// goes away, the pipe closes and the wrapper kills the process and removes its
/// scratch directory. No process outlives its owner.
pub struct Supervised {
    child: Child,
    stdin: Option<ChildStdin>,
    /// The scratch directory the process works in.
    pub dir: PathBuf,
}

impl Supervised {
    /// Starts `program args…` under the pipe watchdog, logging to `dir/<name>.log`.
    pub fn spawn(name: &str, dir: &Path, program: &str, args: &[&str]) -> Result<Supervised> {
        let log = std::fs::File::create(dir.join(format!("{name}.log")))?;
        // $0 = dir, $1.. = command. The wrapper waits for EOF on stdin, then cleans up.
        let script = r#"dir="$0"; "$@" & p=$!; read _ignored; kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; rm -rf "$dir""#;
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(dir)
            .arg(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {program}"))?;
        let mut s = Supervised {
            child,
            stdin: None,
            dir: dir.to_owned(),
        };
        s.stdin = s.child.stdin.take();
        Ok(s)
    }

    /// The log the process has written so far.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default()
    }

    /// True while the process runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        if let Some(mut s) = self.stdin.take() {
            let _ = s.write_all(b"\n");
        }
        let _ = self.child.wait();
    }
}

/// A running distribution registry with no auth, plain http, on 127.0.0.1.
pub struct Registry {
    /// `127.0.0.1:PORT`.
    pub host: String,
    process: Supervised,
}

impl Registry {
    /// Writes a config into a scratch dir and starts `docker-registry serve` on a free
    /// port; returns once `/v2/` answers.
    pub fn start() -> Result<Registry> {
        Registry::start_on(free_port()?)
    }

    /// Like [`Registry::start`], on a chosen port (recordings use a fixed one so that
    /// re-recording does not churn every URL).
    pub fn start_on(port: u16) -> Result<Registry> {
        if !Path::new(REGISTRY_BIN).exists() {
            bail!(
                "{REGISTRY_BIN} is missing: install Debian's docker-registry package \
                 (`cargo xtask test` and `cargo xtask demo` do this when run as root)"
            );
        }
        let dir = scratch_dir("registry")?;
        let host = format!("127.0.0.1:{port}");
        let config = format!(
            "version: 0.1\n\
             log:\n  level: warn\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n\
             http:\n  addr: {host}\n  secret: regpeek-lab-not-a-secret\n",
            data = dir.join("data").display()
        );
        let cfg_path = dir.join("config.yml");
        std::fs::write(&cfg_path, config)?;
        let process = Supervised::spawn(
            "registry",
            &dir,
            REGISTRY_BIN,
            &["serve", cfg_path.to_str().context("non-UTF-8 temp dir")?],
        )?;
        let mut reg = Registry { host, process };
        reg.wait_ready()?;
        Ok(reg)
    }

    fn wait_ready(&mut self) -> Result<()> {
        let agent = push::agent();
        let url = format!("http://{}/v2/", self.host);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = agent.get(&url).call() {
                if r.status() == 200 {
                    return Ok(());
                }
            }
            if !self.process.running() || Instant::now() > deadline {
                bail!(
                    "the registry did not come up on {}; its log:\n{}",
                    self.host,
                    self.process.log("registry")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.host)
    }
}

/// A registry with the standard test images pushed.
pub struct Lab {
    /// The registry.
    pub registry: Registry,
    /// What was pushed.
    pub seeded: image::Seeded,
}

impl Lab {
    /// Starts a registry and pushes [`image::Seeded`]'s images.
    pub fn start() -> Result<Lab> {
        Lab::on(Registry::start()?)
    }

    /// Pushes the standard images to a registry that is already up.
    pub fn on(registry: Registry) -> Result<Lab> {
        let seeded = image::Seeded::build();
        seeded.push(&registry.base())?;
        Ok(Lab { registry, seeded })
    }
}
