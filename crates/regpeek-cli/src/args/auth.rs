//! The flags of `login`, `logout` and `auth show`: each lists only what it uses.

use std::path::PathBuf;

use clap::Args;

use super::common::{Common, CredentialFlags, Reach};

/// `login`'s flags: the credentials to check and store, where to store them, and how
/// to reach the registry (no platform, no stored-credential switches).
#[derive(Debug, Args, Clone)]
pub struct LoginArgs {
    /// Credentials to check and store (a password is prompted for on a terminal when
    /// missing).
    #[arg(long, value_name = "USER[:PASSWORD]", conflicts_with = "username")]
    pub creds: Option<String>,
    /// User name (as `docker login -u`); the password comes from --password-stdin,
    /// --password or a prompt.
    #[arg(short = 'u', long, value_name = "USER")]
    pub username: Option<String>,
    /// The password on the command line (as `docker login -p`; insecure: it stays in
    /// your shell history and in the process list; prefer --password-stdin).
    #[arg(
        short = 'p',
        long,
        value_name = "PASSWORD",
        requires = "username",
        conflicts_with = "password_stdin"
    )]
    pub password: Option<String>,
    /// Read the password from standard input (with --username).
    #[arg(long, requires = "username")]
    pub password_stdin: bool,
    /// containers auth file to store them in, instead of Docker's config.json (default
    /// $REGISTRY_AUTH_FILE).
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
    #[command(flatten)]
    pub reach: Reach,
    /// Trace HTTP on stderr (secrets redacted).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

impl LoginArgs {
    /// As the common flags (`--password` becomes `--creds USER:PASSWORD`).
    pub fn common(&self) -> Common {
        let creds = match (&self.username, &self.password) {
            (Some(u), Some(p)) => Some(format!("{u}:{p}")),
            _ => self.creds.clone(),
        };
        Common {
            credentials: CredentialFlags {
                username: if self.password.is_some() {
                    None
                } else {
                    self.username.clone()
                },
                creds,
                password_stdin: self.password_stdin,
                authfile: self.authfile.clone(),
                ..CredentialFlags::default()
            },
            reach: self.reach.clone(),
            verbose: self.verbose,
            ..Common::unset()
        }
    }
}

/// `logout`'s flags.
#[derive(Debug, Args, Clone)]
pub struct LogoutArgs {
    /// containers auth file to remove them from, instead of Docker's config.json
    /// (default $REGISTRY_AUTH_FILE).
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
}

impl LogoutArgs {
    /// As the common flags.
    pub fn common(&self) -> Common {
        Common {
            credentials: CredentialFlags {
                authfile: self.authfile.clone(),
                ..CredentialFlags::default()
            },
            ..Common::unset()
        }
    }
}

/// `auth show`'s flags: where credentials would come from.
#[derive(Debug, Args, Clone)]
pub struct AuthArgs {
    #[command(flatten)]
    pub credentials: CredentialFlags,
}

impl AuthArgs {
    /// As the common flags.
    pub fn common(&self) -> Common {
        Common {
            credentials: self.credentials.clone(),
            ..Common::unset()
        }
    }
}
