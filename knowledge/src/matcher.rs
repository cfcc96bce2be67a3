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
//! them ranks first, the utterance is out of scope. With the semantic
//! channel, a topic classifier trained on the knowledge base's own texts
//! (`classifier.rs`) adds its probability of each topic to the ranking.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{collector::TopDocs, Term};

use crate::analysis::{is_filler, Analyzer};
use crate::calibration::{Calibration, ConfidenceModel, N_FEATURES};
use crate::classifier::TopicClassifier;
use crate::error::KnowledgeError;
use crate::index::{self, BuiltIndex, Entry, FIELD_BOOSTS};
use crate::model::{Answer, TOPIC_EMERGENCY, TOPIC_HUMAN, TOPIC_NONE};
use crate::semantic::index::SemanticIndex;
use crate::semantic::Embedder;
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

/// The features the confidence is computed from; the same names weigh
/// them in `knowledge/calibration.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// Cosine of the query with the best topic's closest text, times 10
    /// (0 without the semantic channel).
    pub semantic: f32,
    /// That cosine minus the best cosine of any other in-scope topic, on
    /// the query's scale (the closest topic's cosine minus the median
    /// topic's).
    pub semantic_margin: f32,
    /// Best cosine of an out-of-scope example minus the best topic's, on
    /// the same scale.
    pub out_of_scope_gap: f32,
    /// Best cosine of an out-of-scope example, times 10.
    pub out_of_scope_similarity: f32,
    /// Share of the query's term weight that no entry holds: a question
    /// whose words the knowledge base never uses is likely out of scope.
    pub unknown_words: f32,
    /// ln(1 + lexical score of the out-of-scope examples).
    pub out_of_scope_lexical: f32,
    /// The query's semantic scale (closest topic's vote minus the median
    /// topic's), times 10.
    pub semantic_spread: f32,
    /// ln of the topic classifier's probability of the best topic (at
    /// least ln 1e-4; 0 without the semantic channel): on a log scale a
    /// vague question, whose probability is spread over many topics, lies
    /// far from a clear one with a close sibling.
    pub classifier: f32,
    /// ln of its probability of `none`, likewise.
    pub classifier_none: f32,
}

impl Features {
    pub fn as_array(&self) -> [f32; N_FEATURES] {
        [
            self.log_score,
            self.margin,
            self.coverage,
            self.log_terms,
            self.voice,
            self.semantic,
            self.semantic_margin,
            self.out_of_scope_gap,
            self.out_of_scope_similarity,
            self.unknown_words,
            self.out_of_scope_lexical,
            self.semantic_spread,
            self.classifier,
            self.classifier_none,
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
    /// Calibrated probability that the utterance is out of scope.
    pub out_of_scope: f32,
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

/// A query's embedding (see [`Matcher::embed`]).
#[derive(Clone)]
pub struct QueryEmbedding(Vec<f32>);

impl std::fmt::Debug for QueryEmbedding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QueryEmbedding({})", self.0.len())
    }
}

/// How to build a [`Matcher`].
#[derive(Debug, Default, Clone)]
pub struct BuildOptions<'a> {
    /// Write the lexical index here instead of memory (for size figures).
    pub dir: Option<&'a Path>,
    /// The semantic channel's model; without it the matcher is lexical only.
    pub embedder: Option<Arc<Embedder>>,
    /// The embedding cache file (see `semantic::index`).
    pub cache: Option<&'a Path>,
}

struct Semantic {
    embedder: Arc<Embedder>,
    index: SemanticIndex,
    /// Topic probabilities from the query embedding (see `classifier`).
    classifier: Option<TopicClassifier>,
    /// Whether this build trained the classifier (else it came from the
    /// cache).
    trained: bool,
}

/// The matcher over one knowledge base.
pub struct Matcher {
    analyzer: Analyzer,
    built: BuiltIndex,
    entries: Vec<EntryKind>,
    /// Topic number of each entry, into `topics`.
    entry_topic: Vec<usize>,
    topics: Vec<String>,
    answers: Vec<Answer>,
    calibration: Calibration,
    semantic: Option<Semantic>,
    /// Every stem some entry holds.
    known_stems: HashSet<String>,
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("answers", &self.answers.len())
            .field("entries", &self.entries.len())
            .field("semantic", &self.semantic.is_some())
            .finish()
    }
}

