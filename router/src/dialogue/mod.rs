//! The sans-I/O dialogue engine: one [`Dialogue`] per conversation, fed
//! [`Event`]s and the current time, returning a [`Turn`] of [`Action`]s.
//!
//! The engine does no I/O, reads no clock, draws no random numbers and
//! never stores what a citizen said: a front end (SIP, webhook, web chat)
//! turns its input into events, calls [`Dialogue::step`], and carries out
//! the actions. The same engine serves voice and chat; only what a
//! channel renders differs (the spoken text on the phone, the chat text
//! with links and buttons in chat).
//!
//! The conversation, in states:
//! - *listening*: an utterance is checked for an emergency, "say that
//!   again", goodbye and a request for a person, then matched. The flow's
//!   thresholds give answer, confirm or not understood.
//! - *confirming*: "Handler det om …?". Yes gives the answer; no asks about
//!   the next candidate or asks again; anything else is a new question.
//! - *offering an SMS*: after an answer with a link, consent first.
//! - *menu*: after `tries_before_menu` misunderstandings the phone menu
//!   (DTMF) or, in chat, the same choices as buttons.
//!
//! A transfer goes to a department only while it answers the phone
//! (holidays and closure days included); otherwise the citizen hears when
//! it opens and is offered the SMS link or a callback. A transfer that
//! fails ([`Event::TransferFailed`]) falls back to the department's number,
//! offered by SMS as well (see `fallback.rs`).
//!
//! A front end that cannot send an SMS to this citizen (a caller from a
//! landline or a hidden number) says so with [`Dialogue::set_sms_to_caller`],
//! and the engine then never offers one.

mod contact;
mod fallback;
mod menu;
mod protocol;
mod understand;

use std::sync::Arc;

use jiff::{Timestamp, Zoned};
use knowledge::{Answer, Channel, Decision, TOPIC_EMERGENCY, TOPIC_HUMAN, TOPIC_NONE};

pub use protocol::{
    Action, Button, CallbackWindow, Event, NumberPurpose, NumberReply, Outcome, Say, Turn,
};
pub use understand::{is_cancel, is_emergency};

use crate::config::Config;
use crate::text::{self, Text};

/// A candidate awaiting confirmation.
#[derive(Debug, Clone)]
struct Pending {
    topic: String,
    answer_id: Option<String>,
}

#[derive(Debug, Clone)]
enum State {
    NotStarted,
    Listening,
    Confirming {
        candidates: Vec<Pending>,
        index: usize,
    },
    OfferingSms {
        answer_id: Option<String>,
        text: Text,
    },
    OfferingCallback {
        department: String,
        opens: Option<String>,
    },
    Menu {
        menu: usize,
    },
    /// Chat: waiting for a typed number (see `contact.rs`).
    AwaitingNumber {
        purpose: NumberPurpose,
        tries: u8,
    },
    /// Chat: the callback number is taken; which time window?
    ChoosingWindow {
        department: String,
        windows: Vec<CallbackWindow>,
    },
    /// A transfer was asked for; only its failure or the end can follow.
    Transferring {
        department: String,
        topic: Option<String>,
    },
    Ended,
}

/// One conversation.
pub struct Dialogue {
    config: Arc<Config>,
    channel: Channel,
    state: State,
    misses: u8,
    menu_misses: u8,
    answered_once: bool,
    /// What the last turn said (repeated while a question is pending).
    last_said: Vec<Action>,
    /// The last answer given (repeated on "kan du gentage").
    last_answer: Vec<Action>,
    outcome: Outcome,
    /// Whether an SMS can reach this citizen (a caller's mobile number).
    sms_to_caller: bool,
}

/// Menu misunderstandings before the switchboard takes over.
const MENU_TRIES: u8 = 2;
/// A second candidate is asked about only if its score is at least this
/// share of the best one's.
const SECOND_CANDIDATE_SHARE: f32 = 0.5;

/// `s` with a lower-case first letter, unless its first word is an
/// acronym or a name with capitals inside ("MitID", "EU", "NemKonto").
fn lower_first(s: &str) -> String {
    let first_word = s.split_whitespace().next().unwrap_or("");
    let mut chars = first_word.chars();
    match chars.next() {
        Some(a) if a.is_uppercase() && !chars.any(char::is_uppercase) => {
            a.to_lowercase().chain(s[a.len_utf8()..].chars()).collect()
        }
        _ => s.to_string(),
    }
}

