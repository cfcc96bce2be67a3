//! The talk-flow staff edit (`flows/flow.yaml`): prompts, thresholds, the
//! DTMF menu, per-topic overrides and out-of-hours behaviour.
//!
//! [`FlowFile`] mirrors the YAML (`deny_unknown_fields`, a `version`);
//! [`Flow::validate`] checks it against the knowledge base and the
//! departments directory and resolves it into the typed [`Flow`] the
//! dialogue engine reads. The JSON Schema in `flows/schema/` is generated
//! from these structs by `vejviser flows schema`.

pub mod scripted;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use knowledge::{KnowledgeBase, Problem, Thresholds};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::departments::Directory;
use crate::locate::Locator;
use crate::text;

/// `flows/flow.yaml` as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowFile {
    /// Format version; always 1.
    pub version: u32,
    /// Everything the bot says that is not an answer.
    pub prompts: PromptsFile,
    /// Recorded audio to play instead of speech synthesis, per prompt name.
    #[serde(default)]
    pub recordings: BTreeMap<String, String>,
    /// Confidence thresholds; the calibrated ones when left out.
    #[serde(default)]
    pub thresholds: Option<ThresholdsFile>,
    /// Misunderstandings in a row before the phone menu (chat: buttons).
    pub tries_before_menu: u8,
    /// Seconds of silence on the phone before the bot asks again.
    pub no_input_seconds: u16,
    /// Milliseconds of silence after speech that end the caller's
    /// utterance (300 to 2000; 600 when left out). Shorter answers sooner
    /// but may cut a caller who pauses mid-sentence.
    #[serde(default)]
    pub end_of_speech_ms: Option<u16>,
    /// The department that takes over when the bot cannot help.
    pub switchboard: String,
    /// Extra words that mean an emergency (call 112), besides the built-in ones.
    #[serde(default)]
    pub emergency_words: Vec<String>,
    /// What to offer when a department is closed.
    pub out_of_hours: OutOfHoursFile,
    /// The phone menu; the first menu is the main menu.
    pub menus: Vec<MenuFile>,
    /// Topics handled differently from the knowledge base's answer.
    #[serde(default)]
    pub overrides: Vec<OverrideFile>,
}

/// The prompts. `{name}` is filled from the municipality settings or, where
/// noted, from the conversation.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptsFile {
    /// First thing said.
    pub greeting: String,
    /// After a question the bot did not understand.
    pub reprompt: String,
    /// After silence on the phone.
    pub no_input: String,
    /// Confirming question; `{emne}` is the topic.
    pub confirm: String,
    /// After an answer.
    pub anything_else: String,
    /// After "ja" to `anything_else`.
    pub go_ahead: String,
    /// Asks consent before an SMS.
    pub offer_sms: String,
    /// The SMS itself; `{titel}` and `{link}` come from the answer.
    pub sms_text: String,
    /// After consent to the SMS.
    pub sms_sent: String,
    /// After the citizen declined the SMS.
    pub sms_declined: String,
    /// When the SMS could not be sent.
    pub sms_failed: String,
    /// Before a transfer on the phone; `{afdeling}`.
    pub transfer: String,
    /// When a transfer failed; `{afdeling}`, `{telefon}`.
    pub transfer_failed: String,
    /// After `transfer_failed`: asks consent to an SMS with the number.
    pub offer_sms_phone: String,
    /// That SMS; `{afdeling}`, `{telefon}`.
    pub sms_phone_text: String,
    /// Handover in chat to an open department; `{afdeling}`, `{telefon}`.
    pub handover: String,
    /// A closed department; `{afdeling}`, `{aabner}` (when it opens), `{telefon}`.
    pub closed: String,
    /// A closed department that opens in none of the next 30 days; `{afdeling}`, `{telefon}`.
    pub closed_long: String,
    /// Offers a callback when closed.
    pub callback: String,
    /// After the citizen accepted the callback; `{afdeling}`.
    pub callback_booked: String,
    /// Chat: asks for a mobile number after "ja" to the SMS.
    pub ask_number: String,
    /// Chat: asks for the number to call back; `{afdeling}`.
    pub ask_callback_number: String,
    /// Chat: after a number that could not be used, behind the reason.
    pub number_retry: String,
    /// Chat: after too many numbers that could not be used.
    pub number_given_up: String,
    /// The number has had its SMS messages for today.
    pub sms_rate_limited: String,
    /// The same link was already sent in this conversation.
    pub sms_already_sent: String,
    /// Chat: asks when the callback suits; `{afdeling}`.
    pub callback_when: String,
    /// Chat: the callback is booked; `{afdeling}`, `{tid}` (the chosen time).
    pub callback_confirmed: String,
    /// Emergency: call 112.
    pub emergency: String,
    /// Goodbye.
    pub goodbye: String,
    /// Before the phone menu's choices (or the chat's buttons).
    pub menu: String,
    /// Phone: speech recognition is busy; the menu's choices follow.
    pub speech_busy: String,
    /// After a key that is not in the menu.
    pub menu_invalid: String,
}

