//! Recall per type and non-PII words kept on `tests/golden/*.jsonl`.
//!
//! The rule is that of the public scorer: placeholders collapse to one
//! character that matches nothing; an original character is visible when
//! the alignment of the original with the redacted text keeps it (here a
//! longest common subsequence); a value is caught when no letter or digit
//! of any of its word-bounded occurrences is visible; a non-PII word is
//! kept when all its characters are visible.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use transcripts::{RawUtterance, Scrubber};

#[derive(Deserialize)]
struct Case {
    id: String,
    channel: String,
    text: String,
    pii: Vec<Pii>,
}

#[derive(Deserialize)]
struct Pii {
    #[serde(rename = "type")]
    kind: String,
    value: String,
}

fn load() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut cases = Vec::new();
    for name in ["voice.jsonl", "chat.jsonl", "harder.jsonl"] {
        let text = std::fs::read_to_string(dir.join(name)).expect("golden file readable");
        for (n, line) in text.lines().enumerate() {
            let case: Case =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{name}:{}: {e}", n + 1));
            cases.push(case);
        }
    }
    cases
}

const SENTINEL: char = '\u{E000}';

/// Replaces `[WORD]` placeholders with one sentinel character.
fn collapse(redacted: &str) -> Vec<char> {
    let chars: Vec<char> = redacted.chars().collect();
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '[' {
            let close = chars[i + 1..].iter().position(|c| *c == ']');
            if let Some(len) = close {
                let inner = &chars[i + 1..i + 1 + len];
                if (1..=40).contains(&inner.len())
                    && inner
                        .iter()
                        .all(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
                {
                    out.push(SENTINEL);
                    i += len + 2;
                    continue;
                }
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Which characters of `original` survive in `redacted`.
fn visible(original: &[char], redacted: &[char]) -> Vec<bool> {
    let (n, m) = (original.len(), redacted.len());
    let mut dp = vec![vec![0u16; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            dp[i][j] = if original[i] == redacted[j] {
                dp[i + 1][j + 1] + 1
            } else {
                dp[i + 1][j].max(dp[i][j + 1])
            };
        }
    }
    let mut vis = vec![false; n];
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if original[i] == redacted[j] {
            vis[i] = true;
            i += 1;
            j += 1;
        } else if dp[i + 1][j] >= dp[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    vis
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Char spans of the word-bounded occurrences of `value` in `text`.
fn occurrences(text: &[char], value: &[char]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    if value.is_empty() || value.len() > text.len() {
        return out;
    }
    for s in 0..=text.len() - value.len() {
        let e = s + value.len();
        if text[s..e] != *value {
            continue;
        }
        let before = !is_word(value[0]) || s == 0 || !is_word(text[s - 1]);
        let after = !is_word(value[value.len() - 1]) || e == text.len() || !is_word(text[e]);
        if before && after {
            out.push((s, e));
        }
    }
    out
}

#[derive(Default)]
struct Score {
    total: BTreeMap<String, usize>,
    caught: BTreeMap<String, usize>,
    words: usize,
    kept: usize,
    leaks: Vec<String>,
}

fn score(cases: &[Case], scrubber: &Scrubber) -> Score {
    let mut s = Score::default();
    for case in cases {
        let redacted = scrubber.scrub(&RawUtterance::new(case.text.clone()));
        let text: Vec<char> = case.text.chars().collect();
        let vis = visible(&text, &collapse(redacted.as_str()));
        let mut mask = vec![false; text.len()];
        for p in &case.pii {
            let value: Vec<char> = p.value.chars().collect();
            let mut ok = true;
            for (a, b) in occurrences(&text, &value) {
                for k in a..b {
                    mask[k] = true;
                    if text[k].is_alphanumeric() && vis[k] {
                        ok = false;
                    }
                }
            }
            *s.total.entry(p.kind.clone()).or_default() += 1;
            if ok {
                *s.caught.entry(p.kind.clone()).or_default() += 1;
            } else {
                s.leaks.push(format!(
                    "{} ({}) {}: {redacted}",
                    case.id, case.channel, p.kind
                ));
            }
        }
        let mut k = 0;
        while k < text.len() {
            if !is_word(text[k]) {
                k += 1;
                continue;
            }
            let start = k;
            while k < text.len() && is_word(text[k]) {
                k += 1;
            }
            if mask[start..k].iter().any(|m| *m) {
                continue;
            }
            s.words += 1;
            if vis[start..k].iter().all(|v| *v) {
                s.kept += 1;
            }
        }
    }
    s
}

#[test]
fn golden_set_meets_the_recall_and_kept_floors() {
    let cases = load();
    assert!(cases.len() >= 200, "golden set has {} cases", cases.len());
    let negatives = cases.iter().filter(|c| c.pii.is_empty()).count();
    assert!(negatives >= 50, "only {negatives} negative cases");
    let s = score(&cases, &Scrubber::new());
    let recall = |kind: &str| {
        let total = s.total.get(kind).copied().unwrap_or(0);
        assert!(total > 0, "no {kind} values in the golden set");
        s.caught.get(kind).copied().unwrap_or(0) as f64 / total as f64
    };
    println!(
        "golden set: {} cases, {negatives} without personal data",
        cases.len()
    );
    for kind in s.total.keys() {
        println!(
            "  recall {kind:<8} {:.3} of {}",
            recall(kind),
            s.total[kind]
        );
    }
    let kept = s.kept as f64 / s.words as f64;
    println!("  non-PII words kept {kept:.4} of {}", s.words);
    for leak in &s.leaks {
        println!("  missed {leak}");
    }
    for kind in ["CPR", "PHONE", "EMAIL", "ACCOUNT"] {
        assert!(
            recall(kind) >= 0.99,
            "{kind} recall {:.3} below 0.99",
            recall(kind)
        );
    }
    for kind in ["NAME", "ADDRESS"] {
        assert!(
            recall(kind) >= 0.95,
            "{kind} recall {:.3} below 0.95",
            recall(kind)
        );
    }
    assert!(kept >= 0.97, "non-PII words kept {kept:.4} below 0.97");
}

#[test]
fn scorer_counts_a_partly_hidden_value_as_missed() {
    let text: Vec<char> = "cpr 010203 1234".chars().collect();
    let vis = visible(&text, &collapse("cpr 010203 [CPR]"));
    let occ = occurrences(&text, &"010203 1234".chars().collect::<Vec<_>>());
    assert_eq!(occ, [(4, 15)]);
    assert!(vis[4..10].iter().all(|v| *v));
    assert!(!vis[11..15].iter().any(|v| *v));
}
