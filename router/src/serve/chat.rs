//! The citizen chat API: sessions, turns, limits.
//!
//! `POST /api/chat/sessions` opens a conversation and returns the greeting;
//! `POST /api/chat/sessions/{id}/messages` takes `{"text": ...}` or
//! `{"button": ...}` and returns the bot's messages. Every citizen turn is
//! scrubbed before it is stored; the raw text lives only inside the
//! blocking task that runs the turn.
//!
//! A phone number typed after the bot asked for one (`"ask"` in the
//! reply) never takes that path: it is parsed here, the SMS is stored in
//! the outbox (or the number held in memory until the callback is booked),
//! and the dialogue hears only the outcome (`Event::Number`). The stored
//! citizen turn says what was done ("sms med link … bestilt"), never the
//! number.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use knowledge::Channel;
use router::dialogue::{Action, Dialogue, Event, NumberPurpose, NumberReply, Turn};
use serde::{Deserialize, Serialize};
use sms_gateway::{Enqueued, MobileNumber};
use transcripts::RawUtterance;
use transcripts::{self as store, ConversationId, NewConversation};

use super::limits::Window;
use super::sms::QueueError;
use super::{record, App};
use crate::callbacks::PhoneNumber;
use router::record::to_time;

/// Longest message a citizen may send, in characters.
pub(crate) const MAX_MESSAGE_CHARS: usize = 1000;
/// Largest request body accepted, in bytes.
const MAX_BODY_BYTES: usize = 16 * 1024;
/// Open chats at most; beyond it new chats are refused with 503.
const MAX_CHATS: usize = 5000;
/// A chat with no message for this long is closed as abandoned.
const IDLE: Duration = Duration::from_secs(30 * 60);
/// Messages per chat session per window.
const PER_SESSION: (usize, Duration) = (12, Duration::from_secs(60));
/// Requests (new chats and messages) per address per window.
const PER_ADDRESS: (usize, Duration) = (60, Duration::from_secs(60));

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/chat/sessions", post(open))
        .route("/api/chat/sessions/{id}/messages", post(message))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// The open chats and the limits that guard them.
pub(crate) struct Chats {
    open: HashMap<String, Arc<Mutex<ChatSession>>>,
    per_session: Window<String>,
    per_address: Window<IpAddr>,
}

struct ChatSession {
    dialogue: Dialogue,
    conversation: ConversationId,
    last_seen: Instant,
    ended: bool,
    /// The number typed for a callback, held only until the citizen picks
    /// a time window (then stored with the request) or moves on.
    callback_number: Option<PhoneNumber>,
}

impl Chats {
    pub(crate) fn new() -> Chats {
        Chats {
            open: HashMap::new(),
            per_session: Window::new(PER_SESSION.0, PER_SESSION.1),
            per_address: Window::new(PER_ADDRESS.0, PER_ADDRESS.1),
        }
    }