/// Confidence thresholds between 0 and 1.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdsFile {
    /// At or above: answer at once.
    pub answer: f32,
    /// At or above (and below `answer`): ask "Handler det om …?".
    pub confirm: f32,
}

/// Out-of-hours behaviour.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutOfHoursFile {
    /// Offer the answer's link by SMS when the department is closed.
    pub offer_sms: bool,
    /// Offer to be called back when the department opens.
    pub offer_callback: bool,
}

/// One menu of the phone menu.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MenuFile {
    pub id: String,
    pub options: Vec<MenuOptionFile>,
}

/// One choice of a menu: a key, what it is called, and exactly one of
/// `menu`, `topic`, `answer`, `transfer`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MenuOptionFile {
    /// The key to press: 0–9.
    pub key: String,
    /// What the choice is called ("Pas og kørekort").
    pub label: String,
    /// Go to another menu.
    pub menu: Option<String>,
    /// Give the answer of a topic.
    pub topic: Option<String>,
    /// Give one answer.
    pub answer: Option<String>,
    /// Transfer to a department.
    pub transfer: Option<String>,
}

/// A per-topic override.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideFile {
    /// A topic id from `knowledge/topics.yaml`.
    pub topic: String,
    /// What the confirming question calls the topic.
    pub label: Option<String>,
    /// Always give this answer for the topic.
    pub answer: Option<String>,
    /// Always transfer to this department instead of answering.
    pub transfer: Option<String>,
    /// After the answer, offer this SMS (it must hold a link or a phone number).
    pub sms: Option<String>,
}

/// What a menu choice does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Index into [`Flow::menus`].
    Menu(usize),
    Topic(String),
    Answer(String),
    Transfer(String),
}

/// A validated menu choice.
#[derive(Debug, Clone)]
pub struct MenuOption {
    pub key: char,
    pub label: String,
    pub target: Target,
}

/// A validated menu.
#[derive(Debug, Clone)]
pub struct Menu {
    pub id: String,
    pub options: Vec<MenuOption>,
}

/// A validated per-topic override.
#[derive(Debug, Clone, Default)]
pub struct Override {
    pub label: Option<String>,
    pub answer: Option<String>,
    pub transfer: Option<String>,
    pub sms: Option<String>,
}

/// The validated talk-flow.
#[derive(Debug, Clone)]
pub struct Flow {
    pub prompts: PromptsFile,
    pub recordings: BTreeMap<String, String>,
    /// The flow's own thresholds; `None`: the calibrated ones of the
    /// confidence model in use (see [`crate::config::Config::thresholds`]).
    pub thresholds: Option<Thresholds>,
    pub tries_before_menu: u8,
    pub no_input: Duration,
    /// Silence after speech that ends an utterance on the phone.
    pub end_of_speech: Duration,
    pub switchboard: String,
    pub emergency_words: Vec<String>,
    pub out_of_hours: OutOfHoursFile,
    /// The first is the main menu.
    pub menus: Vec<Menu>,
    pub overrides: BTreeMap<String, Override>,
}