/// A yes/no question on the phone with the keys that answer it; the
/// chat shows buttons instead.
fn with_keys(mut t: Text) -> Text {
    let sep = if t.spoken.is_empty() { "" } else { " " };
    t.spoken = format!("{}{sep}Tryk 1 for ja eller 2 for nej.", t.spoken);
    t
}

/// Per-turn working data.
struct Step<'a> {
    now: &'a Zoned,
    actions: Vec<Action>,
    topic: Option<String>,
    answer_id: Option<String>,
    confidence: Option<f32>,
    decision: Option<Decision>,
}

impl Dialogue {
    /// A new conversation over a configuration snapshot; the channel is
    /// set by [`Event::Started`].
    pub fn new(config: Arc<Config>) -> Dialogue {
        Dialogue {
            config,
            channel: Channel::Voice,
            state: State::NotStarted,
            misses: 0,
            menu_misses: 0,
            answered_once: false,
            last_said: Vec::new(),
            last_answer: Vec::new(),
            outcome: Outcome::InProgress,
            sms_to_caller: true,
        }
    }

    /// Whether an SMS can be sent to this citizen (default: yes). A phone
    /// front end says no when the caller's number is not a Danish mobile
    /// number, or when no SMS gateway is set up; then nothing is offered
    /// by SMS.
    pub fn set_sms_to_caller(&mut self, possible: bool) {
        self.sms_to_caller = possible;
    }

    /// How the conversation has gone so far.
    pub fn outcome(&self) -> &Outcome {
        &self.outcome
    }

    /// Chat: the number asked for by the last [`Action::AskNumber`], while
    /// the citizen's next text is that number.
    pub fn awaiting_number(&self) -> Option<&NumberPurpose> {
        match &self.state {
            State::AwaitingNumber { purpose, .. } => Some(purpose),
            _ => None,
        }
    }

    /// Chat: a callback's time window is being chosen (the front end still
    /// holds the number).
    pub fn choosing_window(&self) -> bool {
        matches!(self.state, State::ChoosingWindow { .. })
    }

    /// Feeds one event at `now`; returns what to do.
    pub fn step(&mut self, event: Event<'_>, now: Timestamp) -> Turn {
        let now = now.to_zoned(self.config.time_zone.clone());
        let mut s = Step {
            now: &now,
            actions: Vec::new(),
            topic: None,
            answer_id: None,
            confidence: None,
            decision: None,
        };
        self.handle(event, &mut s);
        if s.actions.iter().any(|a| matches!(a, Action::Say(_)))
            && !matches!(event, Event::Utterance(u) if understand::is_repeat(u.expose()))
        {
            self.last_said = s
                .actions
                .iter()
                .filter(|a| {
                    matches!(
                        a,
                        Action::Say(_) | Action::ShowButtons(_) | Action::ShowLinks(_)
                    )
                })
                .cloned()
                .collect();
        }
        let out_of_hours = self
            .config
            .departments
            .get(&self.config.flow.switchboard)
            .is_some_and(|d| !self.config.departments.phone_status(d, &now).open_now);
        Turn {
            actions: s.actions,
            topic: s.topic,
            answer_id: s.answer_id,
            confidence: s.confidence,
            decision: s.decision,
            outcome: self.outcome.clone(),
            out_of_hours,
        }
    }

