//! `WWW-Authenticate` challenges (RFC 9110 §11), as registries send them.

/// One challenge: a scheme and its parameters, or a token68.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// The scheme, lowercased (`bearer`, `basic`).
    pub scheme: String,
    /// Parameters in order, names lowercased, values unquoted.
    pub params: Vec<(String, String)>,
    /// A token68 given instead of parameters (rare for registries).
    pub token68: Option<String>,
}

impl Challenge {
    /// The value of a parameter, by case-insensitive name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True for the `Bearer` scheme.
    pub fn is_bearer(&self) -> bool {
        self.scheme == "bearer"
    }

    /// True for the `Basic` scheme.
    pub fn is_basic(&self) -> bool {
        self.scheme == "basic"
    }
}

/// Why a header value could not be read as challenges.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed WWW-Authenticate header at byte {at}: {what}")]
pub(crate) struct ChallengeError {
    at: usize,
    what: &'static str,
}

/// Parses every challenge in one or more `WWW-Authenticate` header values.
pub(crate) fn parse_challenges<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Challenge>, ChallengeError> {
    let mut out = Vec::new();
    for v in values {
        Parser {
            s: v.as_bytes(),
            i: 0,
        }
        .challenges(&mut out)?;
    }
    Ok(out)
}

/// Picks the challenge to answer: `Bearer` over `Basic`, unknown schemes never.
pub(crate) fn preferred(challenges: &[Challenge]) -> Option<&Challenge> {
    challenges
        .iter()
        .find(|c| c.is_bearer())
        .or_else(|| challenges.iter().find(|c| c.is_basic()))
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token68(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

impl Parser<'_> {
    fn err(&self, what: &'static str) -> ChallengeError {
        ChallengeError { at: self.i, what }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    /// Skips white space and empty list elements; true if a comma was crossed.
    fn skip_separators(&mut self) -> bool {
        let mut comma = false;
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' => self.i += 1,
                b',' => {
                    comma = true;
                    self.i += 1
                }
                _ => break,
            }
        }
        comma
    }

    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn quoted(&mut self) -> Result<String, ChallengeError> {
        debug_assert_eq!(self.peek(), Some(b'"'));
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated quoted string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(b) => {
                            out.push(b);
                            self.i += 1;
                        }
                        None => return Err(self.err("unterminated escape")),
                    }
                }
                Some(b) => {
                    out.push(b);
                    self.i += 1;
                }
            }
        }
    }

    /// Looks ahead: is the text at the cursor `token BWS "=" BWS` followed by a value
    /// (an auth-param), as opposed to a new scheme or a token68?
    fn at_param(&self) -> bool {
        let mut j = self.i;
        let start = j;
        while self.s.get(j).copied().is_some_and(is_tchar) {
            j += 1;
        }
        if j == start {
            return false;
        }
        while matches!(self.s.get(j), Some(b' ' | b'\t')) {
            j += 1;
        }
        if self.s.get(j) != Some(&b'=') {
            return false;
        }
        j += 1;
        // `token==` or `token=` at the end is a token68 padding, not a param.
        while matches!(self.s.get(j), Some(b' ' | b'\t')) {
            j += 1;
        }
        matches!(self.s.get(j), Some(&b) if b == b'"' || is_tchar(b))
    }

    fn challenges(&mut self, out: &mut Vec<Challenge>) -> Result<(), ChallengeError> {
        self.skip_separators();
        while self.peek().is_some() {
            let scheme = self
                .token()
                .ok_or_else(|| self.err("expected an auth scheme"))?
                .to_ascii_lowercase();
            let mut challenge = Challenge {
                scheme,
                params: Vec::new(),
                token68: None,
            };
            let had_space = matches!(self.peek(), Some(b' ' | b'\t'));
            self.skip_ows();
            if had_space && self.peek().is_some_and(|b| b != b',') && !self.at_param() {
                // token68
                let start = self.i;
                while self.peek().is_some_and(is_token68) {
                    self.i += 1;
                }
                while self.peek() == Some(b'=') {
                    self.i += 1;
                }
                if self.i == start {
                    return Err(self.err("expected auth parameters or a token68"));
                }
                challenge.token68 =
                    Some(String::from_utf8_lossy(&self.s[start..self.i]).into_owned());
                self.skip_ows();
            } else if had_space {
                loop {
                    if !self.at_param() {
                        break;
                    }
                    let name = self.token().unwrap_or_default().to_ascii_lowercase();
                    self.skip_ows();
                    self.i += 1; // '='
                    self.skip_ows();
                    let value = if self.peek() == Some(b'"') {
                        self.quoted()?
                    } else {
                        self.token()
                            .ok_or_else(|| self.err("expected a parameter value"))?
                    };
                    challenge.params.push((name, value));
                    self.skip_ows();
                    match self.peek() {
                        None => break,
                        Some(b',') => {
                            self.skip_separators();
                        }
                        Some(_) => return Err(self.err("expected ',' after a parameter")),
                    }
                }
            }
            out.push(challenge);
            match self.peek() {
                None => break,
                Some(b',') => {
                    self.skip_separators();
                }
                Some(_) if self.i > 0 && matches!(self.s[self.i - 1], b',' | b' ') => {}
                Some(_) => return Err(self.err("expected ',' between challenges")),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(cs: &[Challenge]) -> String {
        cs.iter()
            .map(|c| {
                let mut s = c.scheme.clone();
                if let Some(t) = &c.token68 {
                    s.push_str(&format!(" token68={t}"));
                }
                for (k, v) in &c.params {
                    s.push_str(&format!(" {k}=[{v}]"));
                }
                s
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }

    fn check(input: &[&str], expect: &str) {
        let got = match parse_challenges(input.iter().copied()) {
            Ok(cs) => show(&cs),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expect, "input: {input:?}");
    }

    #[test]
    fn table() {
        check(
            &[
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull""#,
            ],
            "bearer realm=[https://auth.docker.io/token] service=[registry.docker.io] scope=[repository:library/ubuntu:pull]",
        );
        check(
            &[r#"Basic realm="Registry Realm""#],
            "basic realm=[Registry Realm]",
        );
        check(
            &[r#"BEARER Realm="r", SCOPE="repository:a/b:pull,push""#],
            "bearer realm=[r] scope=[repository:a/b:pull,push]",
        );
        check(
            &[r#"Basic realm="a", Bearer realm="b",service=s"#],
            "basic realm=[a] | bearer realm=[b] service=[s]",
        );
        check(
            &[r#"Basic realm="a""#, r#"Bearer realm="b""#],
            "basic realm=[a] | bearer realm=[b]",
        );
        check(
            &[r#"Bearer realm="with \"quotes\" and \\ slash""#],
            r#"bearer realm=[with "quotes" and \ slash]"#,
        );
        check(
            &[r#"Bearer realm = "spaced" ,  service = tok"#],
            "bearer realm=[spaced] service=[tok]",
        );
        check(&["Negotiate abc123=="], "negotiate token68=abc123==");
        check(&["Negotiate"], "negotiate");
        check(&["Negotiate, Basic realm=x"], "negotiate | basic realm=[x]");
        check(
            &[r#"Bearer realm="r",error="insufficient_scope",scope="repository:x:pull""#],
            "bearer realm=[r] error=[insufficient_scope] scope=[repository:x:pull]",
        );
        check(&[",, Basic realm=x ,,"], "basic realm=[x]");
        check(&[""], "");
        check(
            &[r#"Bearer realm="unterminated"#],
            "error: malformed WWW-Authenticate header at byte 26: unterminated quoted string",
        );
        check(
            &[r#"Bearer realm="a" junk"#],
            "error: malformed WWW-Authenticate header at byte 17: expected ',' after a parameter",
        );
        check(
            &["=oops"],
            "error: malformed WWW-Authenticate header at byte 0: expected an auth scheme",
        );
    }

    #[test]
    fn prefers_bearer() {
        let cs = parse_challenges([r#"Basic realm="a", Bearer realm="b""#]).unwrap();
        assert_eq!(preferred(&cs).unwrap().param("REALM"), Some("b"));
        let cs = parse_challenges(["Digest nonce=1"]).unwrap();
        assert!(preferred(&cs).is_none());
    }

    #[test]
    fn every_truncation_is_an_answer_not_a_panic() {
        let full = r#"Bearer realm="https://a/token",service="s",scope="repository:x:pull,push""#;
        for i in 0..full.len() {
            let _ = parse_challenges([&full[..i]]);
        }
    }
}
