//! Health details of a person (GDPR art. 9): diagnoses, conditions,
//! injuries and medication, from the shipped lexicon
//! (`transcripts/data/health.txt`, one term or phrase a line) and the
//! pattern "<complaint> i <body part>" ("smerter i ryggen", "blodprop i
//! hjernen", "lam i venstre side", "brækkede hoften").
//!
//! Department and service names ("ældreplejen", "handicap og psykiatri"),
//! benefits ("helbredstillæg") and documents ("lægeerklæring") are not in
//! the lexicon and stay.

use std::collections::HashSet;

use super::{Ctx, Kind};

#[derive(Debug, Clone)]
pub(super) struct HealthLexicon {
    words: HashSet<String>,
    phrases: Vec<Vec<String>>,
}

const COMPLAINTS: &[&str] = &[
    "smerter",
    "ondt",
    "blodprop",
    "kræft",
    "betændelse",
    "gigt",
    "lam",
    "lammet",
    "brud",
    "brækket",
    "brækkede",
    "brækkedet",
    "problemer",
    "skade",
    "sår",
    "svulst",
    "tumor",
    "knogleskørhed",
    "slidgigt",
    "operation",
    "opereret",
    "blødning",
    "infektion",
];

const BODY: &[&str] = &[
    "ryggen",
    "hoften",
    "hofte",
    "benet",
    "benene",
    "armen",
    "armene",
    "hovedet",
    "knæet",
    "knæene",
    "skulderen",
    "skuldrene",
    "hjertet",
    "hjernen",
    "lungerne",
    "lungen",
    "maven",
    "nakken",
    "foden",
    "fødderne",
    "hånden",
    "hænderne",
    "håndleddet",
    "brystet",
    "leveren",
    "nyrerne",
    "nyren",
    "tarmen",
    "tarmene",
    "halsen",
    "øret",
    "ørerne",
    "øjnene",
    "øjet",
    "ryg",
    "side",
    "siden",
    "kroppen",
    "leddene",
    "musklerne",
    "albuen",
    "anklen",
    "lårbenet",
    "bækkenet",
    "ansigtet",
    "blæren",
    "prostata",
    "livmoderen",
    "bugspytkirtlen",
];

const COMPOUND_ENDINGS: &[&str] = &[
    "betændelse",
    "sygdom",
    "sygdomme",
    "kræft",
    "smerter",
    "gigt",
    "blødning",
    "medicin",
    "operation",
    "operationen",
    "skade",
    "lidelse",
    "lidelser",
    "forstyrrelse",
    "svigt",
    "brud",
    "infarkt",
];

/// Compounds with those endings that are not a person's health.
fn not_health(w: &str) -> bool {
    matches!(
        w,
        "vandskade"
            | "vandskaden"
            | "stormskade"
            | "stormskaden"
            | "bilskade"
            | "skade"
            | "forsikringsskade"
            | "medicin"
            | "medicinen"
            | "kontraktbrud"
            | "aftalebrud"
            | "lovbrud"
            | "indbrud"
            | "strømsvigt"
            | "systemsvigt"
            | "svigt"
            | "fejloperation"
            | "brud"
            | "operation"
            | "lidelse"
            | "rengøringsskade"
            | "frostskade"
            | "frostskader"
            | "arbejdsskade"
            | "arbejdsskaden"
            | "omsorgssvigt"
            | "løftebrud"
            | "tillidsbrud"
    )
}

impl HealthLexicon {
    pub(super) fn shipped() -> Self {
        let mut words = HashSet::new();
        let mut phrases = Vec::new();
        for line in include_str!("../../data/health.txt").lines() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let parts: Vec<String> = l
                .to_lowercase()
                .split_whitespace()
                .map(str::to_string)
                .collect();
            if parts.len() == 1 {
                words.extend(parts);
            } else {
                phrases.push(parts);
            }
        }
        phrases.sort_by_key(|p| std::cmp::Reverse(p.len()));
        HealthLexicon { words, phrases }
    }

    /// The word or its stem without a definite or plural ending
    /// ("depressionen", "kræften", "blodpropperne").
    fn contains_inflected(&self, w: &str) -> bool {
        self.words.contains(w)
            || ["erne", "ene", "en", "et", "ne", "er", "e", "n"]
                .iter()
                .any(|end| {
                    w.strip_suffix(end)
                        .is_some_and(|stem| stem.chars().count() >= 4 && self.words.contains(stem))
                })
    }

    pub(super) fn find(&self, ctx: &mut Ctx<'_>) {
        let n = ctx.tokens.len();
        let mut i = 0;
        'outer: while i < n {
            if !ctx.free(i) {
                i += 1;
                continue;
            }
            for p in &self.phrases {
                if i + p.len() <= n
                    && (0..p.len()).all(|k| ctx.lower(i + k) == p[k] && ctx.free(i + k))
                {
                    ctx.claim(i, i + p.len(), Kind::Health);
                    i += p.len();
                    continue 'outer;
                }
            }
            let w = ctx.lower(i).to_string();
            // "kronisk træthed", "kroniske smerter": a chronic anything.
            if matches!(w.as_str(), "kronisk" | "kroniske")
                && i + 1 < n
                && ctx.free(i + 1)
                && ctx.tokens[i + 1].is_alpha()
                && !matches!(ctx.lower(i + 1), "og" | "eller" | "syg" | "syge")
            {
                ctx.claim(i, i + 2, Kind::Health);
                i += 2;
                continue;
            }
            // "<complaint> i [venstre|højre] <body part>".
            if COMPLAINTS.contains(&w.as_str()) {
                let mut k = i + 1;
                if matches!(ctx.lower(k), "i" | "på" | "af" | "med") {
                    k += 1;
                }
                if matches!(
                    ctx.lower(k),
                    "venstre" | "højre" | "begge" | "den" | "min" | "hans" | "hendes"
                ) {
                    k += 1;
                }
                if k < n && BODY.contains(&ctx.lower(k)) {
                    ctx.claim(i, k + 1, Kind::Health);
                    i = k + 1;
                    continue;
                }
            }
            let compound = !not_health(&w)
                && COMPOUND_ENDINGS
                    .iter()
                    .any(|e| w.ends_with(e) && w.len() > e.len() + 2);
            if self.contains_inflected(&w) || compound {
                ctx.claim(i, i + 1, Kind::Health);
            }
            i += 1;
        }
    }
}