    /// Ends chats idle for longer than [`IDLE`].
    pub(crate) fn close_idle(&mut self, app: &App) {
        let now = Instant::now();
        self.per_session.sweep(now);
        self.per_address.sweep(now);
        let idle: Vec<String> = self
            .open
            .iter()
            .filter(|(_, s)| {
                s.lock()
                    .map(|s| s.ended || now.duration_since(s.last_seen) > IDLE)
                    .unwrap_or(true)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in idle {
            if let Some(session) = self.open.remove(&id) {
                end(app, &mut session.lock().unwrap_or_else(|e| e.into_inner()));
            }
        }
    }

    /// Ends every chat (the server is stopping).
    pub(crate) fn close_all(&mut self, app: &App) {
        for (_, session) in self.open.drain() {
            end(app, &mut session.lock().unwrap_or_else(|e| e.into_inner()));
        }
    }
}

/// Records how a chat ended, once.
fn end(app: &App, session: &mut ChatSession) {
    if session.ended {
        return;
    }
    session.ended = true;
    let now = jiff::Timestamp::now();
    let turn = session.dialogue.step(Event::Ended, now);
    if let Err(e) = record::end(app, session.conversation, now, &turn.outcome) {
        tracing::error!(error = %e, "storing the end of a chat failed");
    }
}

/// What the browser renders.
#[derive(Debug, Serialize)]
struct Reply {
    session: String,
    messages: Vec<Message>,
    ended: bool,
    /// The next text is a phone number: the page shows a phone field.
    #[serde(skip_serializing_if = "Option::is_none")]
    ask: Option<AskOut>,
}

#[derive(Debug, Serialize)]
struct AskOut {
    /// `mobile` (for an SMS) or `phone` (for a callback).
    kind: &'static str,
    /// The field's label.
    label: &'static str,
}

#[derive(Debug, Default, Serialize)]
struct Message {
    text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    links: Vec<LinkOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    buttons: Vec<ButtonOut>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    handover: bool,
}

#[derive(Debug, Serialize)]
struct LinkOut {
    title: String,
    url: String,
}

#[derive(Debug, Serialize)]
struct ButtonOut {
    label: String,
    value: String,
}

/// What the citizen sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Incoming {
    text: Option<String>,
    button: Option<String>,
}

/// An error the browser can show: a status and a plain reason.
struct Refusal {
    status: StatusCode,
    reason: String,
    retry_after: Option<Duration>,
}

impl Refusal {
    fn new(status: StatusCode, reason: impl Into<String>) -> Refusal {
        Refusal {
            status,
            reason: reason.into(),
            retry_after: None,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({ "error": self.reason }));
        match self.retry_after {
            Some(wait) => (
                self.status,
                [(header::RETRY_AFTER, wait.as_secs().max(1).to_string())],
                body,
            )
                .into_response(),
            None => (self.status, body).into_response(),
        }
    }
}

fn too_many(wait: Duration, what: &str) -> Refusal {
    Refusal {
        status: StatusCode::TOO_MANY_REQUESTS,
        reason: format!(
            "Der er sendt for mange beskeder {what} på kort tid. Vent lidt, og prøv igen."
        ),
        retry_after: Some(wait),
    }
}

async fn open(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Result<Json<Reply>, Refusal> {
    {
        let mut chats = app.chats.lock().unwrap_or_else(|e| e.into_inner());
        chats
            .per_address
            .check(&peer.ip(), Instant::now())
            .map_err(|wait| too_many(wait, "fra din adresse"))?;
        if chats.open.len() >= MAX_CHATS {
            return Err(Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Chatten har travlt lige nu. Prøv igen om lidt, eller ring til kommunen.",
            ));
        }
    }
    let worker = app.clone();
    let reply = tokio::task::spawn_blocking(move || start(&worker))
        .await
        .map_err(|_| internal())??;
    Ok(Json(reply))
}

fn internal() -> Refusal {
    Refusal::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Der skete en fejl hos os. Prøv igen, eller ring til kommunen.",
    )
}

fn start(app: &App) -> Result<Reply, Refusal> {
    let now = jiff::Timestamp::now();
    let mut dialogue = Dialogue::new(app.config());
    let turn = dialogue.step(
        Event::Started {
            channel: Channel::Chat,
        },
        now,
    );
    let conversation = app
        .store
        .start_conversation(&NewConversation {
            channel: store::Channel::Chat,
            municipality: &app.municipality,
            started_at: to_time(now),
            out_of_hours: turn.out_of_hours,
        })
        .map_err(|e| {
            tracing::error!(error = %e, "storing a new chat failed");
            internal()
        })?;
    let id = new_session_id();
    let mut session = ChatSession {
        dialogue,
        conversation,
        last_seen: Instant::now(),
        ended: false,
        callback_number: None,
    };
    let reply = finish(app, &mut session, &id, &turn, now)?;
    app.chats
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .open
        .insert(id, Arc::new(Mutex::new(session)));
    Ok(reply)
}

async fn message(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Reply>, Refusal> {
    let incoming: Incoming = serde_json::from_slice(&body).map_err(|e| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            format!(
                "The body must be JSON like {{\"text\": \"...\"}} or {{\"button\": \"...\"}}: {e}"
            ),
        )
    })?;
    let session = {
        let mut chats = app.chats.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        chats
            .per_address
            .check(&peer.ip(), now)
            .map_err(|wait| too_many(wait, "fra din adresse"))?;
        let session = chats.open.get(&id).cloned().ok_or_else(|| {
            Refusal::new(
                StatusCode::NOT_FOUND,
                "Unknown chat session: it has ended or expired. Start a new chat.",
            )
        })?;
        chats
            .per_session
            .check(&id, now)
            .map_err(|wait| too_many(wait, "i denne chat"))?;
        session
    };
    let input = match (incoming.text, incoming.button) {
        (Some(text), None) => {
            let text = text.trim().to_string();
            if text.is_empty() {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "The message is empty.",
                ));
            }
            let chars = text.chars().count();
            if chars > MAX_MESSAGE_CHARS {
                return Err(Refusal::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("Beskeden er for lang ({chars} tegn). Skriv højst {MAX_MESSAGE_CHARS} tegn."),
                ));
            }
            Input::Text(RawUtterance::new(text))
        }
        (None, Some(button)) => Input::Button(button),
        _ => {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "Send either \"text\" or \"button\", not both and not neither.",
            ))
        }
    };
    let worker = app.clone();
    let reply = tokio::task::spawn_blocking(move || {
        let mut session = session.lock().unwrap_or_else(|e| e.into_inner());
        turn(&worker, &mut session, &id, input)
    })
    .await
    .map_err(|_| internal())??;
    Ok(Json(reply))
}

