//! Danish text analysis shared by the index and the queries.
//!
//! Design notes:
//! - Letters are lowercased but never folded: æ, ø and å stay themselves
//!   (folding would merge "får" with "far" and "øl" with "ol").
//! - Compound words are split against a lexicon of the words the knowledge
//!   base itself uses ("kørekortfornyelse" → "kørekort" + "fornyelse",
//!   "affaldssortering" → "affald" + "sortering", with the linking -s- or
//!   -e- of Danish compounds). The whole word is kept beside its parts.
//! - Each word is then reduced by the Snowball Danish stemmer.
//! - Queries get three repairs documents do not need, because speech
//!   recognition and typing spoil words: words split by the recogniser are
//!   joined again ("sundheds kort"), æ/ø/å written as ae/oe/aa are restored
//!   ("boernepas"), and unknown words are corrected to the nearest lexicon
//!   word within a small edit distance ("korekort", "død pas" → "nødpas").
//!   The lexicon is small (the words of a few thousand answers), so the
//!   nearest-word search is a bounded scan over words of similar length;
//!   `vejviser bench match` keeps its cost in view.

use std::collections::HashMap;

use rust_stemmers::{Algorithm, Stemmer};

/// Words that carry no topic: Danish function words, telephone fillers and
/// the few English ones chat users mix in.
const STOPWORDS: &[&str] = &[
    "og", "i", "jeg", "det", "at", "en", "den", "til", "er", "som", "på", "de", "med", "han", "af",
    "for", "ikke", "der", "var", "mig", "sig", "men", "et", "har", "om", "vi", "min", "havde",
    "ham", "hun", "nu", "over", "da", "fra", "du", "ud", "sin", "dem", "os", "op", "man", "hans",
    "hvor", "eller", "hvad", "skal", "her", "alle", "vil", "blev", "kunne", "ind", "når", "være",
    "dog", "noget", "ville", "jo", "deres", "efter", "ned", "skulle", "denne", "end", "dette",
    "mit", "også", "under", "have", "dig", "hende", "mine", "alt", "meget", "sit", "sine", "vor",
    "mod", "disse", "hvis", "din", "nogle", "hos", "blive", "mange", "ad", "bliver", "hendes",
    "været", "jer", "sådan", "så", "kan", "hvordan", "hvorfor", "hvornår", "hvem", "hvilken",
    "hvilke", "må", "bare", "lige", "altså", "nå", "øh", "øhm", "øhh", "hm", "hmm", "ehm", "eh",
    "ja", "hej", "hejsa", "hallo", "goddag", "tak", "okay", "ok", "jamen", "sgu", "nok", "vel",
    "lidt", "godt", "fordi", "hvor", "får", "kunne", "gerne", "egentlig", "the", "a", "an", "is",
    "to", "my", "how", "do", "can", "what", "of", "in", "it", "me", "you", "please", "hi", "hello",
];

/// One analysed token and how much it should count.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// The stem, as stored in the index.
    pub stem: String,
    /// 1.0 for a word as written; less for compound parts and repairs.
    pub weight: f32,
}

/// The words of the knowledge base, used for compound splitting and for
/// repairing query words.
#[derive(Debug, Default, Clone)]
pub(crate) struct Lexicon {
    words: HashMap<String, u32>,
    stems: HashMap<String, u32>,
    /// Lexicon words by length in characters, each with its
    /// [`letter_set`].
    by_len: Vec<Vec<(u64, Vec<char>)>>,
}

/// The Danish analyser.
pub struct Analyzer {
    stemmer: Stemmer,
    lexicon: Lexicon,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer")
            .field("lexicon_words", &self.lexicon.words.len())
            .finish()
    }
}

const MIN_PART: usize = 3;
const MIN_COMPOUND: usize = 6;
const PART_WEIGHT: f32 = 0.6;
const JOIN_WEIGHT: f32 = 1.0;
const RESTORE_WEIGHT: f32 = 0.95;
const FUZZY1_WEIGHT: f32 = 0.75;
const FUZZY2_WEIGHT: f32 = 0.55;