/// Names a prompt may use besides the municipality settings.
const CONVERSATION_VARIABLES: [&str; 7] = [
    "emne", "afdeling", "telefon", "aabner", "link", "titel", "tid",
];
/// The end-of-speech silence when the flow names none: long enough for a
/// breath between words on a telephone line, short enough to leave most of
/// the one-second answer budget to recognition and speech.
const DEFAULT_END_OF_SPEECH_MS: u16 = 600;
/// Below this answer threshold the bot answers wrongly too often.
const MIN_ANSWER_THRESHOLD: f32 = 0.5;
/// Below this confirm threshold the bot asks about almost anything.
const MIN_CONFIRM_THRESHOLD: f32 = 0.1;

/// The JSON Schemas of the staff files, by file name, as pretty JSON.
pub fn schemas() -> Vec<(&'static str, String)> {
    let pretty = |v: schemars::Schema| {
        let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
        s.push('\n');
        s
    };
    vec![
        ("flow.schema.json", pretty(schemars::schema_for!(FlowFile))),
        (
            "departments.schema.json",
            pretty(schemars::schema_for!(crate::departments::DepartmentsFile)),
        ),
        (
            "test.schema.json",
            pretty(schemars::schema_for!(scripted::TestFile)),
        ),
    ]
}

impl PromptsFile {
    /// Every prompt by its YAML name.
    pub fn named(&self) -> [(&'static str, &str); 33] {
        [
            ("greeting", &self.greeting),
            ("reprompt", &self.reprompt),
            ("no_input", &self.no_input),
            ("confirm", &self.confirm),
            ("anything_else", &self.anything_else),
            ("go_ahead", &self.go_ahead),
            ("offer_sms", &self.offer_sms),
            ("sms_text", &self.sms_text),
            ("sms_sent", &self.sms_sent),
            ("sms_declined", &self.sms_declined),
            ("sms_failed", &self.sms_failed),
            ("transfer", &self.transfer),
            ("transfer_failed", &self.transfer_failed),
            ("speech_busy", &self.speech_busy),
            ("offer_sms_phone", &self.offer_sms_phone),
            ("sms_phone_text", &self.sms_phone_text),
            ("handover", &self.handover),
            ("closed", &self.closed),
            ("closed_long", &self.closed_long),
            ("callback", &self.callback),
            ("callback_booked", &self.callback_booked),
            ("ask_number", &self.ask_number),
            ("ask_callback_number", &self.ask_callback_number),
            ("number_retry", &self.number_retry),
            ("number_given_up", &self.number_given_up),
            ("sms_rate_limited", &self.sms_rate_limited),
            ("sms_already_sent", &self.sms_already_sent),
            ("callback_when", &self.callback_when),
            ("callback_confirmed", &self.callback_confirmed),
            ("emergency", &self.emergency),
            ("goodbye", &self.goodbye),
            ("menu", &self.menu),
            ("menu_invalid", &self.menu_invalid),
        ]
    }
}

impl Flow {
    /// Validates the parsed flow against the knowledge base and the
    /// departments (`None` when the directory itself is invalid); every
    /// problem is located in `text` (the file as read).
    pub fn validate(
        file: FlowFile,
        path: &Path,
        text: &str,
        kb: &KnowledgeBase,
        departments: Option<&Directory>,
    ) -> Result<Flow, Vec<Problem>> {
        let loc = Locator::new(path, text);
        let mut problems = Vec::new();
        let mut problem = |at: (usize, usize), code: &'static str, message: String| {
            problems.push(loc.at(at, code, message));
        };
        if file.version != 1 {
            problem(
                loc.top("version"),
                "version",
                format!("version {} is not known; write `version: 1`", file.version),
            );
        }
        let settings = kb.settings();
        for (name, prompt) in file.prompts.named() {
            if prompt.trim().is_empty() {
                problem(
                    loc.nested("prompts", name),
                    "empty-prompt",
                    format!("prompt `{name}` is empty"),
                );
            }
            for var in text::variables(prompt) {
                if !settings.values.contains_key(var) && !CONVERSATION_VARIABLES.contains(&var) {
                    problem(
                        loc.nested("prompts", name),
                        "unknown-variable",
                        format!(
                            "prompt `{name}` uses `{{{var}}}`, which is neither a settings value nor one of {}",
                            CONVERSATION_VARIABLES.join(", ")
                        ),
                    );
                }
            }
        }
        let prompt_names: BTreeSet<&str> = file.prompts.named().iter().map(|(n, _)| *n).collect();
        for name in file.recordings.keys() {
            if !prompt_names.contains(name.as_str()) {
                problem(
                    loc.nested("recordings", name),
                    "unknown-prompt",
                    format!("`{name}` is not a prompt; recordings are named after prompts"),
                );
            }
        }