    fn handle(&mut self, event: Event<'_>, s: &mut Step<'_>) {
        if matches!(self.state, State::Ended) {
            return;
        }
        if let State::Transferring { .. } = self.state {
            return self.while_transferring(event, s);
        }
        match event {
            Event::Started { channel } => {
                self.channel = channel;
                self.state = State::Listening;
                let greeting = self.prompt("greeting", &[]);
                self.say(s, "greeting", greeting, true);
                self.listen(s, false);
            }
            Event::Ended => {
                if self.outcome == Outcome::InProgress {
                    self.outcome = Outcome::Abandoned;
                }
                self.state = State::Ended;
            }
            Event::Utterance(u) => self.utterance(u.expose(), s),
            Event::Dtmf(d) => self.key(d, s),
            Event::Button(id) => self.button(id, s),
            Event::NoInput => self.no_input(s),
            Event::SpeechUnavailable => self.speech_unavailable(s),
            Event::SmsConsent(yes) => {
                if let State::OfferingSms { .. } = self.state {
                    self.sms_answer(yes, s);
                }
            }
            Event::Number(reply) => self.number_reply(reply, s),
            Event::SmsResult { sent } => {
                if !sent {
                    if self.outcome == Outcome::SmsSent {
                        self.outcome = Outcome::Answered;
                    }
                    let t = self.prompt("sms_failed", &[]);
                    self.say(s, "sms_failed", t, true);
                    self.anything_else(s);
                }
            }
            // Only meaningful while transferring (handled above).
            Event::TransferFailed => {}
        }
    }

    fn utterance(&mut self, text: &str, s: &mut Step<'_>) {
        let flow = &self.config.flow;
        if understand::is_emergency(text, &flow.emergency_words) {
            return self.emergency(s);
        }
        if understand::is_repeat(text) {
            if matches!(self.state, State::Listening) && !self.last_answer.is_empty() {
                s.actions.extend(self.last_answer.iter().cloned());
                let t = self.prompt("anything_else", &[]);
                self.say(s, "anything_else", t, true);
            } else {
                s.actions.extend(self.last_said.iter().cloned());
            }
            let dtmf = matches!(self.state, State::Menu { .. });
            return self.listen(s, dtmf);
        }
        if matches!(
            self.state,
            State::AwaitingNumber { .. } | State::ChoosingWindow { .. }
        ) {
            // Text while a number or a window was asked for, which the
            // front end did not take as the answer: a new question.
            self.state = State::Listening;
        }
        match self.state.clone() {
            State::Confirming { candidates, index } => {
                if let Some(yes) = understand::yes_no(text) {
                    return self.confirmed(yes, &candidates, index, s);
                }
            }
            State::OfferingSms { .. } => {
                if let Some(yes) = understand::yes_no(text) {
                    return self.sms_answer(yes, s);
                }
            }
            State::OfferingCallback { .. } => {
                if let Some(yes) = understand::yes_no(text) {
                    return self.callback_answer(yes, s);
                }
            }
            _ => {}
        }
        if understand::is_goodbye(text) {
            return self.goodbye(s);
        }
        if self.answered_once && matches!(self.state, State::Listening) {
            match understand::yes_no(text) {
                Some(false) => return self.goodbye(s),
                Some(true) if text.split_whitespace().count() <= 3 => {
                    let t = self.prompt("go_ahead", &[]);
                    self.say(s, "go_ahead", t, true);
                    return self.listen(s, false);
                }
                _ => {}
            }
        }
        if let Some(dept) = self.department_asked_for(text) {
            if dept == self.config.flow.switchboard {
                return self.hand_to_switchboard(s);
            }
            return self.route(&dept, None, s);
        }
        if understand::is_human_request(text) {
            return self.hand_to_switchboard(s);
        }
        let thresholds = self.config.thresholds();
        let m = match self
            .config
            .matcher
            .find_with(text, self.channel, thresholds)
        {
            Ok(m) => m,
            // The index could not be searched: treat as not understood.
            Err(_) => return self.miss(s),
        };
        s.topic = Some(m.topic.clone());
        s.answer_id.clone_from(&m.answer_id);
        s.confidence = Some(m.confidence);
        s.decision = Some(m.decision);
        // The matcher decides `handover` for these special topics; any
        // confidence worth a question is enough to act on them at once.
        let sure_enough = m.confidence >= thresholds.confirm;
        if m.topic == TOPIC_EMERGENCY && sure_enough {
            return self.emergency(s);
        }
        if m.topic == TOPIC_HUMAN && sure_enough {
            return self.hand_to_switchboard(s);
        }
        match m.decision {
            Decision::Answer => self.deliver(&m.topic, m.answer_id.as_deref(), s),
            Decision::Confirm => {
                let best = m.candidates.first().map_or(0.0, |c| c.score);
                let candidates: Vec<Pending> = m
                    .candidates
                    .iter()
                    .enumerate()
                    .filter(|(i, c)| {
                        c.topic != TOPIC_NONE
                            && c.topic != TOPIC_HUMAN
                            && c.topic != TOPIC_EMERGENCY
                            && (*i == 0 || c.score >= best * SECOND_CANDIDATE_SHARE)
                    })
                    .take(2)
                    .map(|(_, c)| Pending {
                        topic: c.topic.clone(),
                        answer_id: c.answer_id.clone(),
                    })
                    .collect();
                if candidates.is_empty() {
                    return self.miss(s);
                }
                self.ask_confirm(candidates, 0, s);
            }
            Decision::Handover => self.miss(s),
        }
    }

