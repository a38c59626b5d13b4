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

/// How this run prints: to a terminal or not, in colour or not, through `--jq` or
/// not. Resolved once from the command line and the environment (part of the
/// session), so every command prints the same way.
#[derive(Debug, Clone, Default)]
pub struct Printer {
    /// Standard output is a terminal: JSON is pretty-printed.
    pub tty: bool,
    /// Colour too (a terminal, and neither `NO_COLOR` nor `TERM=dumb`).
    pub color: bool,
    /// The `--jq` expression every JSON output goes through, when given.
    pub jq: Option<String>,
}

impl Printer {
    /// This process's standard output, and `--jq`.
    pub fn for_stdout(jq: Option<String>) -> Printer {
        use std::io::IsTerminal as _;
        let tty = std::io::stdout().is_terminal();
        let color = tty
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::env::var_os("TERM").is_none_or(|t| t != "dumb");
        Printer { tty, color, jq }
    }

    /// Prints a value: pretty (and coloured when asked) on a terminal, compact
    /// otherwise; through `--jq` when given.
    pub fn json(&self, out: &mut impl Write, value: &impl Serialize) -> Result<()> {
        if let Some(expr) = &self.jq {
            return crate::jq::print(out, expr, &serde_json::to_vec(value)?, self.escape());
        }
        if !self.tty {
            serde_json::to_writer(&mut *out, value)?;
            writeln!(out)?;
            return Ok(());
        }
        let pretty = serde_json::to_string_pretty(value)?;
        if self.color {
            writeln!(out, "{}", colorize(&pretty))?;
        } else {
            writeln!(out, "{pretty}")?;
        }
        Ok(())
    }

    /// The output format a command prints when `-o` is not given: its table on a
    /// terminal (when `table_fits`: a table can show the answer), JSON lines when piped
    /// or filtered with `--jq`.
    pub fn format_or_default(
        &self,
        asked: Option<crate::args::OutputFormat>,
        table_fits: bool,
    ) -> crate::args::OutputFormat {
        use crate::args::OutputFormat as F;
        asked.unwrap_or(if self.tty && self.jq.is_none() && table_fits {
            F::Table
        } else {
            F::Json
        })
    }

    /// How `--jq`'s bare strings are made safe: escaped on a terminal, exact piped.
    fn escape(&self) -> Option<&'static dyn Fn(&str) -> String> {
        fn on_terminal(s: &str) -> String {
            escape_controls(s, true)
        }
        self.tty.then_some(&on_terminal as &dyn Fn(&str) -> String)
    }

    /// One JSON line (of a batch): compact whatever the terminal, through `--jq`.
    pub fn line(&self, out: &mut impl Write, value: &impl Serialize) -> Result<()> {
        if let Some(expr) = &self.jq {
            return crate::jq::print(out, expr, &serde_json::to_vec(value)?, self.escape());
        }
        Printer {
            tty: false,
            color: false,
            jq: self.jq.clone(),
        }
        .json(out, value)
    }

    /// Prints stored bytes: exactly as they are when piped. On a terminal, JSON that
    /// is already laid out is coloured as it is; one-line JSON is pretty-printed first;
    /// other bytes have their control characters escaped (they come from the registry).
    pub fn bytes(&self, out: &mut impl Write, bytes: &[u8]) -> Result<()> {
        if let Some(expr) = &self.jq {
            return crate::jq::print(out, expr, bytes, self.escape());
        }
        if self.tty {
            if let Ok(value) = serde_json::from_slice::<Value>(bytes) {
                let text = String::from_utf8_lossy(bytes);
                if !text.trim().contains('\n') {
                    return self.json(out, &value);
                }
                // JSON text can still hold DEL, C1 and bidi controls inside strings.
                let text = escape_controls(text.trim_end(), true);
                match self.color {
                    true => writeln!(out, "{}", colorize(&text))?,
                    false => writeln!(out, "{text}")?,
                }
                return Ok(());
            }
            let text = String::from_utf8_lossy(bytes);
            write!(out, "{}", escape_controls(&text, true))?;
            return Ok(());
        }
        out.write_all(bytes)?;
        Ok(())
    }

    /// Prints rows as JSON (through `--jq` when given) or, with `-o table`, as
    /// columns under `header`, one `cells` call a row.
    pub fn rows<T: Serialize>(
        &self,
        out: &mut impl Write,
        rows: &[T],
        format: crate::args::OutputFormat,
        header: &[&str],
        cells: impl Fn(&T) -> Vec<String>,
    ) -> Result<()> {
        match format {
            crate::args::OutputFormat::Json => self.json(out, &rows),
            crate::args::OutputFormat::Table => {
                let table: Vec<Vec<String>> = rows.iter().map(cells).collect();
                print_columns(out, header, &table)
            }
        }
    }

    /// Refuses `--jq` (exit 2) where what is printed is no JSON; `why` says so.
    pub fn refuse_jq(&self, why: &str) -> Result<()> {
        if self.jq.is_some() {
            return Err(crate::errors::usage(why.to_owned()));
        }
        Ok(())
    }

    /// `-o table` prints no JSON for `--jq` to read.
    pub fn refuse_table_with_jq(&self) -> Result<()> {
        if self.jq.is_some() {
            return Err(crate::errors::usage("-o table and --jq do not go together"));
        }
        Ok(())
    }
}

