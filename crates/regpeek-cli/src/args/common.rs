//! The flags every command that talks to a registry shares: platform, credentials,
//! how to reach the registry, the trace.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Platform to pick from a multi-platform image: os/arch[/variant] (default: this
    /// machine's, on linux).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    #[command(flatten)]
    pub credentials: CredentialFlags,
    #[command(flatten)]
    pub reach: Reach,
    /// The OS to pick from a multi-platform image (skopeo's spelling; with
    /// --override-arch and --override-variant it stands for --platform).
    #[arg(long, value_name = "OS", conflicts_with = "platform")]
    pub override_os: Option<String>,
    /// The architecture to pick (skopeo's spelling).
    #[arg(long, value_name = "ARCH", conflicts_with = "platform")]
    pub override_arch: Option<String>,
    /// The CPU variant to pick (skopeo's spelling).
    #[arg(long, value_name = "VARIANT", conflicts_with = "platform")]
    pub override_variant: Option<String>,
    /// Trace HTTP on stderr (secrets redacted).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// When the reference being answered started (`None`: the command's start): a
    /// reference of a batch has the whole `--timeout` from here.
    #[arg(skip)]
    pub started: Option<std::time::SystemTime>,
}

impl Common {
    /// No flag given: what each command's own flags start from.
    pub(crate) fn unset() -> Common {
        Common {
            platform: None,
            credentials: CredentialFlags::default(),
            reach: Reach {
                plain_http: false,
                ca_file: None,
                cert_dir: None,
                insecure: false,
                timeout: 30.0,
                http: HttpVersion::Auto,
                http2_prior_knowledge: false,
                pull_budget: None,
                tls_verify: None,
            },
            override_os: None,
            override_arch: None,
            override_variant: None,
            verbose: 0,
            started: None,
        }
    }

    /// These flags for a reference that starts now: its deadline counts from here.
    pub fn starting_now(&self) -> Common {
        Common {
            started: Some(std::time::SystemTime::now()),
            ..self.clone()
        }
    }
}

/// The credentials a command that talks to a registry uses: given on the command
/// line, or looked up in the credential files (`auth show` takes the same flags).
#[derive(Debug, Args, Clone, Default)]
pub struct CredentialFlags {
    /// Credentials for the registry (a password is prompted for on a terminal when
    /// missing).
    #[arg(long, value_name = "USER[:PASSWORD]", conflicts_with_all = ["username", "registry_token", "no_creds"])]
    pub creds: Option<String>,
    /// User name; the password comes from --password-stdin or a prompt.
    #[arg(long, value_name = "USER", conflicts_with_all = ["registry_token", "no_creds"])]
    pub username: Option<String>,
    /// Read the password from standard input (with --username).
    #[arg(long, requires = "username")]
    pub password_stdin: bool,
    /// A registry bearer token, sent as is.
    #[arg(long, value_name = "TOKEN", conflicts_with = "no_creds")]
    pub registry_token: Option<String>,
    /// Credentials for one registry of several (repeatable; a password missing is
    /// prompted for on a terminal). --creds, --username and --registry-token are for
    /// the one registry a command reaches.
    #[arg(long, value_name = "HOST=USER[:PASSWORD]", conflicts_with = "no_creds")]
    pub creds_for: Vec<String>,
    /// Ignore every stored credential: anonymous.
    #[arg(long)]
    pub no_creds: bool,
    /// containers auth file to read instead of the default ones (default
    /// $REGISTRY_AUTH_FILE).
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
}