const TOP_DOCS: usize = 30;
/// A topic's score is its best answer's score plus this share of the
/// scores of its further answers among the hits: several answers of one
/// topic matching is evidence for the topic.
const FURTHER_ANSWER_WEIGHT: f32 = 0.15;
const MAX_CANDIDATES: usize = 5;
/// How much of its relative semantic similarity the `none` topic is
/// credited as lexical score (see `find_tuned`).
const NONE_LEXICAL_STANDIN: f32 = 1.0;
/// The similarity feature in tenths of a cosine: cosines of e5 crowd
/// between 0.7 and 0.95, and the logistic fit converges when features
/// vary by about one.
const SEMANTIC_SCALE: f32 = 10.0;
/// A topic's semantic vote counts its closest entries this many deep...
const VOTE_DEPTH: usize = 5;
/// ...each weighted by exp(cosine / VOTE_TEMPERATURE) against the closest:
/// an entry 0.02 below the closest adds e⁻¹ of it. Several close entries
/// of a topic are more evidence than one (a soft k-nearest-neighbour
/// vote), while one far better entry still dominates.
const VOTE_TEMPERATURE: f32 = 0.02;
/// The least topic classifier probability the features take the log of.
const CLASSIFIER_FLOOR: f32 = 1e-4;

impl Matcher {
    /// Builds the lexical index for `kb` in memory.
    pub fn build(kb: &KnowledgeBase) -> Result<Matcher, KnowledgeError> {
        Self::build_with(kb, &BuildOptions::default())
    }

    /// Builds the lexical index in `dir` (used by the benchmark for index size).
    pub fn build_in(kb: &KnowledgeBase, dir: Option<&Path>) -> Result<Matcher, KnowledgeError> {
        Self::build_with(
            kb,
            &BuildOptions {
                dir,
                ..BuildOptions::default()
            },
        )
    }

