//! Ordinary words are not taken for names: every example question of the
//! shipped answers (`answers/`, `municipalities/*/answers/`) loses no word
//! to `[NAVN]` except the real names listed in [`REAL_NAMES`]; and the
//! shipped name lists stay clean.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use transcripts::{RawUtterance, Scrubber};

/// Names of staff that example questions mention on purpose ("jeg vil
/// gerne tale med Hanne"). Lowercase, compared word by word.
const REAL_NAMES: &[&str] = &["ali", "hanne", "lars", "mette"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crate lies in the workspace")
        .to_path_buf()
}

fn yaml_files() -> Vec<PathBuf> {
    let root = workspace();
    let mut dirs = vec![root.join("answers")];
    if let Ok(entries) = std::fs::read_dir(root.join("municipalities")) {
        dirs.extend(entries.flatten().map(|e| e.path().join("answers")));
    }
    let mut files = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        files.extend(
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "yaml")),
        );
    }
    files.sort();
    files
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The items of every `questions:` block, read line by line: transcripts
/// must not depend on `knowledge`, the only crate that parses YAML, and the
/// example questions are one plain or quoted scalar a line.
fn example_questions(yaml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut block: Option<usize> = None;
    for line in yaml.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(depth) = block {
            if let Some(item) = trimmed.strip_prefix("- ").filter(|_| indent(line) >= depth) {
                out.push(unquote(item.trim()));
                continue;
            }
            if indent(line) > depth + 2 {
                // A long item wrapped onto the next line.
                continue;
            }
            block = None;
        }
        if trimmed == "questions:" {
            block = Some(indent(line));
        }
    }
    out
}

fn unquote(s: &str) -> String {
    let quoted = s.len() >= 2
        && ((s.starts_with('"') && s.ends_with('"')) || (s.starts_with('\'') && s.ends_with('\'')));
    if quoted {
        s[1..s.len() - 1].replace("\\\"", "\"").replace("''", "'")
    } else {
        s.to_string()
    }
}

/// The text each placeholder of `redacted` stands for in `original`. The
/// scrubber keeps everything outside a placeholder byte for byte, so the
/// literal pieces between placeholders are found in order (backtracking
/// where a short piece such as " " occurs more than once).
fn hidden<'a>(original: &'a str, redacted: &str) -> Option<Vec<(String, &'a str)>> {
    let mut pieces = vec![String::new()];
    let mut placeholders = Vec::new();
    let mut rest = redacted;
    while let Some(c) = rest.chars().next() {
        let inner = rest
            .strip_prefix('[')
            .and_then(|r| r.find(']').map(|end| &r[..end]))
            .filter(|w| !w.is_empty() && w.chars().all(char::is_uppercase));
        if let Some(word) = inner {
            placeholders.push(word.to_string());
            pieces.push(String::new());
            rest = &rest[word.len() + 2..];
        } else {
            pieces.last_mut()?.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    let body = original.strip_prefix(pieces[0].as_str())?;
    let mut spans = Vec::new();
    if !fill(body, &pieces[1..], &mut spans) {
        return None;
    }
    Some(placeholders.into_iter().zip(spans).collect())
}

/// Splits `text` into one non-empty hidden span before each of `pieces`,
/// the last piece ending the text.
fn fill<'a>(text: &'a str, pieces: &[String], spans: &mut Vec<&'a str>) -> bool {
    let Some((piece, rest)) = pieces.split_first() else {
        return text.is_empty();
    };
    if rest.is_empty() {
        let ok = text.len() > piece.len() && text.ends_with(piece.as_str());
        if ok {
            spans.push(&text[..text.len() - piece.len()]);
        }
        return ok;
    }
    for (at, _) in text.char_indices().skip(1) {
        if !text[at..].starts_with(piece.as_str()) {
            continue;
        }
        spans.push(&text[..at]);
        if fill(&text[at + piece.len()..], rest, spans) {
            return true;
        }
        spans.pop();
    }
    false
}

#[test]
fn example_questions_lose_no_ordinary_word_to_a_name() {
    let scrubber = Scrubber::new();
    let allowed: HashSet<&str> = REAL_NAMES.iter().copied().collect();
    let mut questions = 0;
    let mut eaten: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in yaml_files() {
        let yaml = std::fs::read_to_string(&file).expect("answer file readable");
        for q in example_questions(&yaml) {
            questions += 1;
            let redacted = scrubber.scrub(&RawUtterance::new(q.clone()));
            if !redacted.as_str().contains("[NAVN]") {
                continue;
            }
            let spans = hidden(&q, redacted.as_str())
                .unwrap_or_else(|| panic!("cannot align {q:?} with {:?}", redacted.as_str()));
            for (_, span) in spans.into_iter().filter(|(k, _)| k == "NAVN") {
                for word in span.split(|c: char| !c.is_alphanumeric()) {
                    let lower = word.to_lowercase();
                    if !word.is_empty() && !allowed.contains(lower.as_str()) {
                        eaten.entry(lower).or_default().push(q.clone());
                    }
                }
            }
        }
    }
    assert!(
        questions >= 1000,
        "read only {questions} example questions: is the answer layout changed?"
    );
    println!("{questions} example questions scrubbed");
    assert!(
        eaten.is_empty(),
        "ordinary words taken for names (move them to names-ambiguous.txt): {eaten:#?}"
    );
}

#[test]
fn alignment_finds_what_each_placeholder_hides() {
    let spans = hidden("ring til hans jensen i dag", "ring til [NAVN] i dag").expect("aligns");
    assert_eq!(spans, [("NAVN".to_string(), "hans jensen")]);
    let spans = hidden("a b c", "[NAVN] [NAVN]").expect("aligns");
    assert_eq!(spans.len(), 2);
    assert!(hidden("ring til bo", "ring til [NAVN] nu").is_none());
    let qs = example_questions("questions:\n  - en\n  - \"to\"\nkeywords: [x]\n  - nej\n");
    assert_eq!(qs, ["en", "to"]);
}

fn list(name: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name);
    std::fs::read_to_string(&path)
        .expect("name list readable")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn name_lists_are_lowercase_single_words_without_overlap() {
    let first = list("names-first.txt");
    let surnames = list("names-surnames.txt");
    let ambiguous: BTreeSet<String> = list("names-ambiguous.txt").into_iter().collect();
    assert!(first.len() >= 2000, "{} first names", first.len());
    assert!(surnames.len() >= 1000, "{} surnames", surnames.len());
    for entry in first.iter().chain(&surnames).chain(&ambiguous) {
        assert!(
            entry
                .chars()
                .all(|c| c.is_alphabetic() && !c.is_uppercase()),
            "{entry:?}: one lowercase word a line (the tokenizer splits at '-' and ' ')"
        );
    }
    let both: Vec<&String> = first
        .iter()
        .chain(&surnames)
        .filter(|n| ambiguous.contains(*n))
        .collect();
    assert!(
        both.is_empty(),
        "listed as names and as ambiguous: {both:?}"
    );
    // Everyday words that must never be taken for a name without a cue.
    for word in [
        "post", "grøn", "skat", "pas", "bolig", "maj", "viet", "else",
    ] {
        assert!(
            !first.iter().chain(&surnames).any(|n| n == word),
            "{word} is an ordinary word"
        );
    }
}
