//! Locating keys in a staff-edited YAML text for validation messages.
//!
//! Builds on `knowledge::yaml::SourceMap` (top-level sequences of
//! mappings) and adds the two lookups the flow files need: a key nested
//! under a top-level mapping, and a text found after a given line.

use std::path::Path;

use knowledge::yaml::SourceMap;
use knowledge::{Location, Problem};

/// A YAML text and its file name, for making located problems.
pub(crate) struct Locator<'a> {
    file: &'a Path,
    text: &'a str,
    map: SourceMap<'a>,
}

impl<'a> Locator<'a> {
    pub(crate) fn new(file: &'a Path, text: &'a str) -> Self {
        Locator {
            file,
            text,
            map: SourceMap::new(text),
        }
    }

    /// A problem at line and column.
    pub(crate) fn at(
        &self,
        (line, column): (usize, usize),
        code: &'static str,
        message: String,
    ) -> Problem {
        Problem {
            location: Location {
                file: self.file.to_path_buf(),
                line,
                column,
            },
            code,
            message,
        }
    }

    /// Key `key` of item `index` of the top-level sequence `list`.
    pub(crate) fn item(&self, list: &str, index: usize, key: &str) -> (usize, usize) {
        self.map.locate(list, index, key)
    }

    /// A top-level key, or (1, 1).
    pub(crate) fn top(&self, key: &str) -> (usize, usize) {
        self.map
            .top_level_line(key)
            .map_or((1, 1), |line| (line + 1, 1))
    }

    /// The `key:` nested anywhere below top-level `parent:`; the parent when absent.
    pub(crate) fn nested(&self, parent: &str, key: &str) -> (usize, usize) {
        let Some(start) = self.map.top_level_line(parent) else {
            return (1, 1);
        };
        for (n, line) in self.text.lines().enumerate().skip(start + 1) {
            let trimmed = line.trim_start();
            if !line.is_empty() && !line.starts_with(' ') && !trimmed.starts_with('#') {
                break;
            }
            let body = trimmed.trim_start_matches("- ");
            if body.starts_with(key) && body[key.len()..].starts_with(':') {
                return (n + 1, line.len() - body.len() + 1);
            }
        }
        (start + 1, 1)
    }

    /// The first occurrence of `needle` at or after 1-based line `from`;
    /// `from` itself when absent.
    pub(crate) fn find_from(&self, from: (usize, usize), needle: &str) -> (usize, usize) {
        for (n, line) in self.text.lines().enumerate().skip(from.0.saturating_sub(1)) {
            if let Some(col) = line.find(needle) {
                return (n + 1, line[..col].chars().count() + 1);
            }
        }
        from
    }

    /// The next line after 1-based line `after` that starts a sequence
    /// item (`- `) at `column`; `after` itself when there is none.
    pub(crate) fn next_item(&self, after: (usize, usize), column: usize) -> (usize, usize) {
        for (n, line) in self.text.lines().enumerate().skip(after.0) {
            let indent = line.len() - line.trim_start().len();
            if indent + 1 == column && line.trim_start().starts_with("- ") {
                return (n + 1, column);
            }
        }
        after
    }
}