        let thresholds = match file.thresholds {
            None => None,
            Some(t) => {
                let (answer_at, confirm_at) = (
                    loc.nested("thresholds", "answer"),
                    loc.nested("thresholds", "confirm"),
                );
                for (v, at, name) in [
                    (t.answer, answer_at, "answer"),
                    (t.confirm, confirm_at, "confirm"),
                ] {
                    if !(0.0..=1.0).contains(&v) {
                        problem(
                            at,
                            "unsafe-threshold",
                            format!("{name} threshold {v} must be between 0 and 1"),
                        );
                    }
                }
                if t.answer < t.confirm {
                    problem(
                        answer_at,
                        "unsafe-threshold",
                        format!("answer threshold {} is below the confirm threshold {}; the bot would answer before it would ask", t.answer, t.confirm),
                    );
                }
                if t.answer < MIN_ANSWER_THRESHOLD {
                    problem(
                        answer_at,
                        "unsafe-threshold",
                        format!("answer threshold {} is too low (at least {MIN_ANSWER_THRESHOLD}); the bot would answer wrongly too often", t.answer),
                    );
                }
                if t.confirm < MIN_CONFIRM_THRESHOLD {
                    problem(
                        confirm_at,
                        "unsafe-threshold",
                        format!("confirm threshold {} is too low (at least {MIN_CONFIRM_THRESHOLD}); the bot would ask about almost anything", t.confirm),
                    );
                }
                Some(Thresholds {
                    answer: t.answer,
                    confirm: t.confirm,
                })
            }
        };
        if !(1..=5).contains(&file.tries_before_menu) {
            problem(
                loc.top("tries_before_menu"),
                "bad-number",
                format!(
                    "tries_before_menu is {}; use 1 to 5",
                    file.tries_before_menu
                ),
            );
        }
        if !(2..=30).contains(&file.no_input_seconds) {
            problem(
                loc.top("no_input_seconds"),
                "bad-number",
                format!("no_input_seconds is {}; use 2 to 30", file.no_input_seconds),
            );
        }
        let end_of_speech_ms = file.end_of_speech_ms.unwrap_or(DEFAULT_END_OF_SPEECH_MS);
        if !(300..=2000).contains(&end_of_speech_ms) {
            problem(
                loc.top("end_of_speech_ms"),
                "bad-number",
                format!("end_of_speech_ms is {end_of_speech_ms}; use 300 to 2000"),
            );
        }
        // With an invalid directory, department ids are not checked here
        // (its own problems are reported instead).
        let known_department = |id: &str| departments.is_none_or(|d| d.get(id).is_some());
        if !known_department(&file.switchboard) {
            problem(
                loc.top("switchboard"),
                "unknown-department",
                format!(
                    "switchboard `{}` is not in departments.yaml",
                    file.switchboard
                ),
            );
        }

