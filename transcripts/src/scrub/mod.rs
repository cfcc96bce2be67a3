//! The Danish personal-data scrubber.
//!
//! # Rules
//!
//! The text is split into tokens ([`tokens`]); each rule module marks
//! spans of the original text with a [`Kind`]; overlapping spans are merged
//! and every span is replaced by its placeholder (`[CPR]`, `[NAVN]`, ...).
//! Everything outside a span is kept byte for byte, so an analyst still
//! reads what the citizen wanted.
//!
//! The rules run in a fixed order, each one claiming tokens so a later rule
//! does not read them again: e-mail addresses ([`contact`]), case numbers,
//! street addresses ([`address`]), dates of birth ([`birth`]), licence
//! plates, then every remaining number run, classified by its digit count,
//! its date validity and the nearest cue word before it (CPR numbers by the
//! date and century-digit rules, never modulus 11). Then spelled-out
//! letters and personal names ([`names`]) and health details ([`health`]).
//! Finally every other occurrence of a value already found is hidden too.
//!
//! # Known gaps
//!
//! - Names not in the shipped lists are found only after a cue ("jeg
//!   hedder", "mvh", "navn:") or by capitalisation next to a known name.
//! - Names that are also ordinary words (bo, hans, per, skov) need a cue or
//!   a known name beside them; "det er per telefon" is a false positive.
//! - Eight digits with no cue are taken as a phone number; six or four
//!   digits with no cue are kept (they are as often prices or years).
//! - Health details are a lexicon plus "smerter/ondt/kræft i <body part>";
//!   a condition described in other words stays.

mod address;
mod birth;
mod contact;
mod health;
mod names;
mod numbers;
mod tokens;

use std::collections::HashSet;

use crate::{RawUtterance, RedactedText};
use tokens::Token;

/// The kinds of personal data the scrubber hides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Cpr,
    Phone,
    Email,
    Name,
    Address,
    Account,
    Plate,
    BirthDate,
    Case,
    Health,
}

impl Kind {
    fn placeholder(self) -> &'static str {
        match self {
            Kind::Cpr => "[CPR]",
            Kind::Phone => "[TELEFON]",
            Kind::Email => "[EMAIL]",
            Kind::Name => "[NAVN]",
            Kind::Address => "[ADRESSE]",
            Kind::Account => "[KONTO]",
            Kind::Plate => "[NUMMERPLADE]",
            Kind::BirthDate => "[FØDSELSDATO]",
            Kind::Case => "[SAGSNUMMER]",
            Kind::Health => "[HELBRED]",
        }
    }
}

/// A stretch of the original text (byte offsets) to hide.
#[derive(Debug, Clone, Copy)]
struct Found {
    start: usize,
    end: usize,
    kind: Kind,
}

/// One utterance being scrubbed: the text, its tokens and what is found.
struct Ctx<'a> {
    text: &'a str,
    tokens: Vec<Token<'a>>,
    claimed: Vec<bool>,
    found: Vec<Found>,
}

impl<'a> Ctx<'a> {
    fn new(text: &'a str) -> Self {
        let tokens = tokens::tokenize(text);
        let claimed = vec![false; tokens.len()];
        Ctx {
            text,
            tokens,
            claimed,
            found: Vec::new(),
        }
    }

    fn lower(&self, i: usize) -> &str {
        self.tokens.get(i).map_or("", |t| t.lower.as_str())
    }

    fn free(&self, i: usize) -> bool {
        i < self.tokens.len() && !self.claimed[i]
    }

    /// Hides tokens `first..last`.
    fn claim(&mut self, first: usize, last: usize, kind: Kind) {
        if first >= last || last > self.tokens.len() {
            return;
        }
        let (start, end) = (self.tokens[first].start, self.tokens[last - 1].end);
        self.claim_bytes(start, end, kind);
    }

    /// Hides a byte range and claims the tokens inside it.
    fn claim_bytes(&mut self, start: usize, end: usize, kind: Kind) {
        for (i, t) in self.tokens.iter().enumerate() {
            if t.start < end && t.end > start {
                self.claimed[i] = true;
            }
        }
        self.found.push(Found { start, end, kind });
    }

    fn gap(&self, i: usize) -> &'a str {
        tokens::gap(self.text, &self.tokens, i)
    }

    /// Hides every other word-bounded occurrence of what was found, since
    /// a value said twice must be hidden twice.
    fn repeat_occurrences(&mut self) {
        let values: HashSet<(String, Kind)> = self
            .found
            .iter()
            .map(|f| (self.text[f.start..f.end].to_lowercase(), f.kind))
            .filter(|(v, _)| v.chars().filter(|c| c.is_alphanumeric()).count() >= 2)
            .collect();
        let lower = self.text.to_lowercase();
        if lower.len() != self.text.len() {
            // Lowercasing changed byte offsets (rare letters); token-level
            // matching below still covers single-token values.
            for (v, kind) in &values {
                for i in 0..self.tokens.len() {
                    if !self.claimed[i] && self.tokens[i].lower == *v {
                        self.claim(i, i + 1, *kind);
                    }
                }
            }
            return;
        }
        for (v, kind) in values {
            let mut from = 0;
            while let Some(pos) = lower[from..].find(&v) {
                let (s, e) = (from + pos, from + pos + v.len());
                let before_ok = lower[..s]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !c.is_alphanumeric());
                let after_ok = lower[e..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_alphanumeric());
                if before_ok
                    && after_ok
                    && self.text.is_char_boundary(s)
                    && self.text.is_char_boundary(e)
                    && !self.found.iter().any(|f| f.start <= s && f.end >= e)
                {
                    self.claim_bytes(s, e, kind);
                }
                from = e;
            }
        }
    }

    fn render(mut self) -> String {
        self.found
            .sort_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
        let mut out = String::with_capacity(self.text.len());
        let mut at = 0;
        let mut i = 0;
        while i < self.found.len() {
            let first = self.found[i];
            let mut end = first.end;
            i += 1;
            while i < self.found.len() && self.found[i].start < end {
                end = end.max(self.found[i].end);
                i += 1;
            }
            if first.start < at {
                continue;
            }
            out.push_str(&self.text[at..first.start]);
            out.push_str(first.kind.placeholder());
            at = end;
        }
        out.push_str(&self.text[at..]);
        out
    }
}

