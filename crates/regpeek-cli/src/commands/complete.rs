//! Completing an image reference as it is typed (`regpeek inspect REPO:<TAB>`): the
//! hidden `__complete WORD` the completion scripts call, and the lines each script gains
//! to call it (bash, zsh, fish).

use std::io::Write;

use anyhow::Result;

use crate::args::Common;
use crate::session::Session;

/// How long the registry is given: a shell waits on it.
const REGISTRY_SECONDS: f64 = 2.0;

/// `__complete WORD`: for `REPO:PREFIX`, the repository's tags that start with
/// PREFIX, as `REPO:TAG` one a line: those the cache has seen, then the registry's
/// within 2 s (not with `--offline` or `REGPEEK_COMPLETE_OFFLINE=1`). Anything else,
/// or anything that fails, prints nothing: a shell shows no error.
pub fn complete(session: &Session, word: &str, out: &mut impl Write) -> Result<()> {
    let Some((repo, prefix)) = split(word) else {
        return Ok(());
    };
    let Ok(r) = crate::flags::parse_reference(repo) else {
        return Ok(());
    };
    if r.digest().is_some() {
        return Ok(());
    }
    let mut tags = session
        .cache
        .as_deref()
        .map(|c| c.tags_of(&r.name()))
        .unwrap_or_default();
    let offline =
        session.offline || std::env::var_os("REGPEEK_COMPLETE_OFFLINE").is_some_and(|v| v == "1");
    if !offline {
        let mut common = Common::unset();
        common.reach.timeout = REGISTRY_SECONDS;
        if let Ok(listed) = super::listing::tag_list(session, &common, &r) {
            tags.extend(listed);
        }
    }
    tags.retain(|t| t.starts_with(prefix));
    tags.sort();
    tags.dedup();
    for tag in tags {
        // Tags are `[\w][\w.-]*`: nothing a shell or terminal would read otherwise.
        if tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        {
            writeln!(out, "{repo}:{tag}")?;
        }
    }
    Ok(())
}

/// `REPO:PREFIX` as its repository and the start of a tag: the `:` after the last
/// `/` (a registry's port comes before it).
fn split(word: &str) -> Option<(&str, &str)> {
    let (repo, prefix) = word.rsplit_once(':')?;
    if prefix.contains('/') || repo.is_empty() || repo.ends_with('/') {
        return None;
    }
    Some((repo, prefix))
}

/// What each shell's script gains: a function that offers tags for a word holding
/// `REPO:`, and otherwise hands over to clap's.
pub fn glue(shell: clap_complete::Shell, script: String) -> String {
    match shell {
        clap_complete::Shell::Bash => {
            script.replace("complete -F _regpeek ", "complete -F _regpeek_refs ") + BASH
        }
        clap_complete::Shell::Zsh => {
            script.replace(
                "    _regpeek \"$@\"\nelse\n    compdef _regpeek regpeek",
                "    _regpeek_refs \"$@\"\nelse\n    compdef _regpeek_refs regpeek",
            ) + ZSH
        }
        clap_complete::Shell::Fish => script + FISH,
        _ => script,
    }
}

/// bash splits words at `:` (`COMP_WORDBREAKS`): the reference is taken from the line
/// up to the cursor, and each answer is cut to what follows the word's last `:`.
const BASH: &str = r#"
# Tags of REPO for a word REPO:… (regpeek __complete: the cache, then the registry within 2 s).
_regpeek_refs() {
    local line="${COMP_LINE:0:COMP_POINT}"
    local word="${line##*[[:space:]]}"
    if [[ "$word" == *:* && "${word##*/}" == *:* && "$word" != -* ]]; then
        local IFS=$'\n'
        local found=($(regpeek __complete "$word" 2>/dev/null))
        if [[ ${#found[@]} -gt 0 ]]; then
            local cut="${word%:*}:"
            local cur="${COMP_WORDS[COMP_CWORD]}"
            [[ "$cur" == ":" ]] && cur=""
            COMPREPLY=()
            local f
            for f in "${found[@]}"; do
                local rest="${f#"$cut"}"
                if [[ "$cur" == *:* || "$COMP_WORDBREAKS" != *:* ]]; then
                    COMPREPLY+=("$f")
                else
                    COMPREPLY+=("$rest")
                fi
            done
            return 0
        fi
    fi
    _regpeek "$@"
}
"#;

const ZSH: &str = r#"
# Tags of REPO for a word REPO:… (regpeek __complete: the cache, then the registry within 2 s).
(( $+functions[_regpeek_refs] )) ||
_regpeek_refs() {
    if [[ "$PREFIX" == *:* && "${PREFIX##*/}" == *:* && "$PREFIX" != -* ]]; then
        local -a found
        found=(${(f)"$(regpeek __complete "$PREFIX" 2>/dev/null)"})
        if (( ${#found} )); then
            compadd -Q -U -- $found
            return 0
        fi
    fi
    _regpeek "$@"
}
"#;

const FISH: &str = r#"
# Tags of REPO for a word REPO:… (regpeek __complete: the cache, then the registry within 2 s).
complete -c regpeek -n 'string match -q -r "^[^-].*:[^/]*\$" -- (commandline -ct)' -f -a '(regpeek __complete (commandline -ct) 2>/dev/null)'
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_is_a_repository_and_a_tag_prefix() {
        assert_eq!(split("nginx:1."), Some(("nginx", "1.")));
        assert_eq!(
            split("localhost:5000/app:"),
            Some(("localhost:5000/app", ""))
        );
        assert_eq!(split("ghcr.io/org/app:v"), Some(("ghcr.io/org/app", "v")));
        // The port of a registry, not a tag.
        assert_eq!(split("localhost:5000/app"), None);
        assert_eq!(split("localhost:5000/"), None);
        assert_eq!(split("nginx"), None);
        assert_eq!(split(":x"), None);
    }

    #[test]
    fn each_script_hands_references_to_regpeek() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            let mut cmd = <crate::args::Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "regpeek", &mut script);
            let glued = glue(shell, String::from_utf8(script).unwrap());
            assert!(glued.contains("regpeek __complete"), "{shell}");
            // Registered in clap's place.
            match shell {
                clap_complete::Shell::Bash => {
                    assert!(glued.contains("complete -F _regpeek_refs "));
                    assert!(!glued.contains("complete -F _regpeek "));
                }
                clap_complete::Shell::Zsh => {
                    assert!(glued.contains("compdef _regpeek_refs regpeek"));
                    assert!(!glued.contains("compdef _regpeek regpeek"));
                }
                _ => {}
            }
        }
    }
}