/// Aligned columns with a header row; every cell is escaped for the terminal.
pub fn print_columns(out: &mut impl Write, header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| escape_controls(c, false)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: Vec<&str>| -> String {
        let last = cols.len().saturating_sub(1);
        cols.iter()
            .enumerate()
            .map(|(i, c)| {
                if i == last {
                    (*c).to_owned()
                } else {
                    format!("{c:<width$}", width = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            // Empty cells at the end leave no trailing blanks.
            .trim_end()
            .to_owned()
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in &cells {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

/// A JSON object as `FIELD  value` lines (nested values as compact JSON).
pub fn print_table(out: &mut impl Write, value: &Value) -> Result<()> {
    let rows: Vec<Vec<String>> = match value.as_object() {
        Some(map) => map
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => "-".into(),
                    other => other.to_string(),
                };
                vec![k.clone(), text]
            })
            .collect(),
        None => vec![vec![String::new(), value.to_string()]],
    };
    print_columns(out, &["FIELD", "VALUE"], &rows)
}

/// Bytes for people: `1.4 MB` (powers of 1000, as registries' web pages show them).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1000.0 && unit + 1 < UNITS.len() {
        size /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{size:.1} {}", UNITS[unit])
    }
}

/// The longest server-controlled message shown whole on a terminal line.
pub const MAX_LINE: usize = 500;

/// A string from a server made safe for a terminal: C0 and C1 control characters, DEL
/// and Unicode bidi controls become visible escapes (`\x1b`, `\u{202e}`). With
/// `keep_layout`, line feeds and tabs stay as they are.
pub fn escape_controls(s: &str, keep_layout: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}');
        match c {
            '\n' | '\t' if keep_layout => out.push(c),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0'..='\x1f' | '\x7f' => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            '\u{80}'..='\u{9f}' => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            _ if bidi => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            _ => out.push(c),
        }
    }
    out
}

/// One line for stderr: escaped, and cut after [`MAX_LINE`] characters with a note.
pub fn safe_line(s: &str) -> String {
    let escaped = escape_controls(s, false);
    let total = escaped.chars().count();
    if total <= MAX_LINE {
        return escaped;
    }
    let mut cut: String = escaped.chars().take(MAX_LINE).collect();
    cut.push_str(&format!("… ({} more characters cut)", total - MAX_LINE));
    cut
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
        Printer::default()
            .bytes(&mut out, b"{ \"a\" : 1 }")
            .unwrap();
        assert_eq!(out, b"{ \"a\" : 1 }");
        let mut out = Vec::new();
        Printer::default()
            .json(&mut out, &serde_json::json!({"b": [1, 2]}))
            .unwrap();
        assert_eq!(out, b"{\"b\":[1,2]}\n");
    }
}

#[cfg(test)]
mod safety_tests {
    use super::*;

