//! Quality checks of a loaded knowledge base, beyond what the loader
//! rejects: answers that say the same thing twice, example questions
//! that retrieve another answer, and topics with too few answers.
//!
//! The loader's checks are about one answer at a time (a missing spoken
//! text, a broken link, a spoken text too long for the phone); these look
//! across answers, and the self-retrieval check needs the built index.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::analysis::words;
use crate::error::Location;
use crate::matcher::{Channel, Matcher};
use crate::model::TOPIC_NONE;
use crate::{KnowledgeBase, KnowledgeError};

/// Shared word 3-grams above which two chat texts are the same reply.
pub const NEAR_DUPLICATE_TEXT: f32 = 0.8;
/// Shared question words above which two answers are asked the same way.
pub const NEAR_DUPLICATE_QUESTIONS: f32 = 0.85;
/// Share of answers whose own example questions must retrieve them first
/// (most of the questions, at answer level).
pub const MIN_SELF_RETRIEVAL: f32 = 0.75;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth a look; does not fail the check.
    Warning,
    /// Fails `vejviser knowledge check`.
    Error,
}

/// One thing the review found.
#[derive(Debug, Clone)]
pub struct Finding {
    pub severity: Severity,
    /// Where the answer concerned is written, when known.
    pub location: Option<Location>,
    /// A stable code for tools and tests.
    pub code: &'static str,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        match &self.location {
            Some(l) => write!(f, "{l}: {level} [{}]: {}", self.code, self.message),
            None => write!(f, "{level} [{}]: {}", self.code, self.message),
        }
    }
}

/// The review of a knowledge base.
#[derive(Debug, Clone)]
pub struct Review {
    pub findings: Vec<Finding>,
    /// Share of answers whose example questions mostly retrieve them first.
    pub self_retrieval: f32,
    /// Share of example questions whose best topic is their answer's topic.
    pub topic_self_retrieval: f32,
}

impl Review {
    pub fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
    }
}

/// Reviews `kb` with `matcher` built from it; `min_per_topic` is the fewest
/// answers a topic may have.
pub fn review(
    kb: &KnowledgeBase,
    matcher: &Matcher,
    min_per_topic: usize,
) -> Result<Review, KnowledgeError> {
    let mut findings = Vec::new();
    duplicate_questions(kb, &mut findings);
    near_duplicates(kb, &mut findings);
    thin_topics(kb, min_per_topic, &mut findings);
    let (self_retrieval, topic_self_retrieval) = self_retrieval(kb, matcher, &mut findings)?;
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    Ok(Review {
        findings,
        self_retrieval,
        topic_self_retrieval,
    })
}

fn at(kb: &KnowledgeBase, id: &str) -> Option<Location> {
    kb.location(id).cloned()
}

/// The same example question written under two answers: one of them can
/// never be reached by it.
fn duplicate_questions(kb: &KnowledgeBase, findings: &mut Vec<Finding>) {
    let mut first: HashMap<String, &str> = HashMap::new();
    for answer in kb.answers() {
        for question in &answer.questions {
            let key = words(question).join(" ");
            match first.get(&key) {
                Some(&other) if other != answer.id => findings.push(Finding {
                    severity: Severity::Error,
                    location: at(kb, &answer.id),
                    code: "duplicate-question",
                    message: format!(
                        "`{}` has the example question \"{question}\", which `{other}` has too",
                        answer.id
                    ),
                }),
                Some(_) => {}
                None => {
                    first.insert(key, &answer.id);
                }
            }
        }
    }
}

/// Two answers whose chat texts, or whose example questions, are nearly
/// the same: they should be one answer with more example questions.
fn near_duplicates(kb: &KnowledgeBase, findings: &mut Vec<Finding>) {
    let mut vocabulary: HashMap<String, u32> = HashMap::new();
    let mut id_of = |w: String| -> u32 {
        let next = u32::try_from(vocabulary.len()).unwrap_or(u32::MAX);
        *vocabulary.entry(w).or_insert(next)
    };
    let sets: Vec<(Vec<u32>, Vec<u32>)> = kb
        .answers()
        .iter()
        .map(|a| {
            let text = words(&a.chat);
            let mut shingles: Vec<u32> = text.windows(3).map(|w| id_of(w.join(" "))).collect();
            shingles.sort_unstable();
            shingles.dedup();
            let mut asked: Vec<u32> = a
                .questions
                .iter()
                .flat_map(|q| words(q))
                .map(&mut id_of)
                .collect();
            asked.sort_unstable();
            asked.dedup();
            (shingles, asked)
        })
        .collect();
    let answers = kb.answers();
    for i in 0..answers.len() {
        for j in i + 1..answers.len() {
            let text = jaccard(&sets[i].0, &sets[j].0);
            let asked = jaccard(&sets[i].1, &sets[j].1);
            let (code, what, share) = if text >= NEAR_DUPLICATE_TEXT {
                ("near-duplicate-text", "chat text", text)
            } else if asked >= NEAR_DUPLICATE_QUESTIONS {
                ("near-duplicate-questions", "example questions", asked)
            } else {
                continue;
            };
            findings.push(Finding {
                severity: Severity::Error,
                location: at(kb, &answers[j].id),
                code,
                message: format!(
                    "`{}` and `{}` share {:.0}% of their {what}; make them one answer with more example questions, or make each say its own thing",
                    answers[i].id,
                    answers[j].id,
                    share * 100.0
                ),
            });
        }
    }
}