enum Input {
    Text(RawUtterance),
    Button(String),
}

fn turn(app: &App, session: &mut ChatSession, id: &str, input: Input) -> Result<Reply, Refusal> {
    if session.ended {
        return Err(Refusal::new(
            StatusCode::GONE,
            "Chatten er slut. Start en ny chat for at spørge om mere.",
        ));
    }
    session.last_seen = Instant::now();
    let started = Instant::now();
    let now = jiff::Timestamp::now();
    let (turn, said) = match &input {
        Input::Text(raw) => match session.dialogue.awaiting_number().cloned() {
            Some(purpose) => {
                let (reply, note) = take_number(app, session, id, &purpose, raw);
                let redacted = app.scrubber.scrub(&RawUtterance::new(note));
                (session.dialogue.step(Event::Number(reply), now), redacted)
            }
            None => {
                let redacted = app.scrubber.scrub(raw);
                (session.dialogue.step(Event::Utterance(raw), now), redacted)
            }
        },
        Input::Button(value) => {
            let label = RawUtterance::new(value.clone());
            let redacted = app.scrubber.scrub(&label);
            (session.dialogue.step(Event::Button(value), now), redacted)
        }
    };
    drop(input);
    book_callbacks(app, session, &turn, now)?;
    let latency = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
    record::citizen_turn(app, session.conversation, now, &said, &turn, latency).map_err(|e| {
        tracing::error!(error = %e, "storing a chat turn failed");
        internal()
    })?;
    finish(app, session, id, &turn, now)
}

/// Renders the bot's actions, stores what the bot said, and ends the
/// conversation in the store when the dialogue ended it.
fn finish(
    app: &App,
    session: &mut ChatSession,
    id: &str,
    turn: &Turn,
    now: jiff::Timestamp,
) -> Result<Reply, Refusal> {
    let (messages, ended, ask) = render(&turn.actions);
    let said: Vec<&str> = messages.iter().map(|m| m.text.as_str()).collect();
    record::bot_turn(app, session.conversation, now, &said).map_err(|e| {
        tracing::error!(error = %e, "storing the bot's turn failed");
        internal()
    })?;
    if ended && !session.ended {
        session.ended = true;
        record::end(app, session.conversation, now, &turn.outcome).map_err(|e| {
            tracing::error!(error = %e, "storing the end of a chat failed");
            internal()
        })?;
    }
    Ok(Reply {
        session: id.to_string(),
        messages,
        ended,
        ask,
    })
}

/// The chat rendering of the engine's actions.
fn render(actions: &[Action]) -> (Vec<Message>, bool, Option<AskOut>) {
    let mut messages: Vec<Message> = Vec::new();
    let mut ended = false;
    let mut ask = None;
    for action in actions {
        match action {
            Action::Say(say) => messages.push(Message {
                text: say.text.clone(),
                ..Message::default()
            }),
            Action::ShowLinks(links) => {
                last(&mut messages)
                    .links
                    .extend(links.iter().map(|l| LinkOut {
                        title: l.title.clone(),
                        url: l.url.clone(),
                    }))
            }
            Action::ShowButtons(buttons) => {
                last(&mut messages)
                    .buttons
                    .extend(buttons.iter().map(|b| ButtonOut {
                        label: b.label.clone(),
                        value: b.id.clone(),
                    }))
            }
            Action::Handover {
                name,
                phone,
                open_now,
                opens,
                ..
            } => {
                let when = match (open_now, opens) {
                    (true, _) => "Der er åbent for telefonen nu.".to_string(),
                    (false, Some(opens)) => {
                        format!("Der er lukket lige nu. Der åbner igen {opens}.")
                    }
                    (false, None) => "Der er lukket lige nu.".to_string(),
                };
                messages.push(Message {
                    text: format!("Du kan ringe til {name} på {phone}. {when}"),
                    links: vec![LinkOut {
                        title: format!("Ring til {name}: {phone}"),
                        url: format!("tel:{}", phone.replace(' ', "")),
                    }],
                    handover: true,
                    ..Message::default()
                });
            }
            Action::AskNumber { purpose } => {
                ask = Some(match purpose {
                    NumberPurpose::Sms { .. } => AskOut {
                        kind: "mobile",
                        label: "Dit mobilnummer",
                    },
                    NumberPurpose::Callback { .. } => AskOut {
                        kind: "phone",
                        label: "Dit telefonnummer",
                    },
                });
            }
            // Booked before rendering (`book_callbacks`); a callback
            // without a typed number (`Callback`) is the phone's.
            Action::BookCallback { .. }
            | Action::Callback { .. }
            | Action::Transfer { .. }
            | Action::Listen { .. }
            | Action::OfferSms { .. }
            | Action::SendSms { .. } => {}
            Action::End => ended = true,
        }
    }
    (messages, ended, ask)
}

