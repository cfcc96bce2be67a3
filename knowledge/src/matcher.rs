//! The intent matcher: ranked answers, a calibrated confidence and a
//! decision (answer, confirm, hand over).
//!
//! The query is built here, term by term, instead of through tantivy's
//! QueryParser: each analysed term becomes a `TermQuery` per field, boosted
//! by the field's weight and by how sure the analyser is of the term (a
//! repaired word counts less than a word as written). Scores are summed by
//! BM25 per answer and the best answer of each topic represents the topic.
//!
//! Confidence is a logistic model over a few features of the ranking (see
//! [`Features`]) whose weights are fitted on labelled utterances by
//! `vejviser knowledge calibrate` and stored in `knowledge/calibration.yaml`.
//! Out-of-scope examples are indexed as entries of topic `none`: when one of
//! them ranks first, the utterance is out of scope.

use std::collections::HashMap;

use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{collector::TopDocs, Term};

use crate::analysis::Analyzer;
use crate::calibration::Calibration;
use crate::error::KnowledgeError;
use crate::index::{self, BuiltIndex, Entry, FIELD_BOOSTS};
use crate::model::{Answer, TOPIC_HUMAN, TOPIC_NONE};
use crate::KnowledgeBase;

/// Where an utterance came from; voice text is noisier than chat text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Voice,
    Chat,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Voice => "voice",
            Channel::Chat => "chat",
        }
    }
}

/// What the dialogue should do with a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Confident: give the answer.
    Answer,
    /// Unsure: ask "Handler det om …?" first.
    Confirm,
    /// Nothing fits, or the citizen asked for a person.
    Handover,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Answer => "answer",
            Decision::Confirm => "confirm",
            Decision::Handover => "handover",
        }
    }
}

/// Thresholds on the calibrated confidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// At or above: answer.
    pub answer: f32,
    /// At or above (and below `answer`): confirm. Below: hand over.
    pub confirm: f32,
}

/// One ranked candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// `None` for an out-of-scope example.
    pub answer_id: Option<String>,
    pub topic: String,
    pub score: f32,
}

/// The features the confidence is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Features {
    /// ln(1 + score of the best topic).
    pub log_score: f32,
    /// (best − second best topic score) / best.
    pub margin: f32,
    /// Share of the query's term weight found in the best answer.
    pub coverage: f32,
    /// ln(1 + number of distinct query terms).
    pub log_terms: f32,
    /// 1 for voice, 0 for chat.
    pub voice: f32,
}

impl Features {
    pub fn as_array(&self) -> [f32; 5] {
        [
            self.log_score,
            self.margin,
            self.coverage,
            self.log_terms,
            self.voice,
        ]
    }
}

/// The result of matching one utterance.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// The topic, or `none` when nothing fits well enough.
    pub topic: String,
    /// The best answer of that topic (absent for `none`).
    pub answer_id: Option<String>,
    /// Calibrated probability that the best candidate's topic is right.
    pub confidence: f32,
    pub decision: Decision,
    /// Best candidate per topic, best first (at most five).
    pub candidates: Vec<Candidate>,
    pub features: Features,
}

#[derive(Debug)]
enum EntryKind {
    Answer(usize),
    OutOfScope,
}

/// The matcher over one knowledge base.
pub struct Matcher {
    analyzer: Analyzer,
    built: BuiltIndex,
    entries: Vec<EntryKind>,
    answers: Vec<Answer>,
    calibration: Calibration,
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("answers", &self.answers.len())
            .field("entries", &self.entries.len())
            .finish()
    }
}

const TOP_DOCS: usize = 30;
/// A topic's score is its best answer's score plus this share of the
/// scores of its further answers among the hits: several answers of one
/// topic matching is evidence for the topic.
const FURTHER_ANSWER_WEIGHT: f32 = 0.15;
const MAX_CANDIDATES: usize = 5;

impl Matcher {
    /// Builds the index for `kb` in memory.
    pub fn build(kb: &KnowledgeBase) -> Result<Matcher, KnowledgeError> {
        Self::build_in(kb, None)
    }

    /// Builds the index in `dir` (used by the benchmark for index size).
    pub fn build_in(
        kb: &KnowledgeBase,
        dir: Option<&std::path::Path>,
    ) -> Result<Matcher, KnowledgeError> {
        let taxonomy = &kb.loaded.taxonomy;
        let answers = kb.loaded.answers.clone();
        let labels: HashMap<&str, &str> = taxonomy
            .topics
            .iter()
            .map(|t| (t.id.as_str(), t.label.as_str()))
            .collect();
        let mut lexicon_texts: Vec<&str> = Vec::new();
        for a in &answers {
            lexicon_texts.push(&a.title);
            lexicon_texts.extend(a.questions.iter().map(String::as_str));
            lexicon_texts.extend(a.keywords.iter().map(String::as_str));
            lexicon_texts.push(&a.chat);
        }
        lexicon_texts.extend(labels.values().copied());
        lexicon_texts.extend(kb.loaded.out_of_scope.iter().map(String::as_str));
        let analyzer = Analyzer::new(lexicon_texts);

        let mut entries = Vec::new();
        let mut indexed = Vec::new();
        for (i, a) in answers.iter().enumerate() {
            let label = labels.get(a.topic.as_str()).copied().unwrap_or("");
            let mut keywords: Vec<&str> = a.keywords.iter().map(String::as_str).collect();
            keywords.push(label);
            indexed.push(Entry {
                texts: [
                    a.questions.iter().map(String::as_str).collect(),
                    keywords,
                    vec![a.title.as_str()],
                    vec![a.chat.as_str()],
                ],
            });
            entries.push(EntryKind::Answer(i));
        }
        for example in &kb.loaded.out_of_scope {
            indexed.push(Entry {
                texts: [vec![example.as_str()], vec![], vec![], vec![]],
            });
            entries.push(EntryKind::OutOfScope);
        }
        let built = index::build(&analyzer, &indexed, dir)?;
        Ok(Matcher {
            analyzer,
            built,
            entries,
            answers,
            calibration: kb.calibration.clone(),
        })
    }

