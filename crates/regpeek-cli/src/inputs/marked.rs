//! YAML read with positions: a small tree built from yaml-rust2's parser events, each
//! node knowing the byte where it is written, so that `pin` can rewrite a scalar in
//! place and `--from` can say `file:line`. Aliases share the node they name (never
//! copied: an alias bomb costs nothing), and nesting is bounded.

use anyhow::{Result, bail};
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

/// How deep collections may nest (real files stay under 20).
const MAX_DEPTH: usize = 256;

/// A node: a scalar with its style, or a collection of node ids.
#[derive(Debug)]
pub enum Node {
    Scalar {
        value: String,
        style: TScalarStyle,
        /// Byte offset of the scalar's first character (its quote, if quoted).
        start: usize,
        /// 1-based line.
        line: usize,
    },
    Seq(Vec<usize>),
    Map(Vec<(usize, usize)>),
}

/// The documents of a YAML stream, as node ids into `nodes`.
#[derive(Debug, Default)]
pub struct Yaml {
    pub nodes: Vec<Node>,
    pub docs: Vec<usize>,
}

impl Yaml {
    /// Reads `text` (its BOM already removed).
    pub fn parse(text: &str) -> Result<Yaml> {
        let mut parser = Parser::new_from_str(text);
        let mut yaml = Yaml::default();
        let mut anchors: std::collections::HashMap<usize, usize> = Default::default();
        // Open collections: (node id, anchor, pending key for maps).
        let mut open: Vec<(usize, usize, Option<usize>)> = Vec::new();
        let mut bytes = CharToByte::new(text);
        loop {
            let (event, mark) = parser
                .next_token()
                .map_err(|e| anyhow::anyhow!("not YAML: {e}"))?;
            let id = match event {
                Event::StreamEnd => break,
                Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                    if open.len() >= MAX_DEPTH {
                        bail!("nested deeper than {MAX_DEPTH} levels; refused");
                    }
                    let node = if matches!(event, Event::SequenceStart(..)) {
                        Node::Seq(Vec::new())
                    } else {
                        Node::Map(Vec::new())
                    };
                    yaml.nodes.push(node);
                    open.push((yaml.nodes.len() - 1, anchor, None));
                    continue;
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let Some((id, anchor, _)) = open.pop() else {
                        continue;
                    };
                    if anchor > 0 {
                        anchors.insert(anchor, id);
                    }
                    id
                }
                Event::Scalar(value, style, anchor, _) => {
                    yaml.nodes.push(Node::Scalar {
                        value,
                        style,
                        start: bytes.at(mark.index()),
                        line: mark.line(),
                    });
                    let id = yaml.nodes.len() - 1;
                    if anchor > 0 {
                        anchors.insert(anchor, id);
                    }
                    id
                }
                Event::Alias(anchor) => match anchors.get(&anchor) {
                    Some(&id) => id,
                    None => bail!("not YAML: an alias names no anchor"),
                },
                _ => continue,
            };
            match open.last_mut() {
                None => yaml.docs.push(id),
                Some((parent, _, pending)) => match &mut yaml.nodes[*parent] {
                    Node::Seq(items) => items.push(id),
                    Node::Map(pairs) => match pending.take() {
                        None => *pending = Some(id),
                        Some(key) => pairs.push((key, id)),
                    },
                    Node::Scalar { .. } => {}
                },
            }
        }
        Ok(yaml)
    }

    /// The string of a scalar node.
    pub fn str(&self, id: usize) -> Option<&str> {
        match &self.nodes[id] {
            Node::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// `map[key]`, or else what a merge key (`<<: *base`, `<<: [*a, *b]`) brings in,
    /// as compose files use them (bounded: merges may not loop).
    pub fn get(&self, map: usize, key: &str) -> Option<usize> {
        self.get_within(map, key, 16)
    }

    fn get_within(&self, map: usize, key: &str, depth: usize) -> Option<usize> {
        let Node::Map(pairs) = &self.nodes[map] else {
            return None;
        };
        if let Some((_, v)) = pairs.iter().find(|(k, _)| self.str(*k) == Some(key)) {
            return Some(*v);
        }
        let depth = depth.checked_sub(1)?;
        let (_, base) = pairs.iter().find(|(k, _)| self.str(*k) == Some("<<"))?;
        match &self.nodes[*base] {
            Node::Map(_) => self.get_within(*base, key, depth),
            Node::Seq(bases) => bases.iter().find_map(|b| self.get_within(*b, key, depth)),
            Node::Scalar { .. } => None,
        }
    }

    /// The pairs of a map node (none for others).
    pub fn pairs(&self, id: usize) -> &[(usize, usize)] {
        match &self.nodes[id] {
            Node::Map(pairs) => pairs,
            _ => &[],
        }
    }

    /// The items of a sequence node (none for others).
    pub fn items(&self, id: usize) -> &[usize] {
        match &self.nodes[id] {
            Node::Seq(items) => items,
            _ => &[],
        }
    }

    /// Where a scalar's text lies in `text`, when it is written on one line exactly
    /// as its value reads (plain, or quoted without escapes): the bytes `pin` may
    /// rewrite. `Err` says why not.
    pub fn span(&self, id: usize, text: &str) -> Result<std::ops::Range<usize>, String> {
        let Node::Scalar {
            value,
            style,
            start,
            ..
        } = &self.nodes[id]
        else {
            return Err("not a string".into());
        };
        let quote = match style {
            TScalarStyle::Plain => 0,
            TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => 1,
            _ => return Err("written as a block scalar".into()),
        };
        let from = start + quote;
        let to = from + value.len();
        match text.get(from..to) {
            Some(written) if written == value => Ok(from..to),
            _ => Err("written with escapes or over several lines".into()),
        }
    }
}

/// Turns yaml-rust2's marker index (characters, not bytes) into a byte offset,
/// moving forward as events come in document order.
struct CharToByte<'a> {
    text: &'a str,
    chars: usize,
    bytes: usize,
}