/// The citizen's text after [`Action::AskNumber`]: "fortryd", or a number
/// to parse and act on. Returns the outcome for the dialogue and the note
/// stored as the citizen's turn in place of the text.
fn take_number(
    app: &App,
    session: &mut ChatSession,
    id: &str,
    purpose: &NumberPurpose,
    raw: &RawUtterance,
) -> (NumberReply, String) {
    let text = raw.expose();
    if router::dialogue::is_cancel(text) {
        return (NumberReply::Cancelled, "(fortryd)".into());
    }
    match purpose {
        NumberPurpose::Callback { department } => match PhoneNumber::parse(text) {
            Ok(number) => {
                session.callback_number = Some(number);
                (
                    NumberReply::Accepted,
                    format!("(telefonnummer til opkald fra {department} givet)"),
                )
            }
            Err(e) => (
                NumberReply::Invalid {
                    reply: e.reply_da(),
                },
                "(telefonnummer, der ikke kunne bruges)".into(),
            ),
        },
        NumberPurpose::Sms { answer_id, url } => {
            // Typed digits in any grouping; "mit nummer er …" and number
            // words through the spoken parser.
            let parsed = MobileNumber::parse(text)
                .or_else(|e| MobileNumber::parse_spoken(text).map_err(|_| e));
            let number = match parsed {
                Ok(n) => n,
                Err(e) => {
                    return (
                        NumberReply::Invalid {
                            reply: e.reply_da(),
                        },
                        "(mobilnummer, der ikke kunne bruges)".into(),
                    )
                }
            };
            let config = app.config();
            let link = config
                .matcher
                .answer(answer_id)
                .and_then(|a| a.links.iter().find(|l| &l.url == url));
            let queued = match (&app.sms, link) {
                (Some(sms), Some(link)) => sms.queue(id, link, &number),
                _ => Err(QueueError::NoTemplate),
            };
            let (reply, what) = match queued {
                Ok(Enqueued::Queued(_)) => (NumberReply::Accepted, "bestilt"),
                Ok(Enqueued::AlreadySent(_)) => (NumberReply::AlreadySent, "allerede sendt"),
                Ok(Enqueued::RateLimited) => (
                    NumberReply::RateLimited,
                    "ikke sendt: nummerets grænse for i dag",
                ),
                Err(QueueError::NoTemplate) => {
                    tracing::error!(answer = %answer_id, "no SMS template or outbox for a chat link");
                    (NumberReply::Failed, "ikke sendt: ingen skabelon")
                }
                Err(QueueError::Outbox(e)) => {
                    tracing::error!(error = %e, "storing a chat SMS in the outbox failed");
                    (NumberReply::Failed, "ikke sendt: fejl i udbakken")
                }
            };
            (
                reply,
                format!("(mobilnummer givet; sms med link {url} {what})"),
            )
        }
    }
}

/// Stores each callback the dialogue booked this turn, with the number the
/// session held, before the confirmation is shown; then lets go of the
/// number unless a time window is still being chosen.
fn book_callbacks(
    app: &App,
    session: &mut ChatSession,
    turn: &Turn,
    now: jiff::Timestamp,
) -> Result<(), Refusal> {
    for action in &turn.actions {
        if let Action::BookCallback { department, window } = action {
            let Some(number) = session.callback_number.take() else {
                tracing::error!("a callback was booked without a number");
                return Err(internal());
            };
            app.callbacks
                .book(
                    department,
                    window.date,
                    window.from,
                    window.to,
                    &number,
                    now,
                )
                .map_err(|e| {
                    tracing::error!(error = %e, "storing a callback request failed");
                    internal()
                })?;
            tracing::info!(department = %department, "callback booked");
        }
    }
    if !session.dialogue.choosing_window() {
        session.callback_number = None;
    }
    Ok(())
}

fn last(messages: &mut Vec<Message>) -> &mut Message {
    if messages.is_empty() {
        messages.push(Message::default());
    }
    let n = messages.len() - 1;
    &mut messages[n]
}

/// 128 random bits from the operating system, hex-encoded.
pub(crate) fn new_session_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness is a broken machine; a time-based id still
        // keeps sessions apart, and the failure is visible in the log.
        tracing::error!("no operating-system randomness for a chat session id");
        let nanos = jiff::Timestamp::now().as_nanosecond();
        bytes = nanos.to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
