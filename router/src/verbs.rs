//! The engine's actions as JSON verbs, for front ends that hand them to
//! someone else: `vejviser call --json` prints them, and the webhook front
//! end returns them to the telephony platform (`docs/webhook.md`).
//!
//! One [`Verb`] per [`Action`], in the same order, tagged by `"type"`:
//!
//! | type        | fields |
//! |-------------|--------|
//! | `say`       | `text` (the spoken text), `recording` (a recorded prompt's name or null), `barge_in`, `audio_url` (null unless the front end serves audio) |
//! | `gather`    | `timeout_ms` (no-input timeout, null in chat), `dtmf` (keys are expected), `speech` |
//! | `buttons`   | `buttons`: `[{id, label}]` (chat only) |
//! | `links`     | `links`: `[{title, url}]` (chat only) |
//! | `offer_sms` | `answer_id`, `url`: the caller was asked whether they want the link by SMS |
//! | `sms`       | `answer_id`, `text` (the message), `to` (null unless the front end knows the caller's number) |
//! | `transfer`  | `department`, `sip_uri`, `phone` (the department's public number), `topic`, `summary` |
//! | `handover`  | `department`, `name`, `phone`, `open_now`, `opens`, `callback` |
//! | `callback`  | `department`, `opens` |
//! | `ask_number`| `purpose` (`sms` or `callback`), `answer_id`, `url`, `department`: the citizen is asked to type a phone number (chat) |
//! | `book_callback` | `department`, `date`, `from`, `to` (local time), `label`: store a callback request (chat) |
//! | `hangup`    | — |
//!
//! Every field is always present (null when empty), so a consumer can
//! rely on the shape. Nothing here is built from what the citizen said:
//! the texts are prompts and answers, the transfer summary names topic,
//! answer id and counts only.

use serde::Serialize;

use crate::departments::Directory;
use crate::dialogue::{Action, NumberPurpose};

/// One action, in the JSON shape documented in the module.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Verb {
    Say {
        text: String,
        recording: Option<String>,
        barge_in: bool,
        audio_url: Option<String>,
    },
    Gather {
        timeout_ms: Option<u64>,
        dtmf: bool,
        speech: bool,
    },
    Buttons {
        buttons: Vec<ButtonVerb>,
    },
    Links {
        links: Vec<LinkVerb>,
    },
    OfferSms {
        answer_id: Option<String>,
        url: Option<String>,
    },
    Sms {
        answer_id: Option<String>,
        text: String,
        to: Option<String>,
    },
    Transfer {
        department: String,
        sip_uri: String,
        phone: Option<String>,
        topic: Option<String>,
        summary: String,
    },
    Handover {
        department: String,
        name: String,
        phone: String,
        open_now: bool,
        opens: Option<String>,
        callback: bool,
    },
    Callback {
        department: String,
        opens: Option<String>,
    },
    AskNumber {
        purpose: &'static str,
        answer_id: Option<String>,
        url: Option<String>,
        department: Option<String>,
    },
    BookCallback {
        department: String,
        date: String,
        from: String,
        to: String,
        label: String,
    },
    Hangup,
}

/// A chat button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ButtonVerb {
    pub id: String,
    pub label: String,
}

/// A link of an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkVerb {
    pub title: String,
    pub url: String,
}