/// Replaces personal data with placeholders such as `[CPR]` or `[NAVN]`.
///
/// Built once (it loads the shipped name and health lexicons) and shared;
/// scrubbing does not allocate beyond the utterance's own tokens.
#[derive(Debug, Clone)]
pub struct Scrubber {
    names: names::NameLexicon,
    health: health::HealthLexicon,
}

impl Default for Scrubber {
    fn default() -> Self {
        Self::new()
    }
}

impl Scrubber {
    pub fn new() -> Self {
        Scrubber {
            names: names::NameLexicon::shipped(),
            health: health::HealthLexicon::shipped(),
        }
    }

    /// The only way from a raw utterance to storable text.
    pub fn scrub(&self, raw: &RawUtterance) -> RedactedText {
        let mut ctx = Ctx::new(raw.expose());
        contact::emails(&mut ctx);
        contact::iban(&mut ctx);
        contact::case_numbers(&mut ctx);
        address::addresses(&mut ctx);
        birth::birth_dates(&mut ctx);
        contact::plates(&mut ctx);
        contact::number_runs(&mut ctx);
        names::spelled(&mut ctx);
        self.names.find(&mut ctx);
        self.health.find(&mut ctx);
        ctx.repeat_occurrences();
        RedactedText(ctx.render())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrub(text: &str) -> String {
        Scrubber::new()
            .scrub(&RawUtterance::new(text))
            .as_str()
            .to_string()
    }

    #[test]
    fn hides_cpr_in_every_form() {
        assert_eq!(scrub("cpr: 170562-1183"), "cpr: [CPR]");
        assert_eq!(
            scrub("mit cpr nummer er 140387 2133"),
            "mit cpr nummer er [CPR]"
        );
        assert_eq!(
            scrub("ja mit cpr nummer det er nul fem elleve syvogtres seksten tyve"),
            "ja mit cpr nummer det er [CPR]"
        );
        assert_eq!(
            scrub("de første seks cifre er 030459 og de sidste fire er øh 1068"),
            "de første seks cifre er [CPR] og de sidste fire er øh [CPR]"
        );
    }

    #[test]
    fn keeps_prices_hours_and_paragraphs() {
        for text in [
            "det koster 45 kr per sæk",
            "er det otte til femten eller ni til tolv",
            "er det paragraf 3a eller paragraf 85",
            "jeg bor i holbæk og postnummeret er 4300",
            "kan jeg booke en tid den femtende maj",
        ] {
            assert_eq!(scrub(text), text);
        }
    }

    #[test]
    fn hides_every_occurrence_of_a_name() {
        assert_eq!(
            scrub("min nabo hun hedder inger et eller andet inger dahl"),
            "min nabo hun hedder [NAVN] et eller andet [NAVN]"
        );
    }
}

#[cfg(test)]
mod robustness {
    use super::*;

    /// Random mixtures of Danish words, number words, digits, punctuation
    /// and letters whose lowercase changes length never panic, and
    /// everything outside a placeholder is copied from the input.
    #[test]
    fn any_text_scrubs_without_panic_and_keeps_only_input_text() {
        const PIECES: &[&str] = &[
            "cpr",
            "170562",
            "-",
            "1183",
            "snabel-a",
            "punktum",
            "dk",
            "hedder",
            "mette",
            "hans",
            "vej",
            "elmevej",
            "7",
            "st",
            "tv",
            "8600",
            "silkeborg",
            "nul",
            "fem",
            "otteogfirs",
            "hundrede",
            "og",
            "født",
            "den",
            "tredje",
            "marts",
            "İstanbul",
            "ẞ",
            "Ω",
            "😊",
            "@",
            "(at)",
            ".",
            ",",
            "\n",
            "  ",
            "sag",
            "reg",
            "konto",
            "+45",
            "a",
            "b",
            "k",
            "j",
            "æ",
            "r",
            "smerter",
            "i",
            "ryggen",
            "mvh",
            "Navn:",
            "DK50",
            "0040",
        ];
        let scrubber = Scrubber::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..3000 {
            let mut text = String::new();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 25) as usize;
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                text.push_str(PIECES[(x % PIECES.len() as u64) as usize]);
                if !x.is_multiple_of(3) {
                    text.push(' ');
                }
            }
            let out = scrubber.scrub(&RawUtterance::new(text.clone()));
            // Every stretch between placeholders is a substring of the input.
            let mut rest = out.as_str();
            while let Some(open) = rest.find('[') {
                assert!(text.contains(&rest[..open]), "{text:?} -> {out:?}");
                rest = rest[open..].split_once(']').map_or("", |(_, r)| r);
            }
        }
    }
}