/// Jaccard similarity of two sorted, deduplicated lists.
fn jaccard(a: &[u32], b: &[u32]) -> f32 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut shared) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    shared as f32 / (a.len() + b.len() - shared) as f32
}

fn thin_topics(kb: &KnowledgeBase, min_per_topic: usize, findings: &mut Vec<Finding>) {
    let mut per_topic: BTreeMap<&str, usize> = BTreeMap::new();
    for a in kb.answers() {
        *per_topic.entry(a.topic.as_str()).or_default() += 1;
    }
    for topic in &kb.taxonomy().topics {
        if topic.id == TOPIC_NONE {
            continue;
        }
        let n = per_topic.get(topic.id.as_str()).copied().unwrap_or(0);
        if n < min_per_topic {
            findings.push(Finding {
                severity: Severity::Error,
                location: None,
                code: "thin-topic",
                message: format!(
                    "topic `{}` has {n} answer(s); it needs at least {min_per_topic}",
                    topic.id
                ),
            });
        }
    }
}

/// Runs every example question through the matcher. An answer whose
/// questions mostly retrieve another answer is reported as a warning (its
/// questions or keywords overlap a neighbour's); the check fails when too
/// few answers retrieve themselves.
fn self_retrieval(
    kb: &KnowledgeBase,
    matcher: &Matcher,
    findings: &mut Vec<Finding>,
) -> Result<(f32, f32), KnowledgeError> {
    let (mut answers_ok, mut questions, mut topic_ok) = (0usize, 0usize, 0usize);
    for answer in kb.answers() {
        let mut own = 0;
        let mut others: Vec<String> = Vec::new();
        for question in &answer.questions {
            let found = matcher.find(question, Channel::Chat)?;
            questions += 1;
            if found.topic == answer.topic {
                topic_ok += 1;
            }
            match found.answer_id {
                Some(id) if id == answer.id => own += 1,
                Some(id) => others.push(id),
                None => others.push(TOPIC_NONE.to_string()),
            }
        }
        if own * 2 > answer.questions.len() {
            answers_ok += 1;
        } else {
            let distinct: HashSet<&str> = others.iter().map(String::as_str).collect();
            let mut distinct: Vec<&str> = distinct.into_iter().collect();
            distinct.sort_unstable();
            findings.push(Finding {
                severity: Severity::Warning,
                location: at(kb, &answer.id),
                code: "self-retrieval",
                message: format!(
                    "only {own} of {} example questions of `{}` retrieve it first; the others find {}",
                    answer.questions.len(),
                    answer.id,
                    distinct.join(", ")
                ),
            });
        }
    }
    let share = |n: usize, of: usize| if of == 0 { 1.0 } else { n as f32 / of as f32 };
    let answer_share = share(answers_ok, kb.answers().len());
    if answer_share < MIN_SELF_RETRIEVAL {
        findings.push(Finding {
            severity: Severity::Error,
            location: None,
            code: "self-retrieval",
            message: format!(
                "{:.1}% of answers are retrieved first by most of their own example questions; at least {:.0}% must be",
                answer_share * 100.0,
                MIN_SELF_RETRIEVAL * 100.0
            ),
        });
    }
    Ok((answer_share, share(topic_ok, questions)))
}

#[cfg(test)]
mod tests {
    use super::jaccard;

    #[test]
    fn jaccard_of_sorted_sets() {
        assert_eq!(jaccard(&[1, 2, 3], &[1, 2, 3]), 1.0);
        assert_eq!(jaccard(&[1, 2], &[3, 4]), 0.0);
        assert!((jaccard(&[1, 2, 3], &[2, 3, 4]) - 0.5).abs() < 1e-6);
        assert_eq!(jaccard(&[], &[1]), 0.0);
    }
}