impl<'a> CharToByte<'a> {
    fn new(text: &'a str) -> Self {
        CharToByte {
            text,
            chars: 0,
            bytes: 0,
        }
    }

    fn at(&mut self, chars: usize) -> usize {
        if chars < self.chars {
            (self.chars, self.bytes) = (0, 0);
        }
        let rest = &self.text[self.bytes..];
        let step = rest
            .char_indices()
            .nth(chars - self.chars)
            .map_or(rest.len(), |(b, _)| b);
        self.bytes += step;
        self.chars = chars;
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_know_their_bytes() {
        let text = "# é\nservices:\n  web: {image: 'nginx:1.27'}\n  api:\n    image: \"ghcr.io/o/api:v2\"\n  x:\n    image: plain:1 # note\n  y:\n    image: >\n      folded:1\n  z:\n    image: \"esc\\u0061ped:1\"\n";
        let y = Yaml::parse(text).unwrap();
        let services = y.get(y.docs[0], "services").unwrap();
        let span = |svc: &str| {
            let s = y.get(services, svc).unwrap();
            y.span(y.get(s, "image").unwrap(), text)
                .map(|r| text[r].to_owned())
        };
        assert_eq!(span("web").unwrap(), "nginx:1.27");
        assert_eq!(span("api").unwrap(), "ghcr.io/o/api:v2");
        assert_eq!(span("x").unwrap(), "plain:1");
        assert!(span("y").unwrap_err().contains("block"));
        assert!(span("z").unwrap_err().contains("escapes"));
    }

    #[test]
    fn aliases_share_and_merges_reach() {
        let text = "x-base: &base\n  image: nginx:1.27\nservices:\n  web:\n    <<: *base\n  api:\n    image: &api ghcr.io/org/api:v2\n  worker:\n    image: *api\n";
        let y = Yaml::parse(text).unwrap();
        let services = y.get(y.docs[0], "services").unwrap();
        let image = |s: &str| y.get(y.get(services, s).unwrap(), "image").unwrap();
        assert_eq!(y.str(image("web")), Some("nginx:1.27"));
        assert_eq!(image("api"), image("worker"), "one node, shared");
        // A billion laughs costs nothing: aliases are not copied.
        let mut bomb = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        let mut prev = 'a';
        for n in 'b'..='j' {
            bomb.push_str(&format!(
                "{n}: &{n} [{}]\n",
                vec![format!("*{prev}"); 9].join(", ")
            ));
            prev = n;
        }
        assert!(Yaml::parse(&bomb).unwrap().nodes.len() < 200);
        let deep = "[".repeat(300) + &"]".repeat(300);
        let err = Yaml::parse(&deep).unwrap_err().to_string();
        assert!(err.contains("nested") || err.contains("recursion"), "{err}");
        let looping = "a: &a\n  <<: *a\n";
        assert!(
            Yaml::parse(looping).is_err() || {
                let y = Yaml::parse(looping).unwrap();
                y.get(y.docs[0], "image").is_none()
            }
        );
    }
}
