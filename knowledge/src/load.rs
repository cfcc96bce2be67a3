//! Loading the staff-edited files in three steps: parse into raw structs
//! that mirror the files (`deny_unknown_fields`), validate into the typed
//! model of `model.rs`, collecting every problem with its file, line and
//! column, and only then hand the result to the index.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{KnowledgeError, Location, Problem};
use crate::model::{
    Answer, Link, LinkKind, SettingValue, Settings, Taxonomy, Topic, Unit, TOPIC_NONE,
};
use crate::yaml::{parse_yaml, SourceMap};

/// The files a knowledge base is made of.
#[derive(Debug, Clone)]
pub struct KnowledgePaths {
    /// The topic contract (`knowledge/topics.yaml`).
    pub topics: PathBuf,
    /// The directory of answer files (`*.yaml`).
    pub answers: PathBuf,
    /// The municipality settings file.
    pub settings: PathBuf,
    /// Example questions no answer covers (`knowledge/out-of-scope.yaml`).
    pub out_of_scope: PathBuf,
    /// The fitted confidence model (`knowledge/calibration.yaml`).
    pub calibration: PathBuf,
    /// The municipality's own answer files (`municipalities/<id>/answers/`):
    /// answers of its own, overrides of shared answers by id, and shared
    /// answers it disables. Optional: a missing directory means none.
    pub local: PathBuf,
}

impl KnowledgePaths {
    /// The layout of a checkout: `knowledge/`, `answers/` and
    /// `municipalities/<municipality>/` under `root`.
    pub fn in_repository(root: &Path, municipality: &str) -> Self {
        KnowledgePaths {
            topics: root.join("knowledge/topics.yaml"),
            answers: root.join("answers"),
            settings: root
                .join("municipalities")
                .join(municipality)
                .join("settings.yaml"),
            out_of_scope: root.join("knowledge/out-of-scope.yaml"),
            calibration: root.join("knowledge/calibration.yaml"),
            local: root
                .join("municipalities")
                .join(municipality)
                .join("answers"),
        }
    }

    /// Every file the knowledge base is read from, sorted.
    pub fn files(&self) -> Result<Vec<PathBuf>, KnowledgeError> {
        let mut files = vec![
            self.topics.clone(),
            self.settings.clone(),
            self.out_of_scope.clone(),
            self.calibration.clone(),
        ];
        files.extend(answer_files(&self.answers)?);
        if self.local.is_dir() {
            files.extend(answer_files(&self.local)?);
        }
        Ok(files)
    }
}

/// Everything loaded and validated.
#[derive(Debug, Clone)]
pub(crate) struct Loaded {
    pub(crate) taxonomy: Taxonomy,
    pub(crate) settings: Settings,
    pub(crate) answers: Vec<Answer>,
    pub(crate) out_of_scope: Vec<String>,
    /// Where each answer (by id) was written, or overridden.
    pub(crate) locations: HashMap<String, Location>,
}

pub(crate) fn load(paths: &KnowledgePaths) -> Result<Loaded, KnowledgeError> {
    let mut problems = Vec::new();
    let taxonomy = load_taxonomy(&paths.topics)?;
    let settings = load_settings(&paths.settings)?;
    let out_of_scope = load_out_of_scope(&paths.out_of_scope)?;
    let mut base = Base {
        taxonomy: &taxonomy,
        settings: &settings,
        answers: Vec::new(),
        raw: HashMap::new(),
        locations: HashMap::new(),
    };
    for file in answer_files(&paths.answers)? {
        let text = read(&file)?;
        match parse_yaml::<RawAnswerFile>(&file, &text) {
            Ok(raw) => {
                let map = SourceMap::new(&text);
                let mut check = Checker::new(&file, &map, "answers", &mut problems);
                check.version(raw.version);
                for (index, raw) in raw.answers.into_iter().enumerate() {
                    base.add(&mut check, index, raw, true);
                }
            }
            Err(p) => problems.push(p),
        }
    }
    if paths.local.is_dir() {
        for file in answer_files(&paths.local)? {
            let text = read(&file)?;
            match parse_yaml::<RawLocalFile>(&file, &text) {
                Ok(raw) => base.apply_local(&file, &text, raw, &mut problems),
                Err(p) => problems.push(p),
            }
        }
    }
    let Base {
        answers, locations, ..
    } = base;
    if problems.is_empty() {
        Ok(Loaded {
            taxonomy,
            settings,
            answers,
            out_of_scope,
            locations,
        })
    } else {
        Err(KnowledgeError::Invalid(problems))
    }
}

