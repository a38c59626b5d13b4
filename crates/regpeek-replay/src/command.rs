//! A command line recorded with its exchanges (`regpeek --record DIR`), and read back
//! for `regpeek replay DIR`: the settings that say what ran are written and read here
//! only, like the rest of the fixture format.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};

use crate::Recorder;
use crate::fixture::Scenario;

/// The setting that holds the recorded command line (JSON array of arguments).
const ARGV: &str = "argv";
/// The setting that says which of those arguments name a file kept with the recording.
const INPUTS: &str = "inputs";
/// The setting that names the kept files as the command line gave them.
const INPUT_NAMES: &str = "input-names";
/// The setting that holds, per registry, what kind of credentials the run used.
const CREDENTIALS: &str = "registry-credentials";

/// What a recorded command ran with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordedCommand {
    /// The arguments after the program name, secrets already replaced.
    pub argv: Vec<String>,
    /// Which of `argv` name a file kept with the recording (relative to it).
    pub inputs: Vec<usize>,
    /// The paths of those files as the recorded command line gave them (in the order
    /// of `inputs`), so that a replay names them as the recorded run did.
    pub names: Vec<String>,
    /// Per registry, the kind of credentials it got: `anonymous`, `basic:USER`,
    /// `identity-token:USER`, `registry-token` (never a secret).
    pub credentials: BTreeMap<String, String>,
}

impl RecordedCommand {
    /// A recorder for this command's exchanges (its credentials are added at the end,
    /// with [`RecordedCommand::finish`]).
    pub fn recorder(&self, version: &str) -> Result<Recorder> {
        Ok(Recorder::new(vec![
            (ARGV.to_owned(), serde_json::to_string(&self.argv)?),
            (INPUTS.to_owned(), serde_json::to_string(&self.inputs)?),
            (INPUT_NAMES.to_owned(), serde_json::to_string(&self.names)?),
            (
                "description".to_owned(),
                format!("regpeek {}, recorded with --record", self.argv.join(" ")),
            ),
            (
                "source".to_owned(),
                format!("recorded by regpeek {version}"),
            ),
        ]))
    }

    /// The finished recording, with the kinds of credentials used.
    pub fn finish(recorder: Recorder, credentials: &BTreeMap<String, String>) -> Result<Scenario> {
        let mut scenario = recorder.finish();
        scenario
            .settings
            .push((CREDENTIALS.into(), serde_json::to_string(credentials)?));
        Ok(scenario)
    }

    /// The command a recording holds.
    pub fn of(scenario: &Scenario) -> Result<RecordedCommand> {
        let argv = match scenario.get(ARGV) {
            Some(json) => {
                serde_json::from_str(json).context("the recorded command line is garbled")?
            }
            None => bail!(
                "it holds no command line: it was made by an older regpeek (or is a fixture); record it again"
            ),
        };
        let inputs = match scenario.get(INPUTS) {
            Some(json) => {
                serde_json::from_str(json).context("the list of kept inputs is garbled")?
            }
            None => Vec::new(),
        };
        // Older recordings have none: a replay then names the kept files.
        let names = match scenario.get(INPUT_NAMES) {
            Some(json) => {
                serde_json::from_str(json).context("the names of the kept inputs are garbled")?
            }
            None => Vec::new(),
        };
        let credentials = match scenario.get(CREDENTIALS) {
            Some(json) => serde_json::from_str(json).context("the credential kinds are garbled")?,
            None => BTreeMap::new(),
        };
        Ok(RecordedCommand {
            argv,
            inputs,
            names,
            credentials,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_command_reads_back_as_written() {
        let cmd = RecordedCommand {
            argv: vec![
                "inspect".into(),
                "--file".into(),
                "inputs/1-refs.txt".into(),
            ],
            inputs: vec![2],
            names: vec!["refs.txt".into()],
            credentials: [("ghcr.io".to_owned(), "basic:alice".to_owned())].into(),
        };
        let scenario =
            RecordedCommand::finish(cmd.recorder("0.1.0").unwrap(), &cmd.credentials).unwrap();
        let text = scenario.render().unwrap();
        let back = RecordedCommand::of(&Scenario::parse(&text).unwrap()).unwrap();
        assert_eq!(back, cmd);
        assert!(RecordedCommand::of(&Scenario::default()).is_err());
    }
}