/// Splits text into lowercase words of letters and digits.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Sounds and greetings of speech that carry no meaning at all (a subset
/// of the stop words: function words do carry meaning for an embedding).
const FILLERS: &[&str] = &[
    "øh", "øhm", "øhh", "hm", "hmm", "ehm", "eh", "altså", "jamen", "nå", "hej", "hejsa", "hallo",
    "goddag", "ja",
];

pub(crate) fn is_filler(word: &str) -> bool {
    FILLERS.contains(&word)
}

pub(crate) fn is_stopword(word: &str) -> bool {
    STOPWORDS.contains(&word)
}

impl Analyzer {
    /// An analyser whose lexicon holds the words of `texts`.
    pub fn new<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let stemmer = Stemmer::create(Algorithm::Danish);
        let mut lexicon = Lexicon::default();
        for text in texts {
            for w in words(text) {
                if w.chars().count() < MIN_PART || w.chars().any(|c| c.is_ascii_digit()) {
                    continue;
                }
                *lexicon
                    .stems
                    .entry(stemmer.stem(&w).into_owned())
                    .or_default() += 1;
                *lexicon.words.entry(w).or_default() += 1;
            }
        }
        for w in lexicon.words.keys() {
            let chars: Vec<char> = w.chars().collect();
            if lexicon.by_len.len() <= chars.len() {
                lexicon.by_len.resize(chars.len() + 1, Vec::new());
            }
            lexicon.by_len[chars.len()].push((letter_set(&chars), chars));
        }
        for bucket in &mut lexicon.by_len {
            bucket.sort();
        }
        Analyzer { stemmer, lexicon }
    }

    /// Number of distinct words in the lexicon.
    pub fn lexicon_size(&self) -> usize {
        self.lexicon.words.len()
    }

    pub fn stem(&self, word: &str) -> String {
        self.stemmer.stem(word).into_owned()
    }

    fn is_known(&self, word: &str) -> bool {
        self.lexicon.words.contains_key(word) || self.lexicon.stems.contains_key(&self.stem(word))
    }

    /// Tokens for the index: every content word's stem, plus the stems of
    /// its compound parts.
    pub fn analyze_document(&self, text: &str) -> Vec<Term> {
        let mut out = Vec::new();
        for w in words(text) {
            if is_stopword(&w) {
                continue;
            }
            self.push_word(&w, 1.0, &mut out);
        }
        out
    }

    /// Terms for a query, with the repairs described in the module notes.
    pub fn analyze_query(&self, text: &str) -> Vec<Term> {
        let ws = words(text);
        let mut out = Vec::new();
        for (i, w) in ws.iter().enumerate() {
            // Words the recogniser split: join with the next word.
            if let Some(next) = ws.get(i + 1) {
                if !is_stopword(next) && w.chars().count() >= 2 {
                    let joined = format!("{w}{next}");
                    if self.is_known(&joined) {
                        self.push_word(&joined, JOIN_WEIGHT, &mut out);
                    } else if joined.chars().count() >= 6 && !is_stopword(w) {
                        if let Some((fixed, _)) = self.nearest(&joined, 1) {
                            self.push_word(&fixed, FUZZY1_WEIGHT, &mut out);
                        }
                    }
                }
            }
            if is_stopword(w) {
                continue;
            }
            if self.is_known(w) || w.chars().any(|c| c.is_ascii_digit()) {
                self.push_word(w, 1.0, &mut out);
                continue;
            }
            if let Some(restored) = self.restore_danish_letters(w) {
                self.push_word(&restored, RESTORE_WEIGHT, &mut out);
                continue;
            }
            if let Some(parts) = self.split_compound(w) {
                self.push_with_parts(w, 1.0, Some(parts), &mut out);
                continue;
            }
            let len = w.chars().count();
            let max = if len >= 8 {
                2
            } else if len >= 5 {
                1
            } else {
                0
            };
            match self.nearest(w, max) {
                Some((fixed, d)) => {
                    let weight = if d <= 1 { FUZZY1_WEIGHT } else { FUZZY2_WEIGHT };
                    self.push_word(&fixed, weight, &mut out);
                }
                None => out.push(Term {
                    stem: self.stem(w),
                    weight: 1.0,
                }),
            }
        }
        out
    }

    fn push_word(&self, w: &str, weight: f32, out: &mut Vec<Term>) {
        self.push_with_parts(w, weight, self.split_compound(w), out);
    }

    /// The word's stem, and its compound parts' stems at a lower weight.
    fn push_with_parts(
        &self,
        w: &str,
        weight: f32,
        parts: Option<Vec<String>>,
        out: &mut Vec<Term>,
    ) {
        out.push(Term {
            stem: self.stem(w),
            weight,
        });
        if let Some(parts) = parts {
            for p in parts {
                out.push(Term {
                    stem: self.stem(&p),
                    weight: weight * PART_WEIGHT,
                });
            }
        }
    }

    /// "boernepas" → "børnepas", "faa" → "få", when the result is a known word.
    fn restore_danish_letters(&self, w: &str) -> Option<String> {
        if !(w.contains("ae") || w.contains("oe") || w.contains("aa")) {
            return None;
        }
        let candidates = [
            w.replace("aa", "å").replace("oe", "ø").replace("ae", "æ"),
            w.replace("oe", "ø"),
            w.replace("aa", "å"),
            w.replace("ae", "æ"),
        ];
        candidates.into_iter().find(|c| c != w && self.is_known(c))
    }

    /// Splits a compound into known parts, longest head first; `None` when
    /// the word is short or no split into known words exists.
    pub fn split_compound(&self, w: &str) -> Option<Vec<String>> {
        let chars: Vec<char> = w.chars().collect();
        if chars.len() < MIN_COMPOUND {
            return None;
        }
        self.split_chars(&chars, 0)
    }

    fn split_chars(&self, chars: &[char], depth: usize) -> Option<Vec<String>> {
        if depth > 3 {
            return None;
        }
        for head_len in (MIN_PART..=chars.len() - MIN_PART).rev() {
            let head: String = chars[..head_len].iter().collect();
            if !self.lexicon.words.contains_key(&head) {
                continue;
            }
            // A linking -s- or -e- may sit between the parts.
            for link in [0usize, 1] {
                let start = head_len + link;
                if chars.len() < start + MIN_PART {
                    continue;
                }
                if link == 1 && !matches!(chars[head_len], 's' | 'e') {
                    continue;
                }
                let tail = &chars[start..];
                let tail_word: String = tail.iter().collect();
                if self.is_known(&tail_word) {
                    return Some(vec![head, tail_word]);
                }
                if let Some(mut rest) = self.split_chars(tail, depth + 1) {
                    rest.insert(0, head);
                    return Some(rest);
                }
            }
        }
        None
    }

    /// The most frequent lexicon word within `max` edits of `w`, with its
    /// distance.
    fn nearest(&self, w: &str, max: usize) -> Option<(String, usize)> {
        if max == 0 {
            return None;
        }
        let q: Vec<char> = w.chars().collect();
        let q_set = letter_set(&q);
        let mut best: Option<(usize, u32, &Vec<char>)> = None;
        let lo = q.len().saturating_sub(max);
        let hi = (q.len() + max).min(self.lexicon.by_len.len().saturating_sub(1));
        for len in lo..=hi {
            let Some(bucket) = self.lexicon.by_len.get(len) else {
                continue;
            };
            for (set, cand) in bucket {
                // Each edit adds or removes at most two letters of the
                // word's letter set: more differing letters than twice the
                // edits allowed rule the word out without the full distance.
                if (set ^ q_set).count_ones() as usize > 2 * max {
                    continue;
                }
                let d = edit_distance(&q, cand, max);
                if d > max {
                    continue;
                }
                let word: String = cand.iter().collect();
                let freq = self.lexicon.words.get(&word).copied().unwrap_or(0);
                let better = match best {
                    None => true,
                    Some((bd, bf, _)) => d < bd || (d == bd && freq > bf),
                };
                if better {
                    best = Some((d, freq, cand));
                }
            }
        }
        best.map(|(d, _, c)| (c.iter().collect(), d))
    }
}