/// The answers gathered so far, with the raw form of each shared answer
/// kept so a municipality's override can be merged field by field and
/// validated again with its own settings.
struct Base<'k> {
    taxonomy: &'k Taxonomy,
    settings: &'k Settings,
    answers: Vec<Answer>,
    raw: HashMap<String, RawAnswer>,
    locations: HashMap<String, Location>,
}

impl Base<'_> {
    /// Validates and adds one answer; `shared` answers may be overridden later.
    fn add(&mut self, check: &mut Checker<'_, '_>, index: usize, raw: RawAnswer, shared: bool) {
        let id_location = check.location(index, "id");
        if let Some(first) = self.locations.get(&raw.id) {
            let hint = if shared {
                ""
            } else {
                "; to change a shared answer, list it under `overrides:`"
            };
            check.report(
                index,
                "id",
                "duplicate-id",
                format!("answer id `{}` is already used at {first}{hint}", raw.id),
            );
            return;
        }
        self.locations.insert(raw.id.clone(), id_location);
        let kept = shared.then(|| raw.clone());
        if let Some(answer) = check.answer(index, raw, self.taxonomy, self.settings) {
            if let Some(kept) = kept {
                self.raw.insert(answer.id.clone(), kept);
            }
            self.answers.push(answer);
        }
    }

    fn apply_local(
        &mut self,
        file: &Path,
        text: &str,
        raw: RawLocalFile,
        problems: &mut Vec<Problem>,
    ) {
        let map = SourceMap::new(text);
        {
            let mut check = Checker::new(file, &map, "answers", problems);
            check.version(raw.version);
            for (index, answer) in raw.answers.into_iter().enumerate() {
                self.add(&mut check, index, answer, false);
            }
        }
        let mut check = Checker::new(file, &map, "overrides", problems);
        for (index, o) in raw.overrides.into_iter().enumerate() {
            let Some(shared) = self.raw.get(&o.id) else {
                check.report(
                    index,
                    "id",
                    "unknown-override",
                    format!("override of `{}`, but no shared answer has that id (was it renamed or removed?)", o.id),
                );
                continue;
            };
            let merged = o.merge_into(shared.clone());
            if let Some(answer) = check.answer(index, merged, self.taxonomy, self.settings) {
                self.locations
                    .insert(answer.id.clone(), check.location(index, "id"));
                if let Some(slot) = self.answers.iter_mut().find(|a| a.id == answer.id) {
                    *slot = answer;
                }
            }
        }
        let mut check = Checker::new(file, &map, "disable", problems);
        for (index, d) in raw.disable.into_iter().enumerate() {
            if self.raw.remove(&d.id).is_none() {
                check.report(
                    index,
                    "id",
                    "unknown-override",
                    format!("`{}` is disabled, but no shared answer has that id (was it renamed or removed?)", d.id),
                );
                continue;
            }
            if d.reason.trim().is_empty() {
                check.report(
                    index,
                    "reason",
                    "empty-text",
                    "say why the answer is disabled".into(),
                );
            }
            self.answers.retain(|a| a.id != d.id);
            self.locations.remove(&d.id);
        }
    }
}