        // Menus: ids, targets, reachability.
        let menu_index: BTreeMap<&str, usize> = file
            .menus
            .iter()
            .enumerate()
            .map(|(i, m)| (m.id.as_str(), i))
            .collect();
        if file.menus.is_empty() {
            problem(
                loc.top("menus"),
                "no-menu",
                "there must be at least one menu (the main menu)".into(),
            );
        }
        let topic_has_answer = |topic: &str| kb.answers().iter().any(|a| a.topic == topic);
        let mut menus = Vec::new();
        let mut edges: Vec<Vec<usize>> = Vec::new();
        for (i, m) in file.menus.iter().enumerate() {
            let menu_at = loc.item("menus", i, "id");
            if menu_index.get(m.id.as_str()) != Some(&i) {
                problem(
                    menu_at,
                    "duplicate-menu",
                    format!("menu `{}` is defined twice", m.id),
                );
            }
            if m.options.is_empty() {
                problem(
                    loc.item("menus", i, "options"),
                    "dead-end",
                    format!("menu `{}` has no options; a caller would be stuck", m.id),
                );
            }
            let mut options = Vec::new();
            let mut next = Vec::new();
            let mut keys = BTreeSet::new();
            for o in &m.options {
                let at = loc.find_from(menu_at, &format!("key: \"{}\"", o.key));
                let key = match o.key.chars().collect::<Vec<_>>()[..] {
                    [c] if c.is_ascii_digit() => c,
                    _ => {
                        problem(
                            at,
                            "bad-key",
                            format!("menu `{}`: key `{}` must be one digit 0–9", m.id, o.key),
                        );
                        continue;
                    }
                };
                if !keys.insert(key) {
                    problem(
                        at,
                        "duplicate-key",
                        format!("menu `{}`: key {key} is used twice", m.id),
                    );
                }
                let set = [&o.menu, &o.topic, &o.answer, &o.transfer]
                    .iter()
                    .filter(|t| t.is_some())
                    .count();
                if set != 1 {
                    problem(
                        at,
                        "bad-option",
                        format!("menu `{}`, key {key}: give exactly one of menu, topic, answer, transfer", m.id),
                    );
                    continue;
                }
                let target = if let Some(to) = &o.menu {
                    match menu_index.get(to.as_str()) {
                        Some(&j) => {
                            next.push(j);
                            Target::Menu(j)
                        }
                        None => {
                            problem(
                                loc.find_from(at, to),
                                "unknown-menu",
                                format!("menu `{to}` does not exist"),
                            );
                            continue;
                        }
                    }
                } else if let Some(t) = &o.topic {
                    if kb.taxonomy().topic(t).is_none() {
                        problem(
                            loc.find_from(at, t),
                            "unknown-topic",
                            format!("topic `{t}` is not in knowledge/topics.yaml"),
                        );
                    } else if !topic_has_answer(t)
                        && !file
                            .overrides
                            .iter()
                            .any(|ov| ov.topic == *t && ov.transfer.is_some())
                    {
                        problem(
                            loc.find_from(at, t),
                            "dead-end",
                            format!("topic `{t}` has no answer in answers/"),
                        );
                    }
                    Target::Topic(t.clone())
                } else if let Some(a) = &o.answer {
                    if kb.answers().iter().all(|x| x.id != *a) {
                        problem(
                            loc.find_from(at, a),
                            "unknown-answer",
                            format!("answer `{a}` does not exist in answers/"),
                        );
                    }
                    Target::Answer(a.clone())
                } else if let Some(d) = &o.transfer {
                    if !known_department(d) {
                        problem(
                            loc.find_from(at, d),
                            "unknown-department",
                            format!("department `{d}` is not in departments.yaml"),
                        );
                    }
                    Target::Transfer(d.clone())
                } else {
                    continue;
                };
                options.push(MenuOption {
                    key,
                    label: o.label.clone(),
                    target,
                });
            }
            edges.push(next);
            menus.push(Menu {
                id: m.id.clone(),
                options,
            });
        }
        let mut reached = vec![false; file.menus.len()];
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            if i < reached.len() && !reached[i] {
                reached[i] = true;
                stack.extend(edges.get(i).into_iter().flatten().copied());
            }
        }
        for (i, r) in reached.iter().enumerate() {
            if !r {
                problem(
                    loc.item("menus", i, "id"),
                    "unreachable",
                    format!(
                        "menu `{}` cannot be reached from the main menu `{}`",
                        file.menus[i].id, file.menus[0].id
                    ),
                );
            }
        }

