//! Chat only: asking for a typed phone number, for an SMS link or a
//! callback, and choosing the callback's time window.
//!
//! The number never enters the engine. After [`Action::AskNumber`] the chat
//! front end takes the citizen's next text itself, parses it, stores the SMS
//! in the outbox (or keeps the number for the callback), and reports only
//! the outcome as [`Event::Number`]. A callback then asks for a window on
//! the department's next phone day (before and after noon) and returns
//! [`Action::BookCallback`] ahead of the confirmation, so the front end
//! stores the request before the citizen reads that it is booked.
//!
//! [`Event::Number`]: super::Event::Number

use jiff::civil::{time, Time};
use jiff::Zoned;

use super::protocol::{Action, Button, CallbackWindow, NumberPurpose, NumberReply};
use super::{Dialogue, Outcome, State, Step};
use crate::departments::{Department, Directory};
use crate::text::{self, Text};

/// Numbers that could not be used before the chat stops asking.
const NUMBER_TRIES: u8 = 3;
/// The button that cancels a number or a window choice.
pub(super) const CANCEL_BUTTON: &str = "nummer:fortryd";
/// Prefix of the window buttons: `vindue:0`, `vindue:1`.
pub(super) const WINDOW_BUTTON: &str = "vindue:";

/// The callback windows on `dept`'s next phone day: the hours before noon
/// and those after, each only if the department answers the phone then.
pub(crate) fn callback_windows(
    departments: &Directory,
    dept: &Department,
    now: &Zoned,
) -> Vec<CallbackWindow> {
    let Some((day, start, end)) = departments.next_phone_day(dept, now) else {
        return Vec::new();
    };
    let noon = time(12, 0, 0, 0);
    let (day_text, _) = text::day_phrase(now.date(), day);
    let window = |from: Time, to: Time| CallbackWindow {
        date: day,
        from,
        to,
        label: format!(
            "{day_text} mellem {} og {}",
            text::clock(from).chat,
            text::clock(to).chat
        ),
    };
    let mut out = Vec::new();
    if start < noon {
        out.push(window(start, end.min(noon)));
    }
    if end > noon {
        out.push(window(start.max(noon), end));
    }
    out
}

