//! What goes into and comes out of the dialogue engine: [`Event`],
//! [`Action`] and the per-turn record [`Turn`].

use std::time::Duration;

use knowledge::{Channel, Decision, Link};
use transcripts::RawUtterance;

/// What happened in the conversation.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// The call was answered or the chat opened.
    Started { channel: Channel },
    /// Recognised speech or typed text.
    Utterance(&'a RawUtterance),
    /// A key pressed on the phone: 0–9, `*`, `#`.
    Dtmf(char),
    /// Nothing was said within the `Listen` timeout.
    NoInput,
    /// The caller spoke, but speech recognition had no free slot in time:
    /// the phone falls back to the DTMF menu at once.
    SpeechUnavailable,
    /// A chat button was pressed; the id of a [`Button`] the engine showed.
    Button(&'a str),
    /// Consent to the offered SMS (chat button, or a front end's own yes/no).
    SmsConsent(bool),
    /// Whether the SMS asked for by [`Action::SendSms`] went out.
    SmsResult { sent: bool },
    /// What became of the number the citizen typed after
    /// [`Action::AskNumber`] (chat). The number itself never enters the
    /// engine: the front end keeps it and reports only the outcome.
    Number(NumberReply),
    /// The transfer asked for by [`Action::Transfer`] failed (refused,
    /// a failure reported by NOTIFY, or no answer in time).
    TransferFailed,
    /// The caller hung up or the chat closed.
    Ended,
}

/// The outcome of a number typed in chat, as the front end reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberReply {
    /// Usable: the SMS is stored in the outbox, or the number is kept for
    /// the callback.
    Accepted,
    /// Not a number that can be used; `reply` says why, in Danish.
    Invalid { reply: &'static str },
    /// The citizen gave up ("fortryd").
    Cancelled,
    /// The outbox refused: this number has had its messages for today.
    RateLimited,
    /// The outbox refused: this link was already sent in this conversation.
    AlreadySent,
    /// Storing failed; nothing will be sent or booked.
    Failed,
}

/// Why a number is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberPurpose {
    /// To send the first link of this answer by SMS (a mobile number).
    Sms { answer_id: String, url: String },
    /// To be called back by this department (any Danish number).
    Callback { department: String },
}

/// A time window for a callback, in local time on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackWindow {
    pub date: jiff::civil::Date,
    pub from: jiff::civil::Time,
    pub to: jiff::civil::Time,
    /// How the window is written to the citizen ("mandag 23. marts mellem 9 og 12").
    pub label: String,
}

/// Something to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Say {
    /// The text for this conversation's channel.
    pub text: String,
    /// A recorded prompt to play instead of speech synthesis.
    pub recording: Option<String>,
    /// Whether the caller may interrupt it.
    pub barge_in: bool,
}

/// A chat button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    /// Sent back in [`Event::Button`].
    pub id: String,
    pub label: String,
}

/// What a front end must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Say(Say),
    /// Wait for speech or text; `timeout` is `None` in chat. `dtmf`: keys are expected.
    Listen {
        timeout: Option<Duration>,
        dtmf: bool,
    },
    ShowButtons(Vec<Button>),
    /// Links of the answer (chat).
    ShowLinks(Vec<Link>),
    /// The citizen was asked whether they want this by SMS.
    OfferSms {
        answer_id: Option<String>,
        url: Option<String>,
    },
    /// Send this SMS to the caller's number (consent given).
    SendSms {
        answer_id: Option<String>,
        text: String,
    },
    /// Transfer the call (SIP REFER) to an open department.
    Transfer {
        department: String,
        sip_uri: String,
        topic: Option<String>,
        /// For the receiving employee; made from topic, ids and counts only.
        summary: String,
    },
    /// Hand over to a person: the department's number and whether it is
    /// open; when closed, when it opens and whether a callback is offered.
    Handover {
        department: String,
        name: String,
        phone: String,
        open_now: bool,
        opens: Option<String>,
        callback: bool,
    },
    /// Register a callback request for when the department opens (the
    /// citizen said yes; the front end has the number or asks for it).
    Callback {
        department: String,
        opens: Option<String>,
    },
    /// Ask the citizen to type a phone number (chat). The front end takes
    /// the next text itself, keeps the number out of the transcript, and
    /// answers with [`Event::Number`].
    AskNumber {
        purpose: NumberPurpose,
    },
    /// Store a callback request (chat): the front end holds the number the
    /// citizen typed; the request must be stored before this turn is shown.
    BookCallback {
        department: String,
        window: CallbackWindow,
    },
    /// Hang up (voice) or close the conversation (chat).
    End,
}

/// How the conversation has gone so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    InProgress,
    Answered,
    SmsSent,
    Transferred(String),
    HandedOver(String),
    Emergency,
    /// Ended without an answer, transfer or handover.
    Abandoned,
}

impl Outcome {
    /// A short stable code for storage and figures ("transferred:jobcenter").
    pub fn code(&self) -> String {
        match self {
            Outcome::InProgress => "in-progress".into(),
            Outcome::Answered => "answered".into(),
            Outcome::SmsSent => "sms-sent".into(),
            Outcome::Transferred(d) => format!("transferred:{d}"),
            Outcome::HandedOver(d) => format!("handed-over:{d}"),
            Outcome::Emergency => "emergency".into(),
            Outcome::Abandoned => "abandoned".into(),
        }
    }
}

/// The result of one step: the actions and what a front end stores about
/// the turn (no utterance text).
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub actions: Vec<Action>,
    pub topic: Option<String>,
    pub answer_id: Option<String>,
    pub confidence: Option<f32>,
    pub decision: Option<Decision>,
    pub outcome: Outcome,
    /// The switchboard was closed at this turn.
    pub out_of_hours: bool,
}