    fn ask_confirm(&mut self, candidates: Vec<Pending>, index: usize, s: &mut Step<'_>) {
        let Some(c) = candidates.get(index) else {
            return self.miss(s);
        };
        let label = self.topic_label(&c.topic);
        let t = self.prompt("confirm", &[("emne", &Text::same(label))]);
        self.say(s, "confirm", t, true);
        if self.channel == Channel::Chat {
            s.actions.push(Action::ShowButtons(vec![
                Button {
                    id: "ja".into(),
                    label: "Ja".into(),
                },
                Button {
                    id: "nej".into(),
                    label: "Nej".into(),
                },
            ]));
        }
        self.state = State::Confirming { candidates, index };
        self.listen(s, false);
    }

    fn confirmed(&mut self, yes: bool, candidates: &[Pending], index: usize, s: &mut Step<'_>) {
        if yes {
            let c = candidates[index.min(candidates.len().saturating_sub(1))].clone();
            s.topic = Some(c.topic.clone());
            s.answer_id.clone_from(&c.answer_id);
            s.decision = Some(Decision::Answer);
            self.deliver(&c.topic, c.answer_id.as_deref(), s);
        } else if index + 1 < candidates.len() {
            self.ask_confirm(candidates.to_vec(), index + 1, s);
        } else {
            self.state = State::Listening;
            self.miss(s);
        }
    }

    /// The topic's name in the confirming question: the override's label,
    /// else the label from topics.yaml up to its first comma, with a lower-case start.
    fn topic_label(&self, topic: &str) -> String {
        if let Some(l) = self
            .config
            .flow
            .override_for(topic)
            .and_then(|o| o.label.clone())
        {
            return l;
        }
        let label = self
            .config
            .knowledge
            .taxonomy()
            .topic(topic)
            .map_or(topic, |t| t.label.as_str());
        lower_first(label.split(',').next().unwrap_or(label).trim())
    }

    /// Gives the answer of `topic` (or its override).
    fn deliver(&mut self, topic: &str, answer_id: Option<&str>, s: &mut Step<'_>) {
        self.misses = 0;
        self.menu_misses = 0;
        let config = Arc::clone(&self.config);
        let ov = config.flow.override_for(topic);
        if let Some(dept) = ov.and_then(|o| o.transfer.as_deref()) {
            return self.route(dept, Some(topic), s);
        }
        let answer = ov
            .and_then(|o| o.answer.as_deref())
            .or(answer_id)
            .and_then(|id| config.matcher.answer(id))
            .or_else(|| config.knowledge.answers().iter().find(|a| a.topic == topic));
        let Some(answer) = answer else {
            return self.miss(s);
        };
        s.topic = Some(topic.to_string());
        s.answer_id = Some(answer.id.clone());
        let text = Text {
            chat: answer.chat.clone(),
            spoken: answer.spoken.clone(),
        };
        let first = s.actions.len();
        self.say(s, "", text, true);
        if self.channel == Channel::Chat && !answer.links.is_empty() {
            s.actions.push(Action::ShowLinks(answer.links.clone()));
        }
        self.last_answer = s.actions[first..].to_vec();
        self.answered_once = true;
        if matches!(self.outcome, Outcome::InProgress | Outcome::Abandoned) {
            self.outcome = Outcome::Answered;
        }
        // A caller gets the SMS on the number they call from (when it is
        // a mobile number); in chat the citizen types a number after
        // saying yes (see `contact.rs`).
        let sms = match self.channel {
            Channel::Voice if !self.sms_to_caller => None,
            Channel::Voice | Channel::Chat => {
                self.sms_for(answer, ov.and_then(|o| o.sms.as_deref()))
            }
        };
        if let Some(sms) = sms {
            return self.offer_sms(
                Some(answer.id.clone()),
                answer.links.first().map(|l| l.url.clone()),
                sms,
                s,
            );
        }
        self.anything_else(s);
    }