        // Overrides.
        let mut overrides = BTreeMap::new();
        for (i, o) in file.overrides.into_iter().enumerate() {
            let at = |key: &str| loc.item("overrides", i, key);
            if kb.taxonomy().topic(&o.topic).is_none() {
                problem(
                    at("topic"),
                    "unknown-topic",
                    format!("topic `{}` is not in knowledge/topics.yaml", o.topic),
                );
            }
            if overrides.contains_key(&o.topic) {
                problem(
                    at("topic"),
                    "duplicate-override",
                    format!("topic `{}` has two overrides", o.topic),
                );
            }
            if o.label.is_none() && o.answer.is_none() && o.transfer.is_none() && o.sms.is_none() {
                problem(
                    at("topic"),
                    "empty-override",
                    format!(
                        "override of `{}` changes nothing; give label, answer, transfer or sms",
                        o.topic
                    ),
                );
            }
            if let Some(a) = &o.answer {
                match kb.answers().iter().find(|x| x.id == *a) {
                    None => problem(
                        at("answer"),
                        "unknown-answer",
                        format!("answer `{a}` does not exist in answers/"),
                    ),
                    Some(x) if x.topic != o.topic => problem(
                        at("answer"),
                        "answer-topic",
                        format!(
                            "answer `{a}` belongs to topic `{}`, not `{}`",
                            x.topic, o.topic
                        ),
                    ),
                    Some(_) => {}
                }
            }
            if let Some(d) = &o.transfer {
                if !known_department(d) {
                    problem(
                        at("transfer"),
                        "unknown-department",
                        format!("department `{d}` is not in departments.yaml"),
                    );
                }
            }
            if let Some(s) = &o.sms {
                let digits = s.chars().filter(char::is_ascii_digit).count();
                if !s.contains("http") && !s.contains("{link}") && digits < 8 {
                    problem(
                        at("sms"),
                        "missing-sms-link",
                        format!(
                            "the SMS for `{}` holds neither a link nor a phone number",
                            o.topic
                        ),
                    );
                }
                for var in text::variables(s) {
                    if !settings.values.contains_key(var) && !CONVERSATION_VARIABLES.contains(&var)
                    {
                        problem(
                            at("sms"),
                            "unknown-variable",
                            format!("`{{{var}}}` is not a settings value"),
                        );
                    }
                }
            }
            overrides.insert(
                o.topic,
                Override {
                    label: o.label,
                    answer: o.answer,
                    transfer: o.transfer,
                    sms: o.sms,
                },
            );
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Flow {
            prompts: file.prompts,
            recordings: file.recordings,
            thresholds,
            tries_before_menu: file.tries_before_menu,
            no_input: Duration::from_secs(u64::from(file.no_input_seconds)),
            end_of_speech: Duration::from_millis(u64::from(end_of_speech_ms)),
            switchboard: file.switchboard,
            emergency_words: file
                .emergency_words
                .iter()
                .map(|w| w.to_lowercase())
                .collect(),
            out_of_hours: file.out_of_hours,
            menus,
            overrides,
        })
    }

    /// The override of `topic`, if any.
    pub fn override_for(&self, topic: &str) -> Option<&Override> {
        self.overrides.get(topic)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn committed_schemas_equal_generated() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../flows/schema");
        for (name, generated) in super::schemas() {
            let committed = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
            assert!(
                committed == generated,
                "flows/schema/{name} is stale; run `vejviser flows schema`"
            );
        }
    }
}