    /// The answers, in load order.
    pub fn answers(&self) -> &[Answer] {
        &self.answers
    }

    pub fn answer(&self, id: &str) -> Option<&Answer> {
        self.answers.iter().find(|a| a.id == id)
    }

    /// The calibration in use.
    pub fn calibration(&self) -> &Calibration {
        &self.calibration
    }

    /// Number of words the analyser knows.
    pub fn lexicon_size(&self) -> usize {
        self.analyzer.lexicon_size()
    }

    /// Matches `text` with the thresholds of the calibration file.
    pub fn find(&self, text: &str, channel: Channel) -> Result<Match, KnowledgeError> {
        self.find_with(text, channel, self.calibration.thresholds)
    }

    /// Matches `text` and decides with `thresholds`.
    pub fn find_with(
        &self,
        text: &str,
        channel: Channel,
        thresholds: Thresholds,
    ) -> Result<Match, KnowledgeError> {
        let mut terms: Vec<(String, f32)> = Vec::new();
        for t in self.analyzer.analyze_query(text) {
            match terms.iter_mut().find(|(s, _)| *s == t.stem) {
                Some((_, w)) => *w = w.max(t.weight),
                None => terms.push((t.stem, t.weight)),
            }
        }
        let mut features = Features {
            voice: f32::from(u8::from(channel == Channel::Voice)),
            log_terms: (1.0 + terms.len() as f32).ln(),
            ..Features::default()
        };
        if terms.is_empty() {
            return Ok(none_match(features, Vec::new()));
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (stem, weight) in &terms {
            for (field, boost) in self.built.fields.text.iter().zip(FIELD_BOOSTS) {
                let q = TermQuery::new(
                    Term::from_field_text(*field, stem),
                    IndexRecordOption::WithFreqs,
                );
                clauses.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(q), boost * weight)),
                ));
            }
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.built.reader.searcher();
        let hits = searcher.search(&query, &TopDocs::with_limit(TOP_DOCS).order_by_score())?;

        // Best entry per topic, then ranked by topic score.
        let mut candidates: Vec<(Candidate, usize)> = Vec::new();
        for (score, address) in hits {
            let column = searcher
                .segment_reader(address.segment_ord)
                .fast_fields()
                .u64("ord")?;
            let Some(ord) = column.first(address.doc_id) else {
                continue;
            };
            let ord = ord as usize;
            let Some(kind) = self.entries.get(ord) else {
                continue;
            };
            let (answer_id, topic) = match kind {
                EntryKind::Answer(i) => (
                    Some(self.answers[*i].id.clone()),
                    self.answers[*i].topic.clone(),
                ),
                EntryKind::OutOfScope => (None, TOPIC_NONE.to_string()),
            };
            if let Some((c, _)) = candidates.iter_mut().find(|(c, _)| c.topic == topic) {
                c.score += FURTHER_ANSWER_WEIGHT * score;
                continue;
            }
            candidates.push((
                Candidate {
                    answer_id,
                    topic,
                    score,
                },
                ord,
            ));
        }
        candidates.sort_by(|a, b| b.0.score.total_cmp(&a.0.score));
        let Some((best, best_ord)) = candidates.first().cloned() else {
            return Ok(none_match(features, Vec::new()));
        };
        let second = candidates.get(1).map_or(0.0, |(c, _)| c.score);
        let total: f32 = terms.iter().map(|(_, w)| w).sum();
        let found: f32 = terms
            .iter()
            .filter(|(s, _)| self.built.entry_stems[best_ord].contains(s))
            .map(|(_, w)| w)
            .sum();
        features.log_score = (1.0 + best.score).ln();
        features.margin = (best.score - second) / best.score.max(1e-6);
        features.coverage = found / total.max(1e-6);
        let confidence = self.calibration.confidence(&features);
        let candidates: Vec<Candidate> = candidates
            .into_iter()
            .take(MAX_CANDIDATES)
            .map(|(c, _)| c)
            .collect();
        if best.topic == TOPIC_NONE {
            return Ok(Match {
                confidence,
                ..none_match(features, candidates)
            });
        }
        let decision = if confidence >= thresholds.answer {
            Decision::Answer
        } else if confidence >= thresholds.confirm {
            Decision::Confirm
        } else {
            return Ok(Match {
                confidence,
                ..none_match(features, candidates)
            });
        };
        let decision = if best.topic == TOPIC_HUMAN {
            Decision::Handover
        } else {
            decision
        };
        Ok(Match {
            topic: best.topic,
            answer_id: best.answer_id,
            confidence,
            decision,
            candidates,
            features,
        })
    }
}

fn none_match(features: Features, candidates: Vec<Candidate>) -> Match {
    Match {
        topic: TOPIC_NONE.to_string(),
        answer_id: None,
        confidence: 0.0,
        decision: Decision::Handover,
        candidates,
        features,
    }
}