    /// Builds the matcher with the channels `options` asks for.
    pub fn build_with(
        kb: &KnowledgeBase,
        options: &BuildOptions<'_>,
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

        let mut topics: Vec<String> = vec![TOPIC_NONE.to_string()];
        let mut topic_number = |id: &str| match topics.iter().position(|t| t == id) {
            Some(n) => n,
            None => {
                topics.push(id.to_string());
                topics.len() - 1
            }
        };
        let mut entries = Vec::new();
        let mut entry_topic = Vec::new();
        let mut indexed = Vec::new();
        let mut semantic_texts: Vec<(usize, &str)> = Vec::new();
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
            semantic_texts.push((entries.len(), a.title.as_str()));
            semantic_texts.extend(a.questions.iter().map(|q| (entries.len(), q.as_str())));
            entries.push(EntryKind::Answer(i));
            entry_topic.push(topic_number(&a.topic));
        }
        for example in &kb.loaded.out_of_scope {
            indexed.push(Entry {
                texts: [vec![example.as_str()], vec![], vec![], vec![]],
            });
            semantic_texts.push((entries.len(), example.as_str()));
            entries.push(EntryKind::OutOfScope);
            entry_topic.push(0);
        }
        let built = index::build(&analyzer, &indexed, options.dir)?;
        let semantic = options.embedder.as_ref().map(|embedder| {
            let index =
                SemanticIndex::build(embedder, &semantic_texts, entries.len(), options.cache);
            // The classifier learns the topics from the same texts: every
            // title and example question under its answer's topic, every
            // out-of-scope example under `none`.
            let samples: Vec<(usize, Vec<f32>)> = index
                .embeddings()
                .map(|(entry, v)| (entry_topic[entry], v))
                .collect();
            let cache = options
                .cache
                .map(|p| p.with_file_name("topic-classifier.bin"));
            let built = TopicClassifier::build(&samples, topics.len(), cache.as_deref());
            Semantic {
                index,
                embedder: Arc::clone(embedder),
                trained: built.as_ref().is_some_and(|b| b.1),
                classifier: built.map(|b| b.0),
            }
        });
        let known_stems = built.entry_stems.iter().flatten().cloned().collect();
        Ok(Matcher {
            analyzer,
            known_stems,
            built,
            entries,
            entry_topic,
            topics,
            answers,
            calibration: kb.calibration.clone(),
            semantic,
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

    /// Whether the semantic channel is on.
    pub fn has_semantic(&self) -> bool {
        self.semantic.is_some()
    }

    /// Texts in the semantic index, and how many of them this build
    /// embedded (the rest came from the cache); zeros without the channel.
    pub fn semantic_texts(&self) -> (usize, usize) {
        self.semantic
            .as_ref()
            .map_or((0, 0), |s| (s.index.len(), s.index.embedded))
    }

    /// Bytes the semantic index holds in memory (0 without the channel).
    pub fn semantic_bytes(&self) -> usize {
        self.semantic.as_ref().map_or(0, |s| s.index.memory_bytes())
    }

    /// Whether this build trained the topic classifier (false when it
    /// came from the cache, or without the semantic channel).
    pub fn classifier_trained(&self) -> bool {
        self.semantic.as_ref().is_some_and(|s| s.trained)
    }

    /// Number of words the analyser knows.
    pub fn lexicon_size(&self) -> usize {
        self.analyzer.lexicon_size()
    }

    /// Matches `text` with the thresholds of the calibration file.
    pub fn find(&self, text: &str, channel: Channel) -> Result<Match, KnowledgeError> {
        let thresholds = self.calibration.model(self.has_semantic()).thresholds;
        self.find_with(text, channel, thresholds)
    }

    /// Matches `text` and decides with `thresholds`.
    pub fn find_with(
        &self,
        text: &str,
        channel: Channel,
        thresholds: Thresholds,
    ) -> Result<Match, KnowledgeError> {
        let embedding = self.embed(text);
        let model = self.calibration.model(self.has_semantic());
        self.find_tuned(text, channel, model, thresholds, embedding.as_ref())
    }

    /// Replaces the calibration (after fitting a new one).
    pub fn set_calibration(&mut self, calibration: Calibration) {
        self.calibration = calibration;
    }

    /// The answer id of index entry `ord` (`None` for an out-of-scope
    /// example).
    fn answer_id(&self, ord: usize) -> Option<String> {
        match self.entries[ord] {
            EntryKind::Answer(i) => Some(self.answers[i].id.clone()),
            EntryKind::OutOfScope => None,
        }
    }

    /// The query's embedding, when the semantic channel is on. Spoken
    /// fillers are left out first: they carry no meaning, and the answers'
    /// questions it is compared with have none.
    pub fn embed(&self, text: &str) -> Option<QueryEmbedding> {
        self.semantic
            .as_ref()
            .map(|s| QueryEmbedding(s.embedder.embed(&without_fillers(text))))
    }

    /// How many tokens the encoder runs on for `text` (its time grows with
    /// them), when the semantic channel is on.
    pub fn query_tokens(&self, text: &str) -> Option<usize> {
        self.semantic
            .as_ref()
            .map(|s| s.embedder.token_ids(&without_fillers(text)).len())
    }

    /// Matches with an explicit confidence model (its fusion weight
    /// included) and a query embedding made by [`Matcher::embed`]: lets
    /// `vejviser knowledge calibrate` try models without embedding again.
    pub fn find_tuned(
        &self,
        text: &str,
        channel: Channel,
        model: &ConfidenceModel,
        thresholds: Thresholds,
        embedding: Option<&QueryEmbedding>,
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
        let lexical = self.lexical_hits(&terms)?;
        let n_topics = self.topics.len();

        // Lexical topic scores: best entry plus a share of further ones.
        let mut lex_entry = vec![0.0f32; self.entries.len()];
        let mut lex_topic = vec![0.0f32; n_topics];
        for &(score, ord) in &lexical {
            lex_entry[ord] = score;
            let t = self.entry_topic[ord];
            if lex_topic[t] > 0.0 {
                lex_topic[t] += FURTHER_ANSWER_WEIGHT * score;
            } else {
                lex_topic[t] = score;
            }
        }
        let lex_best = lex_topic.iter().copied().fold(0.0f32, f32::max);

        // Semantic: each entry's closest text; each topic's closest entries,
        // the closest for the features and a soft vote for the ranking.
        let sem_entry = match (&self.semantic, embedding) {
            (Some(s), Some(q)) => Some(s.index.entry_scores(&q.0)),
            _ => None,
        };
        let mut sem_topic = vec![0.0f32; n_topics];
        let mut sem_vote = vec![0.0f32; n_topics];
        if let Some(sem) = &sem_entry {
            let mut closest = vec![[-1.0f32; VOTE_DEPTH]; n_topics];
            for (ord, &c) in sem.iter().enumerate() {
                insert_sorted(&mut closest[self.entry_topic[ord]], c);
            }
            for (t, top) in closest.iter().enumerate() {
                sem_topic[t] = top[0];
                sem_vote[t] = soft_vote(top);
            }
        }

        // Semantic evidence on the query's own scale: 1 for the best
        // topic's vote, 0 for the median topic's. How far apart cosines lie
        // varies from one query to the next (long spoken ones crowd
        // together), so raw cosines would weigh differently against the
        // lexical score.
        let (sem_floor, sem_span) = {
            let mut sorted: Vec<f32> = sem_vote[1..].to_vec();
            sorted.sort_by(f32::total_cmp);
            let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
            let top = sem_vote.iter().copied().fold(f32::MIN, f32::max);
            (median, (top - median).max(1e-3))
        };
        let sem_rel = |c: f32| (c - sem_floor) / sem_span;
        let probs = self
            .semantic
            .as_ref()
            .and_then(|s| s.classifier.as_ref())
            .zip(embedding)
            .map_or_else(|| vec![0.0; n_topics], |(c, q)| c.probabilities(&q.0));
        // Fused scores: lexical relative to the best topic, plus the
        // relative semantic evidence times the fitted fusion weight.
        let fusion = if sem_entry.is_some() {
            match channel {
                Channel::Voice => model.fusion_voice,
                Channel::Chat => model.fusion,
            }
        } else {
            0.0
        };
        let rel = |score: f32| {
            if lex_best > 0.0 {
                score / lex_best
            } else {
                0.0
            }
        };
        let mut best_entry: Vec<Option<(f32, usize)>> = vec![None; n_topics];
        for ord in 0..self.entries.len() {
            let sem = sem_entry.as_ref().map_or(0.0, |s| sem_rel(s[ord]));
            if lex_entry[ord] <= 0.0 && sem_entry.is_none() {
                continue;
            }
            let f = rel(lex_entry[ord]) + fusion * sem;
            let t = self.entry_topic[ord];
            if best_entry[t].is_none_or(|(b, _)| f > b) {
                best_entry[t] = Some((f, ord));
            }
        }
        let mut ranked: Vec<(usize, f32, usize)> = Vec::new();
        for (t, best) in best_entry.iter().enumerate() {
            if let Some((_, ord)) = best {
                let lex = if t == 0 && sem_entry.is_some() {
                    // The out-of-scope examples cannot share words with
                    // everything a municipality does not do, so `none`
                    // rarely gets lexical evidence; it is credited with
                    // its semantic closeness instead.
                    rel(lex_topic[t]).max(NONE_LEXICAL_STANDIN * sem_rel(sem_vote[t]).max(0.0))
                } else {
                    rel(lex_topic[t])
                };
                // The classifier's probability is added for the in-scope
                // topics only: whether the line is out of scope is left to
                // the out-of-scope examples and model (`classifier_none`
                // is one of its features).
                let clf = if t == 0 {
                    0.0
                } else {
                    model.classifier * probs[t]
                };
                let f = lex + fusion * sem_rel(sem_vote[t]) + clf;
                ranked.push((t, f, *ord));
            }
        }
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let candidates: Vec<Candidate> = ranked
            .iter()
            .take(MAX_CANDIDATES)
            .map(|&(t, score, ord)| Candidate {
                answer_id: self.answer_id(ord),
                topic: self.topics[t].clone(),
                score,
            })
            .collect();
        // The features describe the best in-scope topic; whether the
        // utterance is out of scope after all is the out-of-scope model's
        // call, which weighs the out-of-scope examples' evidence with the
        // rest.
        let Some(&(winner, _, best_ord)) = ranked.iter().find(|(t, _, _)| *t != 0) else {
            return Ok(none_match(features, candidates));
        };
        let other_lex = (0..n_topics)
            .filter(|&t| t != winner)
            .map(|t| lex_topic[t])
            .fold(0.0f32, f32::max);
        let total: f32 = terms.iter().map(|(_, w)| w).sum();
        let weight_of = |known: &dyn Fn(&str) -> bool| -> f32 {
            terms.iter().filter(|(s, _)| known(s)).map(|(_, w)| w).sum()
        };
        let found = weight_of(&|s| self.built.entry_stems[best_ord].contains(s));
        let unknown = weight_of(&|s| !self.known_stems.contains(s));
        features.log_score = (1.0 + lex_topic[winner]).ln();
        features.margin = (lex_topic[winner] - other_lex) / lex_best.max(1e-6);
        features.coverage = found / total.max(1e-6);
        features.unknown_words = unknown / total.max(1e-6);
        features.out_of_scope_lexical = (1.0 + lex_topic[0]).ln();
        if sem_entry.is_some() {
            let other_sem = (1..n_topics)
                .filter(|&t| t != winner)
                .map(|t| sem_topic[t])
                .fold(-1.0f32, f32::max);
            features.semantic = SEMANTIC_SCALE * sem_topic[winner];
            features.semantic_margin = (sem_topic[winner] - other_sem) / sem_span;
            features.out_of_scope_gap = (sem_topic[0] - sem_topic[winner]) / sem_span;
            features.out_of_scope_similarity = SEMANTIC_SCALE * sem_topic[0];
            features.semantic_spread = SEMANTIC_SCALE * sem_span;
            features.classifier = probs[winner].max(CLASSIFIER_FLOOR).ln();
            features.classifier_none = probs[0].max(CLASSIFIER_FLOOR).ln();
        }
        let confidence = model.confidence(&features);
        let out_of_scope = model.out_of_scope.probability(&features);
        let topic = self.topics[winner].clone();
        // Out of scope when an out-of-scope example ranks first, or when
        // the model says so, except for an emergency (missing one costs
        // far more than asking about one too many) and a request for a
        // person (short, and handed over either way, to the one asked for).
        let none_first = ranked.first().is_some_and(|r| r.0 == 0);
        let exempt = topic == TOPIC_EMERGENCY || topic == TOPIC_HUMAN;
        if none_first || (out_of_scope >= model.out_of_scope.threshold && !exempt) {
            return Ok(Match {
                confidence: out_of_scope,
                out_of_scope,
                ..none_match(features, candidates)
            });
        }
        let decision = if confidence >= thresholds.answer {
            Decision::Answer
        } else if confidence >= thresholds.confirm || topic == TOPIC_EMERGENCY {
            Decision::Confirm
        } else {
            return Ok(Match {
                confidence,
                out_of_scope,
                ..none_match(features, candidates)
            });
        };
        let decision = if topic == TOPIC_HUMAN {
            Decision::Handover
        } else {
            decision
        };
        let answer_id = self.answer_id(best_ord);
        Ok(Match {
            topic,
            answer_id,
            confidence,
            out_of_scope,
            decision,
            candidates,
            features,
        })
    }

    /// BM25 hits (score, entry number) for the analysed terms, best first.
    fn lexical_hits(&self, terms: &[(String, f32)]) -> Result<Vec<(f32, usize)>, KnowledgeError> {
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (stem, weight) in terms {
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
        let mut out = Vec::with_capacity(hits.len());
        for (score, address) in hits {
            let column = searcher
                .segment_reader(address.segment_ord)
                .fast_fields()
                .u64("ord")?;
            if let Some(ord) = column.first(address.doc_id) {
                let ord = ord as usize;
                if ord < self.entries.len() {
                    out.push((score, ord));
                }
            }
        }
        Ok(out)
    }
}

fn none_match(features: Features, candidates: Vec<Candidate>) -> Match {
    Match {
        topic: TOPIC_NONE.to_string(),
        answer_id: None,
        confidence: 0.0,
        out_of_scope: 1.0,
        decision: Decision::Handover,
        candidates,
        features,
    }
}

/// Inserts `c` into `top` (sorted best first), dropping the last.
fn insert_sorted(top: &mut [f32; VOTE_DEPTH], c: f32) {
    if c <= top[VOTE_DEPTH - 1] {
        return;
    }
    let mut i = VOTE_DEPTH - 1;
    while i > 0 && top[i - 1] < c {
        top[i] = top[i - 1];
        i -= 1;
    }
    top[i] = c;
}

/// A topic's soft vote from its closest cosines (best first): a
/// log-sum-exp at [`VOTE_TEMPERATURE`], on the scale of a cosine.
fn soft_vote(top: &[f32; VOTE_DEPTH]) -> f32 {
    let best = top[0];
    let sum: f32 = top
        .iter()
        .map(|&c| ((c - best) / VOTE_TEMPERATURE).exp())
        .sum();
    best + VOTE_TEMPERATURE * sum.ln()
}

/// `text` without spoken fillers, as the query is embedded; the text as it
/// is when it is nothing but fillers.
fn without_fillers(text: &str) -> String {
    let kept: Vec<&str> = text
        .split_whitespace()
        .filter(|w| {
            let bare = w
                .trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase();
            !is_filler(&bare)
        })
        .collect();
    if kept.is_empty() {
        text.to_string()
    } else {
        kept.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_cosines_are_kept_best_first() {
        let mut top = [-1.0f32; VOTE_DEPTH];
        for c in [0.5, 0.9, 0.7, 0.8, 0.6, 0.95, 0.1] {
            insert_sorted(&mut top, c);
        }
        assert_eq!(top, [0.95, 0.9, 0.8, 0.7, 0.6]);
    }

    #[test]
    fn several_close_entries_outvote_one_slightly_closer() {
        let one = [0.90, -1.0, -1.0, -1.0, -1.0];
        let several = [0.89, 0.885, 0.88, 0.87, -1.0];
        assert!(soft_vote(&several) > soft_vote(&one));
        // A lone entry's vote is its cosine; one far closer entry wins.
        assert!((soft_vote(&one) - 0.90).abs() < 1e-4);
        assert!(soft_vote(&[0.97, -1.0, -1.0, -1.0, -1.0]) > soft_vote(&several));
    }
}