/// The letters of a word as a set of 64 bits (letters beyond 64 share
/// bits, which only makes the set coarser): two words `k` edits apart
/// differ in at most `2k` of these bits.
fn letter_set(chars: &[char]) -> u64 {
    chars
        .iter()
        .fold(0u64, |set, &c| set | 1u64 << (u32::from(c) % 64))
}

/// Damerau–Levenshtein (optimal string alignment) distance, giving up with
/// `max + 1` as soon as it must exceed `max`.
pub(crate) fn edit_distance(a: &[char], b: &[char], max: usize) -> usize {
    if a.len().abs_diff(b.len()) > max {
        return max + 1;
    }
    let n = b.len();
    let mut prev2 = vec![0usize; n + 1];
    let mut prev: Vec<usize> = (0..=n).collect();
    let mut cur = vec![0usize; n + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=n {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return max + 1;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[n]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyzer() -> Analyzer {
        Analyzer::new([
            "kørekort fornyelse affald sortering sundhedskort nødpas pas børnepas få tid",
            "det gule sundhedskort og kørekort",
        ])
    }

    fn stems(terms: &[Term]) -> Vec<&str> {
        terms.iter().map(|t| t.stem.as_str()).collect()
    }

    #[test]
    fn keeps_danish_letters() {
        assert_eq!(words("Får ØL på Året"), vec!["får", "øl", "på", "året"]);
    }

    #[test]
    fn splits_compounds_with_linking_s() {
        let a = analyzer();
        assert_eq!(
            a.split_compound("kørekortfornyelse"),
            Some(vec!["kørekort".to_string(), "fornyelse".to_string()])
        );
        assert_eq!(
            a.split_compound("affaldssortering"),
            Some(vec!["affald".to_string(), "sortering".to_string()])
        );
        assert_eq!(a.split_compound("pas"), None);
    }

    #[test]
    fn joins_words_split_by_speech_recognition() {
        let a = analyzer();
        let q = a.analyze_query("mit sundheds kort er væk");
        assert!(
            stems(&q).contains(&a.stem("sundhedskort").as_str()),
            "{q:?}"
        );
    }

    #[test]
    fn repairs_typos_and_missing_danish_letters() {
        let a = analyzer();
        assert!(stems(&a.analyze_query("korekort")).contains(&a.stem("kørekort").as_str()));
        assert!(stems(&a.analyze_query("boernepas")).contains(&a.stem("børnepas").as_str()));
        assert!(stems(&a.analyze_query("død pas")).contains(&a.stem("nødpas").as_str()));
    }

    #[test]
    fn drops_fillers() {
        let a = analyzer();
        assert!(a.analyze_query("øh ja hej altså").is_empty());
    }

    #[test]
    fn letter_sets_never_rule_out_a_word_within_reach() {
        let c = |s: &str| s.chars().collect::<Vec<_>>();
        let words = [
            "kørekort",
            "korekort",
            "kørekrot",
            "kørkort",
            "kørekorts",
            "sundhedskort",
            "sundheds",
            "nødpas",
            "dødpas",
            "pas",
            "spa",
            "affald",
            "afald",
            "æøå",
            "aoa",
        ];
        for a in words {
            for b in words {
                for max in 1..=2 {
                    if edit_distance(&c(a), &c(b), max) <= max {
                        let differing = (letter_set(&c(a)) ^ letter_set(&c(b))).count_ones();
                        assert!(differing as usize <= 2 * max, "{a} {b} {max}");
                    }
                }
            }
        }
    }

    #[test]
    fn edit_distance_is_bounded() {
        let c = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(edit_distance(&c("korekort"), &c("kørekort"), 2), 1);
        assert_eq!(edit_distance(&c("ab"), &c("ba"), 2), 1);
        assert_eq!(edit_distance(&c("abcdef"), &c("uvwxyz"), 2), 3);
    }
}
