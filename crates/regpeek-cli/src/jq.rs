//! `--jq EXPR`: a jq filter (jaq) applied to any JSON output. Strings come out bare, as
//! `jq -r` prints them; other values as compact JSON, one per line.

use std::io::Write;

use anyhow::{Result, anyhow, bail};
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::Val;

type Filter = jaq_core::Filter<data::JustLut<Val>>;

/// Parses and compiles `expr` (jq's definitions, then the standard library).
fn compile(expr: &str) -> Result<Filter> {
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    let arena = Arena::default();
    let program = File {
        code: expr,
        path: (),
    };
    let modules = Loader::new(defs)
        .load(&arena, program)
        .map_err(|errs| anyhow!("--jq {expr:?} does not parse ({} error(s))", errs.len()))?;
    Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errs| {
            let names: Vec<String> = errs
                .iter()
                .flat_map(|(_, es)| es.iter().map(|(name, _)| name.to_string()))
                .collect();
            anyhow!(
                "--jq {expr:?} does not compile: unknown {}",
                names.join(", ")
            )
        })
}

/// Checks that `expr` parses and compiles, before any request is made for its input.
pub fn check(expr: &str) -> Result<()> {
    compile(expr).map(drop)
}

/// Runs `expr` over the JSON `input` and prints every result.
/// `escape`: how a bare string is made safe for a terminal (`None`: piped, it stays
/// exact).
pub fn print(
    out: &mut impl Write,
    expr: &str,
    input: &[u8],
    escape: Option<&dyn Fn(&str) -> String>,
) -> Result<()> {
    let input = jaq_json::read::parse_single(input)
        .map_err(|e| anyhow!("--jq: the output is not JSON: {e}"))?;
    let filter = compile(expr)?;
    let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new([]));
    for value in filter.id.run((ctx, input)).map(unwrap_valr) {
        match value {
            Ok(Val::TStr(s)) if escape.is_some() => {
                let text = String::from_utf8_lossy(&s);
                writeln!(out, "{}", escape.map(|e| e(&text)).unwrap_or_default())?;
            }
            Ok(Val::TStr(s)) => {
                out.write_all(&s)?;
                writeln!(out)?;
            }
            Ok(v) => writeln!(out, "{v}")?,
            Err(e) => bail!("--jq {expr:?}: {e}"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_string_is_escaped_on_a_terminal_and_exact_when_piped() {
        let input = br#"{"Label":"a\u001b[2Jb\u202ec\nd"}"#;
        let mut piped = Vec::new();
        print(&mut piped, ".Label", input, None).unwrap();
        assert_eq!(
            String::from_utf8(piped).unwrap(),
            "a\u{1b}[2Jb\u{202e}c\nd\n"
        );
        let mut screen = Vec::new();
        let escape = |s: &str| crate::output::escape_controls(s, true);
        print(&mut screen, ".Label", input, Some(&escape)).unwrap();
        assert_eq!(
            String::from_utf8(screen).unwrap(),
            "a\\x1b[2Jb\\u{202e}c\nd\n"
        );
    }

    fn run(expr: &str, input: &str) -> Result<String> {
        let mut out = Vec::new();
        print(&mut out, expr, input.as_bytes(), None)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn filters() {
        let doc = r#"{"Digest":"sha256:abc","Layers":["a","b"],"Size":3}"#;
        assert_eq!(run(".Digest", doc).unwrap(), "sha256:abc\n");
        assert_eq!(run(".Layers | length", doc).unwrap(), "2\n");
        assert_eq!(run(".Layers[]", doc).unwrap(), "a\nb\n");
        assert_eq!(
            run("{d: .Digest}", doc).unwrap(),
            "{\"d\":\"sha256:abc\"}\n"
        );
        assert_eq!(
            run("[.Layers[] | ascii_upcase]", doc).unwrap(),
            "[\"A\",\"B\"]\n"
        );
        assert!(run(".[", doc).is_err());
        assert!(run("nosuchfunction", doc).is_err());
        assert!(run(".Size | error(\"boom\")", doc).is_err());
    }
}