    /// The SMS text for an answer: the override's, else the first link's.
    fn sms_for(&self, answer: &Answer, custom: Option<&str>) -> Option<Text> {
        let link = answer.links.first();
        let dynamic_link = Text::same(link.map_or("", |l| l.url.as_str()));
        let title = Text::same(link.map_or(answer.title.as_str(), |l| l.title.as_str()));
        let dynamic = [("link", &dynamic_link), ("titel", &title)];
        if let Some(custom) = custom {
            return Some(text::render(
                custom,
                self.config.knowledge.settings(),
                &dynamic,
            ));
        }
        link?;
        Some(self.prompt("sms_text", &dynamic))
    }

    fn offer_sms(
        &mut self,
        answer_id: Option<String>,
        url: Option<String>,
        sms: Text,
        s: &mut Step<'_>,
    ) {
        let t = self.prompt("offer_sms", &[]);
        self.say(s, "offer_sms", with_keys(t), true);
        s.actions.push(Action::OfferSms {
            answer_id: answer_id.clone(),
            url,
        });
        if self.channel == Channel::Chat {
            s.actions.push(Action::ShowButtons(vec![
                Button {
                    id: "sms:ja".into(),
                    label: "Ja tak".into(),
                },
                Button {
                    id: "sms:nej".into(),
                    label: "Nej tak".into(),
                },
            ]));
        }
        self.state = State::OfferingSms {
            answer_id,
            text: sms,
        };
        self.listen(s, false);
    }

    fn sms_answer(&mut self, yes: bool, s: &mut Step<'_>) {
        let State::OfferingSms { answer_id, text } =
            std::mem::replace(&mut self.state, State::Listening)
        else {
            return;
        };
        if yes && self.channel == Channel::Chat {
            return self.ask_sms_number(answer_id, s);
        }
        if yes {
            s.actions.push(Action::SendSms {
                answer_id,
                text: text.chat,
            });
            self.outcome = Outcome::SmsSent;
            let t = self.prompt("sms_sent", &[]);
            self.say(s, "sms_sent", t, true);
        } else {
            let t = self.prompt("sms_declined", &[]);
            self.say(s, "sms_declined", t, true);
        }
        self.anything_else(s);
    }

    fn anything_else(&mut self, s: &mut Step<'_>) {
        self.state = State::Listening;
        let t = self.prompt("anything_else", &[]);
        self.say(s, "anything_else", t, true);
        self.listen(s, false);
    }

