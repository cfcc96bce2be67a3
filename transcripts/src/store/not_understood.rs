//! "Ikke forstået": citizen utterances that ended in `none`, a handover or a
//! rejected confirmation, grouped by similarity so staff can turn the
//! biggest groups into new answers.
//!
//! Similarity is the Jaccard index of the utterances' word sets after
//! lowercasing, dropping placeholders and common Danish function words, and
//! Snowball stemming. Grouping is greedy: each utterance joins the group
//! whose first member it resembles most, if that resemblance is at least
//! [`THRESHOLD`], else it starts a group. Written here rather than taken
//! from a clustering crate because it is a few lines over sets of stems and
//! the analysts need the groups to be explainable ("shares these words").

use std::collections::{BTreeSet, HashMap};

use rusqlite::params;
use rust_stemmers::{Algorithm, Stemmer};

use super::query::Period;
use super::{stored_text, ConversationId, Store, StoreError};
use crate::RedactedText;

/// Two utterances whose stem sets overlap at least this much are grouped.
const THRESHOLD: f64 = 0.5;
/// The newest utterances considered in one period. Ordered by the
/// conversation's start first, so SQLite walks the `started_at` index
/// backwards and stops at the limit (0.9 s to 0.11 s for a year of 100,000
/// conversations).
const MAX_UTTERANCES: u32 = 20_000;
/// Examples kept per group.
const EXAMPLES: usize = 5;

const STOP_WORDS: &[&str] = &[
    "af", "alle", "at", "bare", "da", "de", "dem", "den", "der", "det", "du", "eller", "en", "er",
    "et", "for", "fra", "godt", "gerne", "ha", "har", "hej", "hvad", "hvis", "hvor", "i", "ikke",
    "ja", "jeg", "jo", "kan", "lige", "man", "med", "men", "mig", "min", "mit", "mine", "nej",
    "nu", "og", "om", "op", "os", "på", "så", "sig", "skal", "som", "til", "ud", "var", "vi",
    "vil", "ville", "øh", "øhm", "hmm", "altså", "tak", "hvordan", "hvornår", "have", "få", "får",
    "gør", "gøre", "noget", "nogen", "lidt", "bliver", "blive",
];

/// A group of similar utterances.
#[derive(Debug, Clone, PartialEq)]
pub struct NotUnderstoodGroup {
    /// How many utterances the group holds.
    pub count: u32,
    /// Up to five of them, the first being the one the group formed around.
    pub examples: Vec<RedactedText>,
    /// The stems every example shares with the first.
    pub shared_words: Vec<String>,
    /// The conversations of the examples.
    pub conversations: Vec<ConversationId>,
}

struct Group {
    key: BTreeSet<String>,
    shared: BTreeSet<String>,
    count: u32,
    examples: Vec<RedactedText>,
    conversations: Vec<ConversationId>,
}

fn words(text: &str, stemmer: &Stemmer) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '[' && c != ']')
        .filter(|w| !w.is_empty() && !w.starts_with('['))
        .map(str::to_lowercase)
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .map(|w| stemmer.stem(&w).into_owned())
        .collect()
}

fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let inter = a.intersection(b).count();
    let union = a.len() + b.len() - inter;
    inter as f64 / union as f64
}

