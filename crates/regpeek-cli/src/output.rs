//! Printing: pretty, coloured JSON on a terminal; compact JSON or exact bytes when piped.

use std::io::Write;

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

const KEY: &str = "\x1b[34;1m";
const STRING: &str = "\x1b[32m";
const NUMBER: &str = "\x1b[36m";
const LITERAL: &str = "\x1b[35m";
const RESET: &str = "\x1b[0m";

/// Prints a value: pretty (and coloured when asked) on a terminal, compact otherwise.
pub fn print_json(
    out: &mut impl Write,
    value: &impl Serialize,
    tty: bool,
    color: bool,
) -> Result<()> {
    if !tty {
        serde_json::to_writer(&mut *out, value)?;
        writeln!(out)?;
        return Ok(());
    }
    let pretty = serde_json::to_string_pretty(value)?;
    if color {
        writeln!(out, "{}", colorize(&pretty))?;
    } else {
        writeln!(out, "{pretty}")?;
    }
    Ok(())
}

/// Prints stored bytes: exactly as they are when piped. On a terminal, JSON that is
/// already laid out is coloured as it is; one-line JSON is pretty-printed first.
pub fn print_bytes(out: &mut impl Write, bytes: &[u8], tty: bool, color: bool) -> Result<()> {
    if tty {
        if let Ok(value) = serde_json::from_slice::<Value>(bytes) {
            let text = String::from_utf8_lossy(bytes);
            if !text.trim().contains('\n') {
                return print_json(out, &value, tty, color);
            }
            let text = text.trim_end();
            match color {
                true => writeln!(out, "{}", colorize(text))?,
                false => writeln!(out, "{text}")?,
            }
            return Ok(());
        }
    }
    out.write_all(bytes)?;
    Ok(())
}

/// Adds ANSI colours to pretty-printed JSON text by lexing it.
pub fn colorize(json: &str) -> String {
    let mut out = String::with_capacity(json.len() * 2);
    let chars: Vec<char> = json.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' => {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i = (i + 1).min(chars.len());
                let s: String = chars[start..i].iter().collect();
                let mut j = i;
                while j < chars.len() && chars[j] == ' ' {
                    j += 1;
                }
                let color = if chars.get(j) == Some(&':') {
                    KEY
                } else {
                    STRING
                };
                out.push_str(color);
                out.push_str(&s);
                out.push_str(RESET);
                continue;
            }
            '-' | '0'..='9' => {
                let start = i;
                while i < chars.len() && matches!(chars[i], '-' | '+' | '.' | 'e' | 'E' | '0'..='9')
                {
                    i += 1;
                }
                out.push_str(NUMBER);
                out.extend(&chars[start..i]);
                out.push_str(RESET);
                continue;
            }
            't' | 'f' | 'n' => {
                let start = i;
                while i < chars.len() && chars[i].is_ascii_alphabetic() {
                    i += 1;
                }
                out.push_str(LITERAL);
                out.extend(&chars[start..i]);
                out.push_str(RESET);
                continue;
            }
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_keys_strings_numbers_literals() {
        let s = colorize("{\n  \"a\": \"x\\\"y\",\n  \"n\": -1.5,\n  \"t\": true\n}");
        assert!(s.contains("\x1b[34;1m\"a\"\x1b[0m"));
        assert!(s.contains("\x1b[32m\"x\\\"y\"\x1b[0m"));
        assert!(s.contains("\x1b[36m-1.5\x1b[0m"));
        assert!(s.contains("\x1b[35mtrue\x1b[0m"));
    }

    #[test]
    fn piped_bytes_are_exact() {
        let mut out = Vec::new();
        print_bytes(&mut out, b"{ \"a\" : 1 }", false, false).unwrap();
        assert_eq!(out, b"{ \"a\" : 1 }");
        let mut out = Vec::new();
        print_json(&mut out, &serde_json::json!({"b": [1, 2]}), false, false).unwrap();
        assert_eq!(out, b"{\"b\":[1,2]}\n");
    }
}