impl Verb {
    /// The verb for `action`; `departments` gives a transfer's public number.
    pub fn from_action(action: &Action, departments: &Directory) -> Verb {
        match action {
            Action::Say(say) => Verb::Say {
                text: say.text.clone(),
                recording: say.recording.clone(),
                barge_in: say.barge_in,
                audio_url: None,
            },
            Action::Listen { timeout, dtmf } => Verb::Gather {
                timeout_ms: timeout.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
                dtmf: *dtmf,
                speech: true,
            },
            Action::ShowButtons(buttons) => Verb::Buttons {
                buttons: buttons
                    .iter()
                    .map(|b| ButtonVerb {
                        id: b.id.clone(),
                        label: b.label.clone(),
                    })
                    .collect(),
            },
            Action::ShowLinks(links) => Verb::Links {
                links: links
                    .iter()
                    .map(|l| LinkVerb {
                        title: l.title.clone(),
                        url: l.url.clone(),
                    })
                    .collect(),
            },
            Action::OfferSms { answer_id, url } => Verb::OfferSms {
                answer_id: answer_id.clone(),
                url: url.clone(),
            },
            Action::SendSms { answer_id, text } => Verb::Sms {
                answer_id: answer_id.clone(),
                text: text.clone(),
                to: None,
            },
            Action::Transfer {
                department,
                sip_uri,
                topic,
                summary,
            } => Verb::Transfer {
                department: department.clone(),
                sip_uri: sip_uri.clone(),
                phone: departments.get(department).map(|d| d.phone.chat.clone()),
                topic: topic.clone(),
                summary: summary.clone(),
            },
            Action::Handover {
                department,
                name,
                phone,
                open_now,
                opens,
                callback,
            } => Verb::Handover {
                department: department.clone(),
                name: name.clone(),
                phone: phone.clone(),
                open_now: *open_now,
                opens: opens.clone(),
                callback: *callback,
            },
            Action::Callback { department, opens } => Verb::Callback {
                department: department.clone(),
                opens: opens.clone(),
            },
            Action::AskNumber { purpose } => match purpose {
                NumberPurpose::Sms { answer_id, url } => Verb::AskNumber {
                    purpose: "sms",
                    answer_id: Some(answer_id.clone()),
                    url: Some(url.clone()),
                    department: None,
                },
                NumberPurpose::Callback { department } => Verb::AskNumber {
                    purpose: "callback",
                    answer_id: None,
                    url: None,
                    department: Some(department.clone()),
                },
            },
            Action::BookCallback { department, window } => Verb::BookCallback {
                department: department.clone(),
                date: window.date.to_string(),
                from: window.from.strftime("%H:%M").to_string(),
                to: window.to.strftime("%H:%M").to_string(),
                label: window.label.clone(),
            },
            Action::End => Verb::Hangup,
        }
    }

    /// The verbs for a turn's actions, in order.
    pub fn from_actions(actions: &[Action], departments: &Directory) -> Vec<Verb> {
        actions
            .iter()
            .map(|a| Verb::from_action(a, departments))
            .collect()
    }

    /// Whether the call is over after this verb. A transfer is not: the
    /// front end may still report that it failed.
    pub fn ends_call(&self) -> bool {
        matches!(self, Verb::Hangup)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::dialogue::Say;

    #[test]
    fn verbs_have_a_stable_json_shape() {
        let directory = Directory::default();
        let verbs = Verb::from_actions(
            &[
                Action::Say(Say {
                    text: "Hej".into(),
                    recording: None,
                    barge_in: true,
                }),
                Action::Listen {
                    timeout: Some(Duration::from_secs(6)),
                    dtmf: true,
                },
                Action::Transfer {
                    department: "jobcenter".into(),
                    sip_uri: "sip:jobcenter@pbx".into(),
                    topic: None,
                    summary: "ukendt emne".into(),
                },
                Action::End,
            ],
            &directory,
        );
        let json = serde_json::to_value(&verbs).expect("serialises");
        assert_eq!(
            json,
            serde_json::json!([
                {"type": "say", "text": "Hej", "recording": null, "barge_in": true, "audio_url": null},
                {"type": "gather", "timeout_ms": 6000, "dtmf": true, "speech": true},
                {"type": "transfer", "department": "jobcenter", "sip_uri": "sip:jobcenter@pbx",
                 "phone": null, "topic": null, "summary": "ukendt emne"},
                {"type": "hangup"},
            ])
        );
        assert!(!verbs[2].ends_call() && verbs[3].ends_call() && !verbs[0].ends_call());
    }
}
