//! Compose interpolation as `docker compose` does it: `$VAR`, `${VAR}`,
//! `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`,
//! `${VAR:+alternative}`, `${VAR+alternative}` (nested in defaults too) and `$$`, from
//! the environment and then from the `.env` file beside the compose file.

use std::collections::HashMap;

use anyhow::{Result, bail};

/// Where a compose file's variables come from: the environment wins over `.env`.
pub struct Vars {
    /// The process environment (a map, so tests can give their own).
    pub env: HashMap<String, String>,
    /// The `.env` file beside the compose file.
    pub dotenv: HashMap<String, String>,
}

impl Vars {
    fn get(&self, name: &str) -> Option<&str> {
        self.env
            .get(name)
            .or_else(|| self.dotenv.get(name))
            .map(String::as_str)
    }
}

/// `text` with its variables expanded; the names that were unset (and so became
/// empty, as compose does, with a warning) are added to `unset`.
pub fn interpolate(text: &str, vars: &Vars, unset: &mut Vec<String>) -> Result<String> {
    let lookup = |name: &str| vars.get(name).map(str::to_owned);
    expand(text, &lookup, unset)
}

fn expand(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
) -> Result<String> {
    let invalid = || anyhow::anyhow!("invalid interpolation format in {text:?}");
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
        } else if let Some(after) = rest.strip_prefix('{') {
            let end = matching_brace(after).ok_or_else(invalid)?;
            let inner = &after[..end];
            rest = &after[end + 1..];
            let name_len = name_len(inner);
            if name_len == 0 {
                return Err(invalid());
            }
            let (name, op) = inner.split_at(name_len);
            let value = lookup(name);
            let (op, arg) = ["-", ":-", "?", ":?", "+", ":+"]
                .iter()
                .filter_map(|o| op.strip_prefix(o).map(|a| (*o, a)))
                .max_by_key(|(o, _)| o.len())
                .unwrap_or(("", op));
            // `:-`, `:?` and `:+` treat an empty value as unset; `-`, `?`, `+` do not.
            let missing = match &value {
                None => true,
                Some(v) => op.starts_with(':') && v.is_empty(),
            };
            match op.trim_start_matches(':') {
                "" if arg.is_empty() => match value {
                    Some(v) => out.push_str(&v),
                    None => note_unset(name, unset),
                },
                "-" if missing => out.push_str(&expand(arg, lookup, unset)?),
                "?" if missing => {
                    let message = expand(arg, lookup, unset)?;
                    bail!("required variable {name} is missing a value: {message}");
                }
                "-" | "?" => out.push_str(value.as_deref().unwrap_or_default()),
                "+" if !missing => out.push_str(&expand(arg, lookup, unset)?),
                "+" => {}
                _ => return Err(invalid()),
            }
        } else {
            let len = name_len(rest);
            if len == 0 {
                return Err(invalid());
            }
            let name = &rest[..len];
            rest = &rest[len..];
            match lookup(name) {
                Some(v) => out.push_str(&v),
                None => note_unset(name, unset),
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn note_unset(name: &str, unset: &mut Vec<String>) {
    if !unset.iter().any(|u| u == name) {
        unset.push(name.to_owned());
    }
}

/// The length of the variable name `text` starts with (`[A-Za-z_][A-Za-z0-9_]*`).
fn name_len(text: &str) -> usize {
    let mut len = 0;
    for (i, c) in text.char_indices() {
        let ok = c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit());
        if !ok {
            break;
        }
        len = i + c.len_utf8();
    }
    len
}

/// Where the `}` closing a `${` is, counting the `${` nested inside.
fn matching_brace(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut prev = '\0';
    for (i, c) in text.char_indices() {
        match c {
            '{' if prev == '$' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
        prev = c;
    }
    None
}

/// The variables of a `.env` file as compose reads it: `KEY=VALUE` lines, an
/// optional `export `, `#` comments, single quotes literal, double quotes with
/// `\n`, `\"` and `\\` escapes, and `${VAR}` in unquoted and double-quoted values
/// expanded from the environment and the lines before.
pub fn dotenv(text: &str, env: &HashMap<String, String>) -> Result<HashMap<String, String>> {
    let mut vars: HashMap<String, String> = HashMap::new();
    let mut lines = text.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((key, raw)) = line.split_once('=') else {
            // A bare name takes its value from the environment, if any.
            if let Some(v) = env.get(line) {
                vars.insert(line.to_owned(), v.clone());
            }
            continue;
        };
        let key = key.trim();
        if name_len(key) != key.len() || key.is_empty() {
            bail!("line {}: {key:?} is not a variable name", n + 1);
        }
        let mut raw = raw.trim_start().to_owned();
        // A quoted value may go on over several lines, as compose reads them.
        if let Some(quote) = raw.chars().next().filter(|c| matches!(c, '\'' | '"')) {
            while !closes(&raw[1..], quote) {
                let Some((_, more)) = lines.next() else { break };
                raw.push('\n');
                raw.push_str(more);
            }
        }
        let raw = raw.as_str();
        let lookup = |name: &str| env.get(name).or_else(|| vars.get(name)).cloned();
        let mut ignored = Vec::new();
        let value = if let Some(body) = raw.strip_prefix('\'') {
            let Some(end) = body.find('\'') else {
                bail!("line {}: unterminated single quote", n + 1)
            };
            body[..end].to_owned()
        } else if let Some(body) = raw.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = body.chars();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' => match chars.next() {
                        Some('n') => value.push('\n'),
                        Some('t') => value.push('\t'),
                        Some(other) => value.push(other),
                        None => {}
                    },
                    c => value.push(c),
                }
            }
            if !closed {
                bail!("line {}: unterminated double quote", n + 1);
            }
            expand(&value, &lookup, &mut ignored)?
        } else {
            let value = match raw.find(" #") {
                Some(at) => &raw[..at],
                None => raw,
            };
            expand(value.trim_end(), &lookup, &mut ignored)?
        };
        vars.insert(key.to_owned(), value);
    }
    Ok(vars)
}

