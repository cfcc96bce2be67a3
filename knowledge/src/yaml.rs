//! The single place that calls the YAML parser, for every crate of the
//! workspace (flows, departments, SMS templates and answers alike).
//!
//! serde_yaml is deprecated upstream; keeping every call behind
//! [`parse_yaml`] means a replacement touches one function. Every struct
//! parsed through it uses `deny_unknown_fields`, so a misspelt key is an
//! error with its line and column rather than a silently ignored setting.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::{Location, Problem};

/// Parses `text` (read from `path`) into `T`, or a problem with the file,
/// line and column the parser stopped at.
pub fn parse_yaml<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, Problem> {
    serde_yaml::from_str(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((1, 1));
        // The parser appends "at line X column Y" to its message; the
        // location is reported separately, so drop the duplicate.
        let mut message = e.to_string();
        if let Some(cut) = message.find(" at line ") {
            message.truncate(cut);
        }
        Problem {
            location: Location {
                file: path.to_path_buf(),
                line,
                column,
            },
            code: "yaml",
            message,
        }
    })
}

/// Finds where things are in a YAML text after it parsed, so validation
/// errors (an unknown topic, a duplicate id) can name a line and column.
///
/// serde_yaml keeps no spans, so this reads the text itself. It understands
/// only the block layout the project's files use: a top-level key holding a
/// sequence of mappings, one key per line.
pub struct SourceMap<'a> {
    lines: Vec<&'a str>,
}

impl<'a> SourceMap<'a> {
    pub fn new(text: &'a str) -> Self {
        SourceMap {
            lines: text.lines().collect(),
        }
    }

    /// Line and column (1-based) of `key` inside item `index` of the
    /// sequence under the top-level `list` key; the item's first line when
    /// the key is not found, and (1, 1) when the item is not found.
    pub fn locate(&self, list: &str, index: usize, key: &str) -> (usize, usize) {
        let Some(items) = self.items(list) else {
            return (1, 1);
        };
        let Some(&(start, indent)) = items.get(index) else {
            return (1, 1);
        };
        let end = items.get(index + 1).map_or(self.lines.len(), |&(s, _)| s);
        for (n, line) in self.lines[start..end].iter().enumerate() {
            let body = if n == 0 {
                line.get(indent + 2..).unwrap_or("")
            } else {
                line.trim_start()
            };
            if body.starts_with(key) && body[key.len()..].starts_with(':') {
                let column = line.len() - body.len() + 1;
                return (start + n + 1, column);
            }
        }
        (start + 1, indent + 1)
    }

    /// The 0-based line of a top-level `key:`.
    pub fn top_level_line(&self, key: &str) -> Option<usize> {
        self.lines
            .iter()
            .position(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))
    }

    /// Start line (0-based) and indentation of each item of `list`.
    fn items(&self, list: &str) -> Option<Vec<(usize, usize)>> {
        let header = self
            .lines
            .iter()
            .position(|l| l.trim_end() == format!("{list}:"))?;
        let mut items = Vec::new();
        let mut item_indent = None;
        for (n, line) in self.lines.iter().enumerate().skip(header + 1) {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let indent = line.len() - trimmed.len();
            if indent == 0 && !trimmed.starts_with('-') {
                break; // the next top-level key
            }
            if trimmed.starts_with("- ") || trimmed == "-" {
                match item_indent {
                    None => {
                        item_indent = Some(indent);
                        items.push((n, indent));
                    }
                    Some(i) if i == indent => items.push((n, indent)),
                    Some(_) => {}
                }
            }
        }
        Some(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_keys_inside_sequence_items() {
        let text = "version: 1\nanswers:\n  - id: a\n    topic: x\n  - id: b\n    title: t\n    topic: y\n";
        let map = SourceMap::new(text);
        assert_eq!(map.locate("answers", 0, "id"), (3, 5));
        assert_eq!(map.locate("answers", 1, "topic"), (7, 5));
        assert_eq!(map.locate("answers", 1, "links"), (5, 3));
        assert_eq!(map.locate("answers", 2, "id"), (1, 1));
    }

    #[test]
    fn parse_error_names_line_and_column() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct S {
            a: u32,
        }
        let err = parse_yaml::<S>(Path::new("f.yaml"), "a: 1\nb: 2\n").unwrap_err();
        assert_eq!((err.location.line, err.location.column), (2, 1));
        assert!(err.message.contains("unknown field `b`"), "{}", err.message);
    }
}