/// How to reach a registry: scheme, trust, deadline (every command that sends a
/// request takes these).
#[derive(Debug, Args, Clone)]
pub struct Reach {
    /// Speak plain http to the registry (loopback registries fall back to it anyway).
    #[arg(long)]
    pub plain_http: bool,
    /// Trust this PEM CA bundle, in addition to the system's roots.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// certs.d-style directory for this registry (`*.crt` CAs, `*.cert`/`*.key` client
    /// certificate), instead of the certs.d search.
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
    /// Do not verify the registry's TLS certificate (dangerous; says so on stderr).
    #[arg(long)]
    pub insecure: bool,
    /// Give up after this many seconds for the whole command (0 = no deadline). A
    /// connection that sends nothing for 10 s is dropped either way.
    #[arg(long, value_name = "SECS", default_value_t = 30.0, value_parser = parse_timeout)]
    pub timeout: f64,
    /// Which HTTP: `auto` (HTTP/2 where a TLS registry offers it, else HTTP/1.1),
    /// `1.1`, or `2` (a TLS registry that does not offer HTTP/2 is an error). Plain
    /// http is HTTP/1.1 unless --http2-prior-knowledge.
    #[arg(long, value_name = "VERSION", value_enum, default_value_t = HttpVersion::Auto)]
    pub http: HttpVersion,
    /// Speak HTTP/2 to plain-http registries at once (h2c), without asking first.
    #[arg(long)]
    pub http2_prior_knowledge: bool,
    /// Send at most N manifest GETs (what Docker Hub counts as pulls) in this run;
    /// past it, what needs a GET fails, what a HEAD or the cache answers goes on.
    #[arg(long, value_name = "N")]
    pub pull_budget: Option<u64>,
    /// `false` is skopeo's spelling of --insecure (no certificate checks, and plain
    /// http when the registry does not speak TLS).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
}

/// `--http`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HttpVersion {
    /// HTTP/2 where offered.
    Auto,
    /// HTTP/1.1 only.
    #[value(name = "1.1")]
    Http1,
    /// HTTP/2 required over TLS.
    #[value(name = "2")]
    Http2,
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    let secs: f64 = s
        .trim_end_matches('s')
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !secs.is_finite() || !(0.0..=31_536_000.0).contains(&secs) {
        return Err(format!("{s:?}: give seconds from 0 to 31536000"));
    }
    Ok(secs)
}

/// A size as `cache prune --max-size` takes it: `100MB`, `1GiB`, `500K`, `2G`
/// (decimal for `KB`/`MB`/`GB`, binary for `KiB`/`MiB`/`GiB` and the bare letters, as
/// docker reads them); a bare number is MiB.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size (100MB, 1GiB, 500K)"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "m" | "mib" => 1 << 20,
        "b" => 1,
        "k" | "kib" => 1 << 10,
        "kb" => 1000,
        "mb" => 1000 * 1000,
        "g" | "gib" => 1 << 30,
        "gb" => 1000 * 1000 * 1000,
        _ => {
            return Err(format!(
                "{text:?}: unknown size unit (B, KB, MB, GB, KiB, MiB, GiB)"
            ));
        }
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// An age as `cache prune --older-than` takes it: a number and `s`, `m`, `h`, `d`
/// or `w`.
pub fn parse_age(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not an age (30d, 12h, 2w)"))?;
    let secs: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("{text:?}: give a unit: s, m, h, d or w (30d)")),
    };
    n.checked_mul(secs)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ages_as_cache_prune_takes_them() {
        assert_eq!(parse_size("100MB"), Ok(100_000_000));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("256"), Ok(256 << 20));
        assert_eq!(parse_size("500k"), Ok(500 << 10));
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("MB").is_err());
        assert!(parse_size("99999999999999999999GB").is_err());
        assert_eq!(parse_age("30d").unwrap().as_secs(), 30 * 86_400);
        assert_eq!(parse_age("2w").unwrap().as_secs(), 14 * 86_400);
        assert!(parse_age("30").is_err());
        assert!(parse_age("d").is_err());
    }
}

/// What a layer unpacks to, without a pull (`inspect`, `platforms`, `history`, `tags
/// --long`).
#[derive(Debug, Args, Clone, Copy, Default)]
pub struct SizeArgs {
    /// Add `UncompressedSize`, per layer and in total: from each gzip layer's 8-byte
    /// trailer or a zstd layer's frame header (one `Range` request each), an eStargz
    /// layer's TOC, an uncompressed layer's own size; kept in the cache for good.
    /// What cannot be trusted says `"Exact": false` and why.
    #[arg(long)]
    pub uncompressed: bool,
    /// With --uncompressed: read each layer whole and count what it unpacks to
    /// (checked against its digest), exact whatever the compression.
    #[arg(long, requires = "uncompressed")]
    pub exact: bool,
}