    /// Transfer (voice) or hand over (chat) to `dept`, if it is open.
    fn route(&mut self, dept_id: &str, topic: Option<&str>, s: &mut Step<'_>) {
        let config = Arc::clone(&self.config);
        let Some(dept) = config.departments.get(dept_id) else {
            return self.miss(s);
        };
        let status = config.departments.phone_status(dept, s.now);
        let name = Text::same(dept.name.clone());
        let vars = |opens: &Text| {
            [
                ("afdeling", name.clone()),
                ("telefon", dept.phone.clone()),
                ("aabner", opens.clone()),
            ]
        };
        let opens = status.opens.clone().unwrap_or_default();
        let v = vars(&opens);
        let v: Vec<(&str, &Text)> = v.iter().map(|(n, t)| (*n, t)).collect();
        if status.open_now {
            if self.channel == Channel::Voice {
                let t = self.prompt("transfer", &v);
                self.say(s, "transfer", t, false);
                let label = topic.map(|t| self.topic_label(t));
                let summary = format!(
                    "{}; emne {}; svar {}; sikkerhed {}; {} misforståelser; telefon",
                    label.as_deref().unwrap_or("ukendt emne"),
                    topic.unwrap_or("-"),
                    s.answer_id.as_deref().unwrap_or("-"),
                    s.confidence.map_or("-".to_string(), |c| format!("{c:.2}")),
                    self.misses,
                );
                s.actions.push(Action::Transfer {
                    department: dept.id.clone(),
                    sip_uri: dept.sip_uri.clone(),
                    topic: topic.map(str::to_string),
                    summary,
                });
                self.outcome = Outcome::Transferred(dept.id.clone());
                self.state = State::Transferring {
                    department: dept.id.clone(),
                    topic: topic.map(str::to_string),
                };
                return;
            }
            let t = self.prompt("handover", &v);
            self.say(s, "handover", t, true);
            s.actions.push(Action::Handover {
                department: dept.id.clone(),
                name: dept.name.clone(),
                phone: dept.phone.chat.clone(),
                open_now: true,
                opens: None,
                callback: false,
            });
            self.outcome = Outcome::HandedOver(dept.id.clone());
            self.state = State::Listening;
            return self.listen(s, false);
        }
        let (key, t) = if status.opens.is_some() {
            ("closed", self.prompt("closed", &v))
        } else {
            ("closed_long", self.prompt("closed_long", &v))
        };
        self.say(s, key, t, true);
        // In chat a callback needs a time window on a coming phone day.
        let callback = config.flow.out_of_hours.offer_callback
            && (self.channel == Channel::Voice || status.opens.is_some());
        s.actions.push(Action::Handover {
            department: dept.id.clone(),
            name: dept.name.clone(),
            phone: dept.phone.chat.clone(),
            open_now: false,
            opens: status.opens.as_ref().map(|o| o.chat.clone()),
            callback,
        });
        self.outcome = Outcome::HandedOver(dept.id.clone());
        if config.flow.out_of_hours.offer_sms && self.sms_to_caller {
            if let Some(topic) = topic {
                let ov = config.flow.override_for(topic);
                let answer = ov
                    .and_then(|o| o.answer.as_deref())
                    .and_then(|id| config.matcher.answer(id))
                    .or_else(|| {
                        config
                            .knowledge
                            .answers()
                            .iter()
                            .find(|a| a.topic == topic && !a.links.is_empty())
                    });
                if let Some(a) = answer {
                    if let Some(sms) = self.sms_for(a, ov.and_then(|o| o.sms.as_deref())) {
                        s.answer_id = Some(a.id.clone());
                        return self.offer_sms(
                            Some(a.id.clone()),
                            a.links.first().map(|l| l.url.clone()),
                            sms,
                            s,
                        );
                    }
                }
            }
        }
        if callback {
            let t = self.prompt("callback", &v);
            self.say(s, "callback", t, true);
            if self.channel == Channel::Chat {
                s.actions.push(Action::ShowButtons(vec![
                    Button {
                        id: "callback:ja".into(),
                        label: "Ring mig op".into(),
                    },
                    Button {
                        id: "callback:nej".into(),
                        label: "Nej tak".into(),
                    },
                ]));
            }
            self.state = State::OfferingCallback {
                department: dept.id.clone(),
                opens: status.opens.map(|o| o.chat),
            };
            return self.listen(s, false);
        }
        self.state = State::Listening;
        self.listen(s, false);
    }

    fn callback_answer(&mut self, yes: bool, s: &mut Step<'_>) {
        let State::OfferingCallback { department, opens } =
            std::mem::replace(&mut self.state, State::Listening)
        else {
            return;
        };
        if yes && self.channel == Channel::Chat {
            return self.ask_callback_number(department, s);
        }
        if yes {
            let name = self
                .config
                .departments
                .get(&department)
                .map_or(department.clone(), |d| d.name.clone());
            let t = self.prompt("callback_booked", &[("afdeling", &Text::same(name))]);
            self.say(s, "callback_booked", t, true);
            s.actions.push(Action::Callback { department, opens });
        } else {
            let t = self.prompt("sms_declined", &[]);
            self.say(s, "sms_declined", t, true);
        }
        self.anything_else(s);
    }

    /// The department named in a request to be put through ("stil mig om
    /// til jobcentret"), by its name or one of its synonyms.
    fn department_asked_for(&self, text: &str) -> Option<String> {
        let asked = understand::transfer_request(text)?;
        self.config
            .departments
            .iter()
            .find(|d| {
                std::iter::once(&d.name)
                    .chain(&d.synonyms)
                    .any(|n| understand::names(&asked, n))
            })
            .map(|d| d.id.clone())
    }