/// "i morgen …" → "I morgen …" for a button.
fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl Dialogue {
    /// Chat: "ja" to the SMS. Asks for a mobile number for the answer's
    /// first link.
    pub(super) fn ask_sms_number(&mut self, answer_id: Option<String>, s: &mut Step<'_>) {
        let url = answer_id
            .as_deref()
            .and_then(|id| self.config.matcher.answer(id))
            .and_then(|a| a.links.first().map(|l| l.url.clone()));
        match (answer_id, url) {
            (Some(answer_id), Some(url)) => {
                self.ask_number(NumberPurpose::Sms { answer_id, url }, 0, s);
            }
            // An override's own SMS text without a link of its answer:
            // nothing the outbox could send.
            _ => {
                let t = self.prompt("sms_failed", &[]);
                self.say(s, "sms_failed", t, true);
                self.anything_else(s);
            }
        }
    }

    /// Chat: "ja" to the callback. Asks for the number to call.
    pub(super) fn ask_callback_number(&mut self, department: String, s: &mut Step<'_>) {
        self.ask_number(NumberPurpose::Callback { department }, 0, s);
    }

    fn ask_number(&mut self, purpose: NumberPurpose, tries: u8, s: &mut Step<'_>) {
        if tries == 0 {
            let (name, t) = match &purpose {
                NumberPurpose::Sms { .. } => ("ask_number", self.prompt("ask_number", &[])),
                NumberPurpose::Callback { department } => {
                    let name = Text::same(self.department_name(department));
                    (
                        "ask_callback_number",
                        self.prompt("ask_callback_number", &[("afdeling", &name)]),
                    )
                }
            };
            self.say(s, name, t, true);
        }
        s.actions.push(Action::AskNumber {
            purpose: purpose.clone(),
        });
        s.actions.push(Action::ShowButtons(vec![Button {
            id: CANCEL_BUTTON.into(),
            label: "Fortryd".into(),
        }]));
        self.state = State::AwaitingNumber { purpose, tries };
        self.listen(s, false);
    }

    fn department_name(&self, id: &str) -> String {
        self.config
            .departments
            .get(id)
            .map_or_else(|| id.to_string(), |d| d.name.clone())
    }

    /// What the front end did with the typed number.
    pub(super) fn number_reply(&mut self, reply: NumberReply, s: &mut Step<'_>) {
        let (purpose, tries) = match &self.state {
            State::AwaitingNumber { purpose, tries } => (purpose.clone(), *tries),
            State::ChoosingWindow { .. } if reply == NumberReply::Cancelled => {
                return self.number_cancelled(s);
            }
            _ => return,
        };
        match reply {
            NumberReply::Accepted => match purpose {
                NumberPurpose::Sms { .. } => {
                    self.outcome = Outcome::SmsSent;
                    let t = self.prompt("sms_sent", &[]);
                    self.say(s, "sms_sent", t, true);
                    self.anything_else(s);
                }
                NumberPurpose::Callback { department } => self.ask_window(department, s),
            },
            NumberReply::Invalid { reply } => {
                let tries = tries.saturating_add(1);
                if tries >= NUMBER_TRIES {
                    let t = self.prompt("number_given_up", &[]);
                    self.say(s, "number_given_up", t, true);
                    return self.anything_else(s);
                }
                let retry = self.prompt("number_retry", &[]);
                let text = format!("{reply} {}", retry.chat);
                self.say(s, "number_retry", Text::same(text), true);
                self.ask_number(purpose, tries, s);
            }
            NumberReply::Cancelled => self.number_cancelled(s),
            NumberReply::RateLimited => self.sms_refused("sms_rate_limited", s),
            NumberReply::AlreadySent => self.sms_refused("sms_already_sent", s),
            NumberReply::Failed => self.sms_refused("sms_failed", s),
        }
    }

    fn number_cancelled(&mut self, s: &mut Step<'_>) {
        let t = self.prompt("sms_declined", &[]);
        self.say(s, "sms_declined", t, true);
        self.anything_else(s);
    }

    fn sms_refused(&mut self, prompt: &str, s: &mut Step<'_>) {
        let t = self.prompt(prompt, &[]);
        self.say(s, prompt, t, true);
        self.anything_else(s);
    }

    fn ask_window(&mut self, department: String, s: &mut Step<'_>) {
        let windows = self
            .config
            .departments
            .get(&department)
            .map(|d| callback_windows(&self.config.departments, d, s.now))
            .unwrap_or_default();
        if windows.is_empty() {
            let t = self.prompt("number_given_up", &[]);
            self.say(s, "number_given_up", t, true);
            return self.anything_else(s);
        }
        let name = Text::same(self.department_name(&department));
        let t = self.prompt("callback_when", &[("afdeling", &name)]);
        self.say(s, "callback_when", t, true);
        let mut buttons: Vec<Button> = windows
            .iter()
            .enumerate()
            .map(|(i, w)| Button {
                id: format!("{WINDOW_BUTTON}{i}"),
                label: capitalised(&w.label),
            })
            .collect();
        buttons.push(Button {
            id: CANCEL_BUTTON.into(),
            label: "Fortryd".into(),
        });
        s.actions.push(Action::ShowButtons(buttons));
        self.state = State::ChoosingWindow {
            department,
            windows,
        };
        self.listen(s, false);
    }

    /// A window button (`vindue:N`) was pressed.
    pub(super) fn window_chosen(&mut self, index: &str, s: &mut Step<'_>) {
        let State::ChoosingWindow {
            department,
            windows,
        } = self.state.clone()
        else {
            return self.miss(s);
        };
        let Some(window) = index
            .parse::<usize>()
            .ok()
            .and_then(|i| windows.get(i).cloned())
        else {
            return self.ask_window(department, s);
        };
        let name = Text::same(self.department_name(&department));
        let when = Text::same(window.label.clone());
        s.actions.push(Action::BookCallback { department, window });
        let t = self.prompt("callback_confirmed", &[("afdeling", &name), ("tid", &when)]);
        self.say(s, "callback_confirmed", t, true);
        self.anything_else(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::departments::Week;
    use jiff::civil::date;
    use jiff::tz::TimeZone;

    fn dept(hours: Option<(Time, Time)>) -> Department {
        Department {
            id: "borgerservice".into(),
            name: "Borgerservice".into(),
            sip_uri: "sip:bs@pbx".into(),
            phone: Text::same("70 10 20 31"),
            opening_hours: Week::default(),
            phone_hours: Week([hours, hours, hours, hours, hours, None, None]),
            closed_on: vec![],
            synonyms: vec![],
        }
    }

    fn at(y: i16, m: i8, d: i8, h: i8) -> Zoned {
        date(y, m, d)
            .at(h, 0, 0, 0)
            .to_zoned(TimeZone::get("Europe/Copenhagen").expect("bundled tz"))
            .expect("valid")
    }

    #[test]
    fn windows_split_the_next_phone_day_at_noon() {
        let d = dept(Some((time(9, 0, 0, 0), time(15, 0, 0, 0))));
        // Tuesday 10 March 2026, 18:00: closed; Wednesday is next.
        let w = callback_windows(&Directory::default(), &d, &at(2026, 3, 10, 18));
        let labels: Vec<&str> = w.iter().map(|w| w.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "i morgen mellem kl. 9 og kl. 12",
                "i morgen mellem kl. 12 og kl. 15"
            ]
        );
        assert_eq!(w[0].date, date(2026, 3, 11));
    }

    #[test]
    fn morning_only_department_gets_one_window_after_the_weekend() {
        let d = dept(Some((time(8, 0, 0, 0), time(11, 30, 0, 0))));
        // Saturday 14 March 2026: next is Monday.
        let w = callback_windows(&Directory::default(), &d, &at(2026, 3, 14, 10));
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].label, "på mandag mellem kl. 8 og kl. 11.30");
    }

    #[test]
    fn before_opening_today_offers_today_and_no_phone_hours_offers_nothing() {
        let d = dept(Some((time(9, 0, 0, 0), time(15, 0, 0, 0))));
        let w = callback_windows(&Directory::default(), &d, &at(2026, 3, 10, 7));
        assert_eq!(w[0].date, date(2026, 3, 10));
        assert!(
            callback_windows(&Directory::default(), &dept(None), &at(2026, 3, 10, 7)).is_empty()
        );
    }
}