/// Groups `(conversation, text)` pairs; the biggest groups first.
fn group(items: Vec<(ConversationId, RedactedText)>) -> Vec<NotUnderstoodGroup> {
    let stemmer = Stemmer::create(Algorithm::Danish);
    let mut groups: Vec<Group> = Vec::new();
    // Stem -> groups whose key holds it. A Jaccard index of 0.5 needs a
    // shared stem, so only those groups are compared: without this the
    // work grows with utterances × groups.
    let mut postings: HashMap<String, Vec<usize>> = HashMap::new();
    let mut empty_group: Option<usize> = None;
    for (conversation, text) in items {
        let set = words(text.as_str(), &stemmer);
        let mut candidates: Vec<usize> = set
            .iter()
            .filter_map(|w| postings.get(w))
            .flatten()
            .copied()
            .chain(if set.is_empty() { empty_group } else { None })
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let best = candidates
            .into_iter()
            .map(|i| (jaccard(&groups[i].key, &set), i))
            .filter(|(s, _)| *s >= THRESHOLD)
            .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
        match best {
            Some((_, i)) => {
                let g = &mut groups[i];
                g.count += 1;
                g.shared = g.shared.intersection(&set).cloned().collect();
                if g.examples.len() < EXAMPLES {
                    g.examples.push(text);
                    g.conversations.push(conversation);
                }
            }
            None => {
                let i = groups.len();
                for w in &set {
                    postings.entry(w.clone()).or_default().push(i);
                }
                if set.is_empty() {
                    empty_group = Some(i);
                }
                groups.push(Group {
                    shared: set.clone(),
                    key: set,
                    count: 1,
                    examples: vec![text],
                    conversations: vec![conversation],
                });
            }
        }
    }
    let mut out: Vec<NotUnderstoodGroup> = groups
        .into_iter()
        .map(|g| NotUnderstoodGroup {
            count: g.count,
            examples: g.examples,
            shared_words: g.shared.into_iter().collect(),
            conversations: g.conversations,
        })
        .collect();
    // Stable: equal counts keep newest-first order.
    out.sort_by_key(|g| std::cmp::Reverse(g.count));
    out
}

impl Store {
    /// The not-understood citizen utterances of `period`, grouped.
    pub fn not_understood(&self, period: Period) -> Result<Vec<NotUnderstoodGroup>, StoreError> {
        let items = {
            let conn = self.conn();
            let mut stmt = conn.prepare(
                "SELECT t.conversation_id, t.text
                 FROM conversations c CROSS JOIN turns t ON t.conversation_id = c.id
                 WHERE c.started_at >= ?1 AND c.started_at < ?2 AND t.speaker = 'citizen'
                   AND (t.topic = 'none' OR t.decision = 'handover' OR t.confirmation_rejected)
                 ORDER BY c.started_at DESC, t.id DESC LIMIT ?3",
            )?;
            let rows = stmt.query_map(
                params![
                    period.from.unix_timestamp(),
                    period.to.unix_timestamp(),
                    MAX_UTTERANCES
                ],
                |r| Ok((ConversationId(r.get(0)?), stored_text(r.get(1)?))),
            )?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        Ok(group(items))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> RedactedText {
        stored_text(s.to_string())
    }

    #[test]
    fn similar_questions_share_a_group() {
        let groups = group(vec![
            (ConversationId(1), t("hvordan får jeg en hundelicens")),
            (ConversationId(2), t("jeg skal have hundelicens")),
            (ConversationId(3), t("hvor kan jeg tømme min pool")),
            (ConversationId(4), t("hundelicens hvordan")),
        ]);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].count, 3);
        assert!(
            groups[0]
                .shared_words
                .iter()
                .any(|w| w.starts_with("hundelic")),
            "{:?}",
            groups[0].shared_words
        );
        assert_eq!(groups[1].count, 1);
    }

    #[test]
    fn many_utterances_fall_into_their_clusters() {
        let stems = ["hundelicens", "pool", "juletræ", "fyrværkeri"];
        let items: Vec<_> = (0..4000)
            .map(|i| {
                let text = format!("{} {}", stems[i % 4], ["i dag", "nu", "tak"][i % 3]);
                (ConversationId(i as i64), t(&text))
            })
            .chain([
                (ConversationId(9), t("[CPR]")),
                (ConversationId(10), t("øh [TELEFON]")),
            ])
            .collect();
        let groups = group(items);
        let counts: Vec<u32> = groups.iter().map(|g| g.count).collect();
        let keys: Vec<_> = groups
            .iter()
            .map(|g| (g.count, g.examples[0].as_str(), &g.shared_words))
            .collect();
        assert_eq!(counts, [1000, 1000, 1000, 1000, 2], "{keys:?}");
    }

    #[test]
    fn placeholders_do_not_make_utterances_similar() {
        let a = words(
            "mit cpr er [CPR] og jeg vil flytte",
            &Stemmer::create(Algorithm::Danish),
        );
        assert!(!a.iter().any(|w| w.contains("cpr]") || w.starts_with('[')));
        assert!(a.contains("flyt"));
    }
}