    fn hand_to_switchboard(&mut self, s: &mut Step<'_>) {
        s.topic = Some(TOPIC_HUMAN.to_string());
        let sb = self.config.flow.switchboard.clone();
        self.route(&sb, None, s);
    }

    fn emergency(&mut self, s: &mut Step<'_>) {
        s.topic = Some(TOPIC_EMERGENCY.to_string());
        let t = self.prompt("emergency", &[]);
        self.say(s, "emergency", t, false);
        self.outcome = Outcome::Emergency;
        if self.channel == Channel::Voice {
            s.actions.push(Action::End);
            self.state = State::Ended;
        } else {
            self.state = State::Listening;
            self.listen(s, false);
        }
    }

    fn goodbye(&mut self, s: &mut Step<'_>) {
        let t = self.prompt("goodbye", &[]);
        self.say(s, "goodbye", t, false);
        s.actions.push(Action::End);
        if self.outcome == Outcome::InProgress {
            self.outcome = Outcome::Abandoned;
        }
        self.state = State::Ended;
    }

    /// Not understood: ask again, or after too many tries show the menu.
    fn miss(&mut self, s: &mut Step<'_>) {
        if let State::Menu { menu } = self.state {
            return self.menu_miss(menu, s);
        }
        self.misses = self.misses.saturating_add(1);
        self.state = State::Listening;
        if self.misses >= self.config.flow.tries_before_menu {
            return self.show_menu(0, true, s);
        }
        let t = self.prompt("reprompt", &[]);
        self.say(s, "reprompt", t, true);
        self.listen(s, false);
    }

    /// Recognition was refused for lack of a free slot: the keys work
    /// without it, so the caller goes to the menu (its current one, or the
    /// main menu) rather than being asked to speak again.
    fn speech_unavailable(&mut self, s: &mut Step<'_>) {
        if self.channel == Channel::Chat {
            return;
        }
        let menu = match self.state {
            State::Menu { menu } => menu,
            _ => 0,
        };
        let t = self.prompt("speech_busy", &[]);
        self.say(s, "speech_busy", t, true);
        self.show_menu(menu, false, s);
    }

    fn no_input(&mut self, s: &mut Step<'_>) {
        if self.channel == Channel::Chat {
            return;
        }
        match self.state.clone() {
            State::Menu { menu } => self.menu_miss(menu, s),
            State::OfferingSms { .. } => self.sms_answer(false, s),
            State::OfferingCallback { .. } => self.callback_answer(false, s),
            State::Confirming { candidates, index } => {
                // Ask the same question again, unless it is time for the menu.
                self.misses = self.misses.saturating_add(1);
                if self.misses >= self.config.flow.tries_before_menu {
                    return self.show_menu(0, true, s);
                }
                self.ask_confirm(candidates, index, s);
            }
            _ => {
                self.misses = self.misses.saturating_add(1);
                if self.misses >= self.config.flow.tries_before_menu {
                    return self.show_menu(0, true, s);
                }
                self.state = State::Listening;
                let t = self.prompt("no_input", &[]);
                self.say(s, "no_input", t, true);
                self.listen(s, false);
            }
        }
    }

    /// A prompt rendered for this conversation's channel.
    fn prompt(&self, name: &str, dynamic: &[(&str, &Text)]) -> Text {
        let flow = &self.config.flow;
        let template = flow
            .prompts
            .named()
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, t)| *t)
            .to_string();
        text::render(&template, self.config.knowledge.settings(), dynamic)
    }

    fn say(&self, s: &mut Step<'_>, prompt: &str, text: Text, barge_in: bool) {
        s.actions.push(Action::Say(Say {
            text: text.for_channel(self.channel).to_string(),
            recording: self.config.flow.recordings.get(prompt).cloned(),
            barge_in,
        }));
    }

    fn listen(&self, s: &mut Step<'_>, dtmf: bool) {
        let timeout = (self.channel == Channel::Voice).then_some(self.config.flow.no_input);
        s.actions.push(Action::Listen {
            timeout,
            dtmf: dtmf || self.channel == Channel::Voice,
        });
    }
}