fn answer_files(dir: &Path) -> Result<Vec<PathBuf>, KnowledgeError> {
    let entries = std::fs::read_dir(dir).map_err(|source| KnowledgeError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    Ok(files)
}

fn read(path: &Path) -> Result<String, KnowledgeError> {
    std::fs::read_to_string(path).map_err(|source| KnowledgeError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path) -> Result<(T, String), KnowledgeError> {
    let text = read(path)?;
    let value = parse_yaml(path, &text).map_err(|p| KnowledgeError::Invalid(vec![p]))?;
    Ok((value, text))
}

// ---- the topic contract -------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTaxonomy {
    departments: Vec<RawUnit>,
    authorities: Vec<RawUnit>,
    topics: Vec<RawTopic>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnit {
    id: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopic {
    id: String,
    owner: String,
    label: String,
}

pub(crate) fn load_taxonomy(path: &Path) -> Result<Taxonomy, KnowledgeError> {
    let (raw, text): (RawTaxonomy, String) = parse(path)?;
    let map = SourceMap::new(&text);
    let mut units: Vec<Unit> = Vec::new();
    for (list, is_department) in [(raw.departments, true), (raw.authorities, false)] {
        units.extend(list.into_iter().map(|u| Unit {
            id: u.id,
            name: u.name,
            is_department,
        }));
    }
    let unit_ids: HashSet<&str> = units.iter().map(|u| u.id.as_str()).collect();
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    for (index, t) in raw.topics.iter().enumerate() {
        let mut fail = |key: &str, code: &'static str, message: String| {
            let (line, column) = map.locate("topics", index, key);
            problems.push(Problem {
                location: Location {
                    file: path.to_path_buf(),
                    line,
                    column,
                },
                code,
                message,
            });
        };
        if !unit_ids.contains(t.owner.as_str()) {
            fail(
                "owner",
                "unknown-owner",
                format!("unknown owner `{}`", t.owner),
            );
        }
        if !seen.insert(t.id.clone()) {
            fail(
                "id",
                "duplicate-topic",
                format!("topic `{}` is listed twice", t.id),
            );
        }
    }
    if !problems.is_empty() {
        return Err(KnowledgeError::Invalid(problems));
    }
    Ok(Taxonomy {
        units,
        topics: raw
            .topics
            .into_iter()
            .map(|t| Topic {
                id: t.id,
                owner: t.owner,
                label: t.label,
            })
            .collect(),
    })
}

// ---- municipality settings ---------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    version: u32,
    municipality: RawMunicipality,
    values: BTreeMap<String, RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMunicipality {
    id: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawValue {
    Plain(String),
    Split(RawSplitValue),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSplitValue {
    chat: String,
    spoken: String,
}

pub(crate) fn load_settings(path: &Path) -> Result<Settings, KnowledgeError> {
    let (raw, text): (RawSettings, String) = parse(path)?;
    let mut problems = Vec::new();
    let at = |needle: &str| {
        let line = text
            .lines()
            .position(|l| l.trim_start().starts_with(needle))
            .map_or(1, |n| n + 1);
        Location {
            file: path.to_path_buf(),
            line,
            column: 1,
        }
    };
    if raw.version != 1 {
        problems.push(Problem {
            location: at("version:"),
            code: "unsupported-version",
            message: "only version 1 is supported".into(),
        });
    }
    let mut values = BTreeMap::new();
    for (key, value) in raw.values {
        let value = match value {
            RawValue::Plain(s) => SettingValue {
                chat: s.clone(),
                spoken: s,
            },
            RawValue::Split(s) => SettingValue {
                chat: s.chat,
                spoken: s.spoken,
            },
        };
        if value.spoken.chars().any(|c| c.is_ascii_digit()) && !value.spoken.contains("://") {
            problems.push(Problem {
                location: at(&format!("{key}:")),
                code: "digits-in-spoken",
                message: format!(
                    "`{key}` has digits; give it `chat:` and `spoken:` forms with the number written as it is said"
                ),
            });
        }
        values.insert(key, value);
    }
    if !problems.is_empty() {
        return Err(KnowledgeError::Invalid(problems));
    }
    Ok(Settings {
        municipality_id: raw.municipality.id,
        municipality_name: raw.municipality.name,
        values,
    })
}

// ---- out-of-scope examples -------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutOfScope {
    version: u32,
    examples: Vec<String>,
}

fn load_out_of_scope(path: &Path) -> Result<Vec<String>, KnowledgeError> {
    let (raw, _): (RawOutOfScope, String) = parse(path)?;
    if raw.version != 1 {
        return Err(KnowledgeError::Invalid(vec![Problem {
            location: Location {
                file: path.to_path_buf(),
                line: 1,
                column: 1,
            },
            code: "unsupported-version",
            message: "only version 1 is supported".into(),
        }]));
    }
    Ok(raw.examples)
}

// ---- answers ---------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnswerFile {
    version: u32,
    answers: Vec<RawAnswer>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawAnswer {
    id: String,
    topic: String,
    title: String,
    questions: Vec<String>,
    #[serde(default)]
    keywords: Vec<String>,
    chat: String,
    spoken: String,
    #[serde(default)]
    links: Vec<RawLink>,
    department: Option<String>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawLink {
    kind: RawLinkKind,
    title: String,
    url: String,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum RawLinkKind {
    Selvbetjening,
    Video,
    Info,
}

/// A municipality's own file: answers of its own, overrides of shared
/// answers (only the fields given are replaced) and shared answers it
/// does not use.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLocalFile {
    version: u32,
    #[serde(default)]
    answers: Vec<RawAnswer>,
    #[serde(default)]
    overrides: Vec<RawOverride>,
    #[serde(default)]
    disable: Vec<RawDisable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverride {
    id: String,
    title: Option<String>,
    questions: Option<Vec<String>>,
    keywords: Option<Vec<String>>,
    chat: Option<String>,
    spoken: Option<String>,
    links: Option<Vec<RawLink>>,
    department: Option<String>,
}

impl RawOverride {
    fn merge_into(self, mut answer: RawAnswer) -> RawAnswer {
        answer.title = self.title.unwrap_or(answer.title);
        answer.questions = self.questions.unwrap_or(answer.questions);
        answer.keywords = self.keywords.unwrap_or(answer.keywords);
        answer.chat = self.chat.unwrap_or(answer.chat);
        answer.spoken = self.spoken.unwrap_or(answer.spoken);
        answer.links = self.links.unwrap_or(answer.links);
        answer.department = self.department.or(answer.department);
        answer
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDisable {
    id: String,
    reason: String,
}

/// The most sentences a spoken text may have.
pub const MAX_SPOKEN_SENTENCES: usize = 2;
/// The most words a spoken text may have once variables are filled in:
/// about twenty-five seconds at the calm pace the phone voice uses.
pub const MAX_SPOKEN_WORDS: usize = 60;
const QUESTIONS: std::ops::RangeInclusive<usize> = 3..=8;

struct Checker<'a, 'm> {
    file: &'a Path,
    map: &'a SourceMap<'m>,
    /// The top-level key holding the items being checked.
    list: &'static str,
    problems: &'a mut Vec<Problem>,
}

impl<'a, 'm> Checker<'a, 'm> {
    fn new(
        file: &'a Path,
        map: &'a SourceMap<'m>,
        list: &'static str,
        problems: &'a mut Vec<Problem>,
    ) -> Self {
        Checker {
            file,
            map,
            list,
            problems,
        }
    }

    fn version(&mut self, version: u32) {
        if version != 1 {
            self.at_top(
                "version",
                "unsupported-version",
                "only version 1 is supported",
            );
        }
    }

    fn location(&self, index: usize, key: &str) -> Location {
        let (line, column) = self.map.locate(self.list, index, key);
        Location {
            file: self.file.to_path_buf(),
            line,
            column,
        }
    }

    fn report(&mut self, index: usize, key: &str, code: &'static str, message: String) {
        let location = self.location(index, key);
        self.problems.push(Problem {
            location,
            code,
            message,
        });
    }

    fn at_top(&mut self, key: &str, code: &'static str, message: &str) {
        let line = self.map.top_level_line(key).map_or(1, |n| n + 1);
        self.problems.push(Problem {
            location: Location {
                file: self.file.to_path_buf(),
                line,
                column: 1,
            },
            code,
            message: message.into(),
        });
    }

    fn answer(
        &mut self,
        index: usize,
        raw: RawAnswer,
        taxonomy: &Taxonomy,
        settings: &Settings,
    ) -> Option<Answer> {
        let before = self.problems.len();
        if !is_valid_id(&raw.id) {
            self.report(
                index,
                "id",
                "bad-id",
                format!(
                    "answer id `{}` may only use lowercase letters a-z, digits and hyphens",
                    raw.id
                ),
            );
        }
        match taxonomy.topic(&raw.topic) {
            None => self.report(
                index,
                "topic",
                "unknown-topic",
                format!("unknown topic `{}` (see topics.yaml)", raw.topic),
            ),
            Some(t) if t.id == TOPIC_NONE => self.report(
                index,
                "topic",
                "none-topic",
                "an answer cannot have topic `none`".into(),
            ),
            Some(_) => {}
        }
        if !QUESTIONS.contains(&raw.questions.len()) {
            self.report(
                index,
                "questions",
                "question-count",
                format!(
                    "{} example questions; give {} to {}",
                    raw.questions.len(),
                    QUESTIONS.start(),
                    QUESTIONS.end()
                ),
            );
        }
        for (key, value) in [
            ("title", &raw.title),
            ("chat", &raw.chat),
            ("spoken", &raw.spoken),
        ] {
            if value.trim().is_empty() {
                self.report(index, key, "empty-text", format!("`{key}` is empty"));
            }
        }
        if raw.questions.iter().any(|q| q.trim().is_empty()) {
            self.report(
                index,
                "questions",
                "empty-text",
                "an example question is empty".into(),
            );
        }
        self.check_spoken(index, &raw.spoken);
        if let Some(dept) = &raw.department {
            if taxonomy.department(dept).is_none() {
                self.report(
                    index,
                    "department",
                    "unknown-department",
                    format!("unknown department `{dept}` (see departments in topics.yaml)"),
                );
            }
        }
        let chat = self.render(index, "chat", &raw.chat, settings, false);
        let spoken = self.render(index, "spoken", &raw.spoken, settings, true);
        let words = spoken.split_whitespace().count();
        if words > MAX_SPOKEN_WORDS {
            self.report(
                index,
                "spoken",
                "spoken-too-long",
                format!("the spoken text has {words} words with the municipality's values filled in; at most {MAX_SPOKEN_WORDS} can be said on the phone before callers lose the thread"),
            );
        }
        let mut links = Vec::new();
        for link in raw.links {
            let url = self.render(index, "links", &link.url, settings, false);
            if !is_valid_url(&url) {
                self.report(
                    index,
                    "links",
                    "bad-link",
                    format!("link `{url}` must be an https:// address without spaces"),
                );
            }
            links.push(Link {
                kind: match link.kind {
                    RawLinkKind::Selvbetjening => LinkKind::SelfService,
                    RawLinkKind::Video => LinkKind::Video,
                    RawLinkKind::Info => LinkKind::Info,
                },
                title: link.title,
                url,
            });
        }
        if self.problems.len() != before {
            return None;
        }
        Some(Answer {
            id: raw.id,
            topic: raw.topic,
            title: raw.title,
            questions: raw.questions,
            keywords: raw.keywords,
            chat,
            spoken,
            links,
            department: raw.department,
        })
    }

    fn check_spoken(&mut self, index: usize, spoken: &str) {
        let template = strip_variables(spoken);
        let sentences = count_sentences(&template);
        if sentences > MAX_SPOKEN_SENTENCES {
            self.report(
                index,
                "spoken",
                "spoken-too-long",
                format!("the spoken text has {sentences} sentences; at most {MAX_SPOKEN_SENTENCES} are said on the phone"),
            );
        }
        if template.chars().any(|c| c.is_ascii_digit()) {
            self.report(
                index,
                "spoken",
                "digits-in-spoken",
                "write numbers in the spoken text as they are said (\"ti år\", not \"10 år\")"
                    .into(),
            );
        }
        if template.contains("://") || template.contains("www.") {
            self.report(
                index,
                "spoken",
                "url-in-spoken",
                "a spoken text cannot contain a web address".into(),
            );
        }
    }

    /// Replaces `{name}` with the municipality's value.
    fn render(
        &mut self,
        index: usize,
        key: &str,
        text: &str,
        settings: &Settings,
        spoken: bool,
    ) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('}') {
                Some(close) if is_variable_name(&after[..close]) => {
                    let name = &after[..close];
                    match settings.values.get(name) {
                        Some(v) => out.push_str(if spoken { &v.spoken } else { &v.chat }),
                        None => self.report(
                            index,
                            key,
                            "unknown-variable",
                            format!("unknown variable `{{{name}}}`; the municipality settings define: {}", settings.values.keys().cloned().collect::<Vec<_>>().join(", ")),
                        ),
                    }
                    rest = &after[close + 1..];
                }
                _ => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

fn is_variable_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn strip_variables(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        match rest[open..].find('}') {
            Some(close) => rest = &rest[open + close + 1..],
            None => {
                rest = &rest[open..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_valid_url(url: &str) -> bool {
    url.strip_prefix("https://").is_some_and(|rest| {
        rest.contains('.') && !rest.starts_with('/') && !url.chars().any(char::is_whitespace)
    })
}

/// Counts sentences: a sentence ends at `.`, `!` or `?` followed by the end
/// of the text or by a space and a capital letter, so "bl.a." and "kl."
/// inside a sentence do not count.
pub(crate) fn count_sentences(text: &str) -> usize {
    let chars: Vec<char> = text.trim().chars().collect();
    if chars.is_empty() {
        return 0;
    }
    let mut count = 0;
    for (i, &c) in chars.iter().enumerate() {
        if matches!(c, '.' | '!' | '?') {
            let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
            let spaced = chars.get(i + 1).is_some_and(|c| c.is_whitespace());
            match next {
                None => count += 1,
                Some(n) if spaced && n.is_uppercase() => count += 1,
                _ => {}
            }
        }
    }
    if !matches!(chars.last(), Some('.' | '!' | '?')) {
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_ignore_abbreviations() {
        assert_eq!(count_sentences("Ring fx. til os. Det er gratis."), 2);
        assert_eq!(count_sentences("Det koster bl.a. ti kroner"), 1);
        assert_eq!(count_sentences("Et. To! Tre?"), 3);
    }

    #[test]
    fn ids_and_urls() {
        assert!(is_valid_id("pas-barn-pris"));
        assert!(!is_valid_id("Pas_barn"));
        assert!(is_valid_url("https://www.borger.dk/pas"));
        assert!(!is_valid_url("http://www.borger.dk"));
        assert!(!is_valid_url("https://www.borger.dk/a b"));
    }
}