/// Whether `body` (a value after its opening `quote`) holds the closing quote: any
/// `'`, or a `"` no backslash escapes.
fn closes(body: &str, quote: char) -> bool {
    if quote == '\'' {
        return body.contains('\'');
    }
    let mut escaped = false;
    for c in body.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return true,
            _ => escaped = false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(env: &[(&str, &str)], dotenv: &[(&str, &str)]) -> Vars {
        let map = |kv: &[(&str, &str)]| {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        Vars {
            env: map(env),
            dotenv: map(dotenv),
        }
    }

    fn run(text: &str, v: &Vars) -> Result<(String, Vec<String>)> {
        let mut unset = Vec::new();
        let out = interpolate(text, v, &mut unset)?;
        Ok((out, unset))
    }

    #[test]
    fn compose_forms() {
        let v = vars(
            &[("TAG", "1.27"), ("EMPTY", ""), ("REG", "ghcr.io")],
            &[("TAG", "from-dotenv"), ("ORG", "acme")],
        );
        let cases = [
            ("nginx:${TAG}", "nginx:1.27"),
            ("nginx:$TAG", "nginx:1.27"),
            ("$REG/$ORG/app", "ghcr.io/acme/app"),
            ("app:${MISSING:-1.0}", "app:1.0"),
            ("app:${EMPTY:-1.0}", "app:1.0"),
            ("app:${EMPTY-1.0}", "app:"),
            ("app:${MISSING-1.0}", "app:1.0"),
            ("app:${TAG:+set}", "app:set"),
            ("app:${EMPTY:+set}", "app:"),
            ("app:${EMPTY+set}", "app:set"),
            ("${MISSING:-${REG}/x}:${MISSING:-${NONE:-2}}", "ghcr.io/x:2"),
            ("price$$5", "price$5"),
            ("app:${TAG:?need a tag}", "app:1.27"),
        ];
        for (input, want) in cases {
            assert_eq!(run(input, &v).unwrap().0, want, "{input}");
        }
        // Unset names become empty and are reported, once each.
        let (out, unset) = run("app:${NOPE}-$NOPE", &v).unwrap();
        assert_eq!((out.as_str(), unset), ("app:-", vec!["NOPE".to_owned()]));
        let err = run("app:${EMPTY:?set EMPTY}", &v).unwrap_err().to_string();
        assert_eq!(err, "required variable EMPTY is missing a value: set EMPTY");
        assert!(run("app:${EMPTY?x}", &v).is_ok());
        for bad in ["app:${", "app:${}", "app:${1X}", "app:$-", "a:${TAG!x}"] {
            let err = run(bad, &v).unwrap_err().to_string();
            assert!(err.contains("invalid interpolation format"), "{bad}: {err}");
        }
    }

    #[test]
    fn dotenv_files() {
        let env: HashMap<String, String> = [("HOME_REG".to_owned(), "reg.local".to_owned())]
            .into_iter()
            .collect();
        let text = "\u{0023} comment\n\nexport TAG=1.27 # inline\nQUOTED=\"a b\\\"c\"\nRAW='${TAG}'\nIMAGE=${HOME_REG}/app:${TAG}\nHOME_REG\nSPACED = x\n";
        let got = dotenv(text, &env).unwrap();
        assert_eq!(got["TAG"], "1.27");
        assert_eq!(got["QUOTED"], "a b\"c");
        assert_eq!(got["RAW"], "${TAG}");
        assert_eq!(got["IMAGE"], "reg.local/app:1.27");
        assert_eq!(got["HOME_REG"], "reg.local");
        assert_eq!(got["SPACED"], "x");
        assert!(dotenv("A='x\n", &env).is_err());
        assert!(dotenv("NOT A NAME=1\n", &env).is_err());
        // Quoted values over several lines, as compose reads them.
        let text = "CERT=\"-----BEGIN-----\nabc \\\" d\n-----END-----\"\nKEY='one\ntwo'\nTAG=1.27\nOPEN=\"never closed\nX=1\n";
        let err = dotenv(text, &env).unwrap_err().to_string();
        assert!(err.contains("unterminated double quote"), "{err}");
        let got = dotenv(&text.replace("OPEN=\"never closed\n", ""), &env).unwrap();
        assert_eq!(got["CERT"], "-----BEGIN-----\nabc \" d\n-----END-----");
        assert_eq!(got["KEY"], "one\ntwo");
        assert_eq!(
            got["TAG"], "1.27",
            "the line after a multi-line value is read"
        );
    }
}
