//! `regpeek`: inspect container images in remote registries without pulling them.
//!
//! `main` parses the command line, opens a [`session::Session`] (cache, recording or
//! replay, output), runs the command's module (`commands/`), and maps its error to one
//! line, a hint and an exit code. The protocol is the core's; what each command does
//! is in its module.

mod args;
mod commands;
mod diff;
mod errors;
mod flags;
mod hints;
mod inputs;
mod jq;
mod layers;
mod local;
mod output;
mod pinning;
mod pipeline;
mod record;
mod session;
mod summary;
mod versions;

use std::process::ExitCode;
use std::time::SystemTime;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::errors::{Usage, broken_pipe};

fn main() -> ExitCode {
    execute(std::env::args_os().collect(), None)
}

/// Parses a command line, runs it and says how it ended (also for the command line a
/// recording holds, run again by `replay`).
fn execute(argv: Vec<std::ffi::OsString>, replayed: Option<session::Replayed>) -> ExitCode {
    // The command's deadline counts from here.
    let started = SystemTime::now();
    let argv = flags::hoist_command_flags(argv);
    let mut cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and --version go to stdout and succeed; usage errors say `regpeek:`
            // like every other error, and exit 2.
            if !e.use_stderr() {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            let text = e.render().to_string();
            let text = text.strip_prefix("error: ").unwrap_or(&text);
            eprint!("regpeek: error: {text}");
            return ExitCode::from(2);
        }
    };
    // `diff` and `base` exit 2 on error, as diff(1) does (1 means "they differ", "a
    // rebuild is due"); so does `exists` (1 means "missing").
    let error_code = if matches!(
        cli.command,
        Command::Diff { .. } | Command::Base { .. } | Command::Exists { .. }
    ) {
        2
    } else {
        1
    };
    // A recording comes from a stranger: what it may not do is refused first.
    if let Some(r) = &replayed
        && let Err(err) = commands::replay::refuse_unsafe(&cli, &argv[1..], &r.dir)
    {
        return report(&err, None, 2);
    }
    if let (Command::Replay { dir }, None) = (&cli.command, &cli.record) {
        return match commands::replay::replay(dir, execute) {
            Ok(code) => code,
            Err(err) => report(&err, None, 1),
        };
    }
    let session = match session::Session::open(&mut cli, &argv[1..], started, replayed) {
        Ok(s) => s,
        Err(err) => return report(&err, None, error_code),
    };
    let stdout = std::io::stdout();
    let mut result = commands::run(&cli, &session, &mut stdout.lock());
    session.save_tokens();
    session.say_pulls(matches!(cli.command, Command::Platforms { .. }));
    // A recording is written however the command ended.
    if let Err(e) = session.finish_recording()
        && result.is_ok()
    {
        result = Err(e);
    }
    match result {
        Ok(code) => code,
        Err(err) => report(&err, Some(&session), error_code),
    }
}

/// Says what went wrong in one line (and a hint when there is an obvious next step);
/// the exit code: 2 for usage errors, `error_code` otherwise, 0 when nobody reads.
fn report(err: &anyhow::Error, session: Option<&session::Session>, error_code: u8) -> ExitCode {
    if broken_pipe(err) {
        // The reader went away (`regpeek … | head`): nothing to say.
        return ExitCode::SUCCESS;
    }
    // Error text carries server-controlled strings: escape it for the terminal.
    eprintln!(
        "regpeek: error: {}",
        output::safe_line(&local::humane(&format!("{err:#}")))
    );
    if let Some(hint) = session.and_then(|s| hints::hint(err, s)) {
        eprintln!("hint: {}", output::safe_line(&hint));
    }
    if err.downcast_ref::<Usage>().is_some() {
        return ExitCode::from(2);
    }
    ExitCode::from(error_code)
}