    #[test]
    fn controls_are_escaped() {
        assert_eq!(safe_line("a\x1b[31mred\x07"), "a\\x1b[31mred\\x07");
        assert_eq!(safe_line("x\ny\tz\r"), "x\\ny\\tz\\r");
        assert_eq!(safe_line("del\x7f c1\u{9b}"), "del\\x7f c1\\u{9b}");
        assert_eq!(safe_line("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
        assert_eq!(safe_line("naïve ünïcode ✓"), "naïve ünïcode ✓");
        assert_eq!(escape_controls("a\nb\x1b", true), "a\nb\\x1b");
    }

    #[test]
    fn long_lines_are_cut() {
        let long = "e".repeat(MAX_LINE + 42);
        let line = safe_line(&long);
        assert!(line.starts_with(&"e".repeat(MAX_LINE)));
        assert!(line.ends_with("… (42 more characters cut)"), "{line}");
        assert_eq!(safe_line(&"e".repeat(MAX_LINE)), "e".repeat(MAX_LINE));
    }
}

/// What `regpeek.1` shows beyond clap's sections: examples, and what the exit status
/// means (as in the README).
const MAN_EXTRA: &str = r#".SH EXAMPLES
.TP
\fBregpeek inspect nginx\fR
Digest, platforms, layers, env, labels and entrypoint of Docker Hub's nginx for this machine's platform, as JSON.
.TP
\fBregpeek inspect ghcr.io/org/app:v1 \-\-platform linux/arm64 \-o table\fR
One platform of a multi\-platform image, as a table.
.TP
\fBregpeek digest nginx:1.27\fR
The digest a pull would resolve to (one \fBHEAD\fR request; no pull counted).
.TP
\fBregpeek inspect \-\-file images.txt \-\-jobs 16\fR
Many images at once: one JSON object per line, in input order.
.TP
\fBregpeek tags \-\-sort semver \-\-filter '^1\\.' nginx\fR
Tags of a repository, filtered and in version order.
.TP
\fBregpeek diff app:v1 app:v2\fR
What changed between two images.
.TP
\fBregpeek login registry.example \-\-username alice \-\-password\-stdin < pw.txt\fR
Check credentials with the registry, then store them where docker would.
.SH EXIT STATUS
.TP
\fB0\fR
Success (for \fBdiff\fR: the images are the same).
.TP
\fB1\fR
An error: the registry or network failed, refused, or sent something wrong; a reference is invalid; in a batch, at least one reference failed (the others are still printed). For \fBdiff\fR: the images differ.
.TP
\fB2\fR
A usage error: flags that do not go together or cannot be right (nothing was sent). For \fBdiff\fR: any error.
"#;

/// The main man page: clap's sections, then examples and exit status.
pub fn man_page(cmd: clap::Command, out: &mut Vec<u8>) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd);
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    man.render_subcommands_section(out)?;
    out.extend_from_slice(MAN_EXTRA.as_bytes());
    man.render_version_section(out)?;
    Ok(())
}

/// One reference's JSON line: its `Reference` (and `Source`, when read from a file),
/// then the fields of what was found, or its `Error`; true when it failed.
/// Says on stderr that `image` failed (for the commands whose stdout is a table or a
/// document, where an error line cannot go).
pub fn say_failed(image: &str, e: &anyhow::Error) {
    eprintln!(
        "regpeek: {}: {}",
        safe_line(image),
        safe_line(&format!("{e:#}"))
    );
}

pub fn answer_line(
    reference: &str,
    source: Option<&str>,
    found: anyhow::Result<Value>,
) -> (Value, bool) {
    let mut line = serde_json::Map::new();
    line.insert("Reference".into(), Value::String(reference.to_owned()));
    if let Some(s) = source {
        line.insert("Source".into(), Value::String(s.to_owned()));
    }
    let failed = match found {
        Ok(Value::Object(fields)) => {
            line.extend(fields);
            false
        }
        Ok(other) => {
            line.insert("Result".into(), other);
            false
        }
        Err(e) => {
            line.insert(
                "Error".into(),
                Value::String(crate::local::humane(&format!("{e:#}"))),
            );
            true
        }
    };
    (Value::Object(line), failed)
}
