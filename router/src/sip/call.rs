//! One call: the SIP dialog (as the answering side), its media task and
//! its [`Dialogue`].
//!
//! The task runs the engine's actions in order — Say waits for the prompt
//! to finish, Listen waits for a key, an utterance or the no-input
//! timeout, Transfer sends REFER and waits for the NOTIFY that says how it
//! went, End sends BYE — while it keeps answering the caller's SIP
//! (BYE, re-INVITE, CANCEL, INFO) and the 200 OK is retransmitted until
//! the ACK (RFC 3261 §13.3.1.4).
//!
//! Requests from this side go to the caller's Contact over the
//! connection or socket the INVITE came in on; Record-Route sets are not
//! followed (the PBX or proxy in front is the next hop either way).
//!
//! A failed transfer (a final answer over 299 to the REFER, a NOTIFY with
//! a failure, or no answer in time) goes back to the engine as
//! [`Event::TransferFailed`]: the caller hears the department's number and
//! the call goes on. SendSms is carried out in order: the message is
//! committed to the outbox before the prompt after it ("Du får en sms")
//! plays; when it cannot be, the engine hears `SmsResult { sent: false }`.
//! The caller's number goes to the outbox and nowhere else.
//!
//! Each turn is stored through the [`Recorder`](crate::record::Recorder):
//! the caller's words scrubbed, what the bot said, topic, confidence and
//! the time from the end of speech (or the key) to the reply.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;
use transcripts::{RawUtterance, RedactedText, Speaker};

use super::message::{self, Message, Start};
use super::{random_u64, sdp, tag, Peer, Shared};
use crate::dialogue::{Action, Dialogue, Event, Say, Turn};
use crate::media::{self, MediaCommand, MediaEvent, MediaParams, RecogniseError};
use crate::record::{Conversation, TurnRecord};

/// A SIP message for this call.
pub(crate) struct Input {
    pub(crate) message: Message,
    pub(crate) peer: Peer,
}

/// RFC 3261 T1 and T2.
const T1: Duration = Duration::from_millis(500);
const T2: Duration = Duration::from_secs(4);
/// How long the 200 OK waits for its ACK (64·T1).
const ACK_TIMEOUT: Duration = Duration::from_secs(32);
/// How long a transfer may take before the caller hears the fallback.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(15);
/// How long our BYE waits for its answer.
const BYE_TIMEOUT: Duration = Duration::from_secs(4);

enum Wait {
    Nothing,
    Playing {
        id: u64,
        barge_in: bool,
    },
    Listening {
        deadline: Option<Instant>,
    },
    Referring {
        deadline: Instant,
        department: String,
    },
    Byeing {
        deadline: Instant,
    },
    Done,
}

struct Call {
    shared: Arc<Shared>,
    peer: Peer,
    invite: Message,
    rx: mpsc::Receiver<Input>,
    media: media::Media,
    dialogue: Dialogue,
    our_tag: String,
    ok: Vec<u8>,
    acked: bool,
    answered_at: Instant,
    retransmit_at: Instant,
    retransmit_every: Duration,
    started: bool,
    queue: VecDeque<Action>,
    wait: Wait,
    next_play: u64,
    cseq: u32,
    typeahead: Option<char>,
    recognising: Option<JoinHandle<Result<String, RecogniseError>>>,
    /// The caller's mobile number, for the SMS only: never logged or stored.
    caller: Option<sms_gateway::MobileNumber>,
    media_port: u16,
    sdp_session: u64,
    sdp_version: u64,
    turns: u32,
    /// The call's name in the outbox's idempotency keys.
    conversation: String,
    /// Where the turns are stored.
    record: Option<Conversation>,
    /// When the utterance being recognised ended.
    heard_at: Option<Instant>,
}

/// What the caller said or pressed in a turn, for the store.
struct Said {
    text: RedactedText,
    since: Instant,
}

pub(crate) async fn run(
    shared: &Arc<Shared>,
    id: u64,
    invite: Message,
    peer: Peer,
    rx: mpsc::Receiver<Input>,
) {
    let span = tracing::info_span!("conversation", id, channel = "voice");
    answer(shared, id, invite, peer, rx).instrument(span).await;
}

async fn answer(
    shared: &Arc<Shared>,
    id: u64,
    invite: Message,
    peer: Peer,
    rx: mpsc::Receiver<Input>,
) {
    let offer = std::str::from_utf8(&invite.body)
        .map_err(|_| sdp::SdpError::NoAudio)
        .and_then(sdp::parse_offer);
    let offer = match offer {
        Ok(o) => o,
        Err(e) => {
            tracing::info!(error = %e, "call refused: sdp");
            let r = invite.response(488, "Not Acceptable Here", Some(&tag()), &[], None);
            peer.send(r).await;
            return;
        }
    };
    let bind_ip: std::net::IpAddr = if shared.settings.advertise.is_ipv4() {
        std::net::Ipv4Addr::UNSPECIFIED.into()
    } else {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    };
    let socket = match tokio::net::UdpSocket::bind((bind_ip, 0)).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "call refused: no rtp port");
            let r = invite.response(500, "Server Internal Error", Some(&tag()), &[], None);
            peer.send(r).await;
            return;
        }
    };
    let media_port = socket.local_addr().map(|a| a.port()).unwrap_or(0);
    let our_tag = tag();
    peer.send(invite.response(100, "Trying", None, &[], None))
        .await;
    peer.send(invite.response(180, "Ringing", Some(&our_tag), &[], None))
        .await;
    let sdp_session = random_u64() >> 2;
    let answer_sdp = sdp::answer(
        &offer,
        shared.settings.advertise,
        media_port,
        sdp_session,
        1,
    );
    let contact = contact(shared, &peer);
    let ok = invite.response(
        200,
        "OK",
        Some(&our_tag),
        &[
            ("Contact", contact),
            ("Allow", super::ALLOW.to_string()),
            ("Supported", "replaces".to_string()),
        ],
        Some(("application/sdp", &answer_sdp)),
    );
    peer.send(ok.clone()).await;
    let media = media::start(
        socket,
        MediaParams {
            law: offer.law,
            dtmf_payload_type: offer.dtmf_payload_type,
            remote: (offer.address, offer.port).into(),
            end_of_speech: shared.config.flow.end_of_speech,
        },
        random_u64() as u32,
    );
    let now = Instant::now();
    let caller = caller_number(&invite);
    let mut dialogue = Dialogue::new(Arc::clone(&shared.config));
    // Only a Danish mobile number can get an SMS, and only with an outbox.
    dialogue.set_sms_to_caller(caller.is_some() && shared.sms.is_some());
    let mut call = Call {
        dialogue,
        shared: Arc::clone(shared),
        peer,
        invite,
        rx,
        media,
        our_tag,
        ok,
        acked: false,
        answered_at: now,
        retransmit_at: now + T1,
        retransmit_every: T1,
        started: false,
        queue: VecDeque::new(),
        wait: Wait::Nothing,
        next_play: 1,
        cseq: 1,
        typeahead: None,
        recognising: None,
        caller,
        media_port,
        sdp_session,
        sdp_version: 1,
        turns: 0,
        conversation: format!("call-{:016x}", random_u64()),
        record: shared.recorder.as_ref().map(|r| r.conversation(id)),
        heard_at: None,
    };
    tracing::info!(
        codec = offer.law.name(),
        dtmf = offer.dtmf_payload_type.is_some(),
        "call answered"
    );
    call.run().await;
    if let Some(r) = &call.record {
        r.end(call.shared.clock.now(), call.dialogue.outcome());
    }
    let stats = &call.media.stats;
    use std::sync::atomic::Ordering::Relaxed;
    tracing::info!(
        outcome = %call.dialogue.outcome().code(),
        rtp_sent = stats.packets_sent.load(Relaxed),
        rtp_received = stats.packets_received.load(Relaxed),
        turns = call.turns,
        "call ended"
    );
}

fn contact(shared: &Shared, peer: &Peer) -> String {
    let ip = shared.settings.advertise;
    let host = if ip.is_ipv6() {
        format!("[{ip}]")
    } else {
        ip.to_string()
    };
    let transport = if peer.reliable() {
        ";transport=tcp"
    } else {
        ""
    };
    format!("<sip:vejviser@{host}:{}{transport}>", peer.local_port())
}

async fn recognition(
    h: &mut Option<JoinHandle<Result<String, RecogniseError>>>,
) -> Result<String, RecogniseError> {
    match h {
        Some(handle) => {
            let r = handle.await.unwrap_or(Err(RecogniseError::Failed));
            *h = None;
            r
        }
        None => std::future::pending().await,
    }
}

impl Call {
    async fn run(&mut self) {
        loop {
            while matches!(self.wait, Wait::Nothing) && self.started {
                match self.queue.pop_front() {
                    Some(a) => self.execute(a).await,
                    None => self.wait = Wait::Listening { deadline: None },
                }
            }
            if matches!(self.wait, Wait::Done) {
                break;
            }
            let deadline = self.next_deadline();
            tokio::select! {
                input = self.rx.recv() => match input {
                    Some(i) => self.sip(i).await,
                    None => break,
                },
                ev = self.media.events.recv() => match ev {
                    Some(ev) => self.media_event(ev).await,
                    None => break,
                },
                r = recognition(&mut self.recognising) => self.recognised(r),
                _ = tokio::time::sleep_until(deadline) => self.timer().await,
            }
        }
        let _ = self.media.commands.try_send(MediaCommand::Stop);
    }

    fn next_deadline(&self) -> Instant {
        let far = Instant::now() + Duration::from_secs(3600);
        let mut d = far;
        if !self.acked {
            d = d.min(if self.peer.reliable() {
                self.answered_at + ACK_TIMEOUT
            } else {
                self.retransmit_at
            });
        }
        match &self.wait {
            Wait::Listening {
                deadline: Some(t), ..
            }
            | Wait::Referring { deadline: t, .. }
            | Wait::Byeing { deadline: t } => d.min(*t),
            _ => d,
        }
    }

    /// Feeds `event` to the engine; its actions replace what was queued.
    fn step(&mut self, event: Event<'_>, said: Option<Said>) {
        let now = self.shared.clock.now();
        let turn = self.dialogue.step(event, now);
        self.record(&turn, now, said);
        // Actions that only inform are carried out at once, so a long
        // prompt before them does not delay them.
        self.queue = turn
            .actions
            .into_iter()
            .filter(|a| !self.inform(a))
            .collect();
        self.wait = Wait::Nothing;
    }

    /// Feeds `event`; its actions come before what is still queued.
    fn step_before_queue(&mut self, event: Event<'_>) {
        let rest = std::mem::take(&mut self.queue);
        self.step(event, None);
        self.queue.extend(rest);
    }

    /// A key as the store sees it.
    fn key_said(&self, k: char) -> Said {
        Said {
            text: self
                .shared
                .scrubber
                .scrub(&RawUtterance::new(format!("[tast {k}]"))),
            since: Instant::now(),
        }
    }

    /// Stores the turn (the caller's part, then the bot's) and logs it
    /// with ids and counts only.
    fn record(&mut self, turn: &Turn, now: jiff::Timestamp, said: Option<Said>) {
        if let Some(r) = &mut self.record {
            r.start(transcripts::Channel::Voice, now, turn.out_of_hours);
            if let Some(said) = said {
                r.turn(TurnRecord {
                    speaker: Speaker::Citizen,
                    at: now,
                    text: said.text,
                    topic: turn.topic.clone(),
                    answer_id: turn.answer_id.clone(),
                    confidence: turn.confidence,
                    decision: turn.decision,
                    latency_ms: Some(
                        u32::try_from(said.since.elapsed().as_millis()).unwrap_or(u32::MAX),
                    ),
                });
            }
            let spoken: Vec<&str> = turn
                .actions
                .iter()
                .filter_map(|a| match a {
                    Action::Say(s) => Some(s.text.as_str()),
                    _ => None,
                })
                .collect();
            if !spoken.is_empty() {
                let text = self
                    .shared
                    .scrubber
                    .scrub(&RawUtterance::new(spoken.join("\n")));
                r.turn(bot_turn(now, text));
            }
        }
        self.turns += 1;
        tracing::info!(
            turn = self.turns,
            topic = turn.topic.as_deref().unwrap_or("-"),
            answer_id = turn.answer_id.as_deref().unwrap_or("-"),
            confidence = turn.confidence.unwrap_or(0.0),
            outcome = %turn.outcome.code(),
            out_of_hours = turn.out_of_hours,
            actions = turn.actions.len(),
            "turn"
        );
    }

    async fn execute(&mut self, action: Action) {
        match action {
            Action::Say(say) => self.say(&say).await,
            Action::Listen { timeout, .. } => {
                if let Some(k) = self.typeahead.take() {
                    let said = self.key_said(k);
                    self.step(Event::Dtmf(k), Some(said));
                } else {
                    self.wait = Wait::Listening {
                        deadline: timeout.map(|t| Instant::now() + t),
                    };
                }
            }
            Action::Transfer {
                department,
                sip_uri,
                topic,
                summary,
            } => {
                self.refer(department, &sip_uri, topic.as_deref(), &summary)
                    .await
            }
            Action::SendSms { answer_id, text } => self.send_sms(answer_id.as_deref(), &text).await,
            Action::Handover { .. }
            | Action::Callback { .. }
            | Action::OfferSms { .. }
            | Action::ShowButtons(_)
            | Action::ShowLinks(_) => {
                self.inform(&action);
            }
            // Chat only: a caller's number comes with the call.
            Action::AskNumber { .. } | Action::BookCallback { .. } => {}
            Action::End => self.bye().await,
        }
    }

    /// Carries out an action that needs no waiting; false for the others.
    fn inform(&self, action: &Action) -> bool {
        match action {
            Action::Handover {
                department,
                open_now,
                callback,
                ..
            } => {
                tracing::info!(%department, open_now, callback, "handover");
                true
            }
            Action::OfferSms { .. } | Action::ShowButtons(_) | Action::ShowLinks(_) => true,
            _ => false,
        }
    }

    /// Commits the SMS to the outbox, then lets the engine go on; the
    /// caller's number goes to the outbox and nowhere else.
    async fn send_sms(&mut self, answer_id: Option<&str>, text: &str) {
        let (Some(sms), Some(number)) = (self.shared.sms.clone(), self.caller.clone()) else {
            // The engine was told no SMS can reach this caller; a consent
            // anyway (a stale flow) gets the plain "cannot send".
            tracing::info!("sms asked for, but this caller cannot get one");
            return self.step(Event::SmsResult { sent: false }, None);
        };
        let (link_id, text) = sms.message(&self.shared.config, answer_id, text);
        let conversation = self.conversation.clone();
        let link = link_id.clone();
        let queued =
            tokio::task::spawn_blocking(move || sms.enqueue(&conversation, &link, &number, &text))
                .await;
        match queued {
            Ok(Ok(sms_gateway::Enqueued::Queued(_) | sms_gateway::Enqueued::AlreadySent(_))) => {
                tracing::info!(answer_id = answer_id.unwrap_or("-"), "sms queued");
                if let Some(r) = &self.record {
                    let now = self.shared.clock.now();
                    let note = RawUtterance::new(format!("[sms med {link_id}]"));
                    r.turn(bot_turn(now, self.shared.scrubber.scrub(&note)));
                }
                self.step_before_queue(Event::SmsResult { sent: true });
            }
            Ok(Ok(sms_gateway::Enqueued::RateLimited)) => {
                tracing::info!("sms refused: this number has had its sms for today");
                self.step(Event::SmsResult { sent: false }, None);
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "sms could not be stored in the outbox");
                self.step(Event::SmsResult { sent: false }, None);
            }
            Err(e) => {
                tracing::error!(error = %e, "sms outbox task failed");
                self.step(Event::SmsResult { sent: false }, None);
            }
        }
    }

    async fn say(&mut self, say: &Say) {
        match self.shared.speech.render(say).await {
            Ok(audio) => {
                let id = self.next_play;
                self.next_play += 1;
                let cmd = MediaCommand::Play {
                    id,
                    audio,
                    barge_in: say.barge_in,
                };
                if self.media.commands.send(cmd).await.is_ok() {
                    self.wait = Wait::Playing {
                        id,
                        barge_in: say.barge_in,
                    };
                }
            }
            Err(e) => tracing::warn!(error = %e, "prompt has no audio; skipped"),
        }
    }

    /// A request inside this dialog.
    fn request(
        &mut self,
        method: &str,
        extra: &[(&str, String)],
        body: Option<(&str, &str)>,
    ) -> Vec<u8> {
        self.cseq += 1;
        let target = self
            .invite
            .header("contact")
            .or(self.invite.header("from"))
            .map(message::uri_of)
            .unwrap_or("sip:invalid")
            .to_string();
        let to = self.invite.header("to").unwrap_or_default();
        let from = self.invite.header("from").unwrap_or_default();
        let ip = self.shared.settings.advertise;
        let host = if ip.is_ipv6() {
            format!("[{ip}]")
        } else {
            ip.to_string()
        };
        let mut s = format!(
            "{method} {target} SIP/2.0\r\n\
             Via: SIP/2.0/{} {host}:{};branch=z9hG4bK{:016x};rport\r\n\
             Max-Forwards: 70\r\n\
             From: {to};tag={}\r\n\
             To: {from}\r\n\
             Call-ID: {}\r\n\
             CSeq: {} {method}\r\n\
             Contact: {}\r\n",
            self.peer.transport(),
            self.peer.local_port(),
            random_u64(),
            self.our_tag,
            self.invite.call_id().unwrap_or_default(),
            self.cseq,
            contact(&self.shared, &self.peer),
        );
        for (n, v) in extra {
            s.push_str(&format!("{n}: {}\r\n", message::clean(v)));
        }
        match body {
            Some((ctype, b)) => s.push_str(&format!(
                "Content-Type: {ctype}\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            )),
            None => s.push_str("Content-Length: 0\r\n\r\n"),
        }
        s.into_bytes()
    }

    async fn bye(&mut self) {
        let _ = self.media.commands.try_send(MediaCommand::Stop);
        let r = self.request("BYE", &[], None);
        self.peer.send(r).await;
        self.wait = Wait::Byeing {
            deadline: Instant::now() + BYE_TIMEOUT,
        };
    }

    async fn refer(
        &mut self,
        department: String,
        sip_uri: &str,
        topic: Option<&str>,
        summary: &str,
    ) {
        let mut extra = vec![
            ("Refer-To", format!("<{sip_uri}>")),
            ("Referred-By", contact(&self.shared, &self.peer)),
            ("X-Vejviser-Department", department.clone()),
            ("X-Vejviser-Summary", summary.to_string()),
        ];
        if let Some(t) = topic {
            extra.push(("X-Vejviser-Topic", t.to_string()));
        }
        let r = self.request("REFER", &extra, None);
        self.peer.send(r).await;
        tracing::info!(%department, "transfer requested");
        self.wait = Wait::Referring {
            deadline: Instant::now() + TRANSFER_TIMEOUT,
            department,
        };
    }

    /// The transfer failed: the engine says the department's number and
    /// offers it by SMS; the call goes on.
    async fn transfer_failed(&mut self, department: &str) {
        tracing::info!(%department, "transfer failed");
        self.step(Event::TransferFailed, None);
    }

    async fn media_event(&mut self, ev: MediaEvent) {
        match ev {
            MediaEvent::Played { id, .. } => {
                if matches!(self.wait, Wait::Playing { id: p, .. } if p == id) {
                    self.wait = Wait::Nothing;
                }
            }
            MediaEvent::Dtmf(k) => {
                tracing::debug!("key pressed");
                match self.wait {
                    Wait::Playing {
                        barge_in: false, ..
                    } => self.typeahead = Some(k),
                    Wait::Playing { barge_in: true, .. }
                    | Wait::Listening { .. }
                    | Wait::Nothing => {
                        let _ = self.media.commands.try_send(MediaCommand::Stop);
                        if self.started {
                            let said = self.key_said(k);
                            self.step(Event::Dtmf(k), Some(said));
                        }
                    }
                    Wait::Referring { .. } | Wait::Byeing { .. } | Wait::Done => {}
                }
            }
            MediaEvent::SpeechStarted => {
                // Barge-in: the media task has stopped the prompt; the
                // actions up to the next Listen are skipped.
                if matches!(
                    self.wait,
                    Wait::Playing { barge_in: true, .. } | Wait::Listening { .. }
                ) {
                    while let Some(a) = self.queue.pop_front() {
                        if matches!(a, Action::Listen { .. }) {
                            break;
                        }
                    }
                    self.wait = Wait::Listening { deadline: None };
                }
            }
            MediaEvent::Utterance(clip) => {
                if matches!(self.wait, Wait::Listening { .. }) && self.recognising.is_none() {
                    self.heard_at = Some(Instant::now());
                    let recogniser = Arc::clone(&self.shared.recogniser);
                    self.recognising = Some(tokio::spawn(async move {
                        let clip16 = media::resample::resample(&clip, 8000, 16000)
                            .map_err(|_| RecogniseError::Failed)?;
                        recogniser.recognise(clip16).await
                    }));
                }
            }
        }
    }

    fn recognised(&mut self, r: Result<String, RecogniseError>) {
        match r {
            Ok(text) => {
                let raw = RawUtterance::new(text);
                let said = Said {
                    text: self.shared.scrubber.scrub(&raw),
                    since: self.heard_at.take().unwrap_or_else(Instant::now),
                };
                self.step(Event::Utterance(&raw), Some(said));
            }
            Err(RecogniseError::Overloaded) => self.step(Event::SpeechUnavailable, None),
            Err(e) => {
                tracing::debug!(error = %e, "utterance not recognised");
                self.wait = Wait::Listening {
                    deadline: Some(Instant::now() + self.shared.config.flow.no_input),
                };
            }
        }
    }

    async fn timer(&mut self) {
        let now = Instant::now();
        if !self.acked {
            if now >= self.answered_at + ACK_TIMEOUT {
                tracing::info!("no ack for the 200 ok; hanging up");
                self.acked = true;
                self.bye().await;
                return;
            }
            if !self.peer.reliable() && now >= self.retransmit_at {
                self.peer.send(self.ok.clone()).await;
                self.retransmit_every = (self.retransmit_every * 2).min(T2);
                self.retransmit_at = now + self.retransmit_every;
            }
        }
        match &self.wait {
            Wait::Listening { deadline: Some(t) } if now >= *t => self.step(Event::NoInput, None),
            Wait::Referring {
                deadline,
                department,
            } if now >= *deadline => {
                let d = department.clone();
                self.transfer_failed(&d).await;
            }
            Wait::Byeing { deadline } if now >= *deadline => self.wait = Wait::Done,
            _ => {}
        }
    }

    async fn sip(&mut self, input: Input) {
        let m = input.message;
        if let Start::Response { code } = m.start {
            return self.response(code, &m).await;
        }
        let method = m.method().unwrap_or_default().to_ascii_uppercase();
        // Only the caller's side of this dialog may act in it: a request
        // that merely knows the Call-ID gets 481 and moves nothing.
        if m.tag("from") != self.invite.tag("from") {
            if method != "ACK" {
                let r = m.response(481, "Call/Transaction Does Not Exist", None, &[], None);
                input.peer.send(r).await;
            }
            return;
        }
        // In-dialog requests come back on the caller's latest connection.
        self.peer = input.peer;
        match method.as_str() {
            "ACK" => {
                if !self.acked || !self.started {
                    self.acked = true;
                    if !self.started {
                        self.started = true;
                        self.step(
                            Event::Started {
                                channel: knowledge::Channel::Voice,
                            },
                            None,
                        );
                    }
                }
            }
            "INVITE" if m.tag("to").is_none() => {
                // A retransmitted INVITE: the same 200 OK again.
                self.peer.send(self.ok.clone()).await;
            }
            "INVITE" => self.reinvite(&m).await,
            "BYE" => {
                self.peer.send(m.response(200, "OK", None, &[], None)).await;
                if self.started {
                    self.step(Event::Ended, None);
                }
                self.wait = Wait::Done;
            }
            "CANCEL" => {
                // The INVITE is already answered; CANCEL changes nothing.
                self.peer.send(m.response(200, "OK", None, &[], None)).await;
            }
            "NOTIFY" => {
                self.peer.send(m.response(200, "OK", None, &[], None)).await;
                self.notify(&m).await;
            }
            "INFO" => {
                self.peer.send(m.response(200, "OK", None, &[], None)).await;
                if let Some(k) = info_dtmf(&m.body) {
                    self.media_event(MediaEvent::Dtmf(k)).await;
                }
            }
            "OPTIONS" => {
                let extra = [("Allow", super::ALLOW.to_string())];
                self.peer
                    .send(m.response(200, "OK", None, &extra, None))
                    .await;
            }
            _ => {
                let extra = [("Allow", super::ALLOW.to_string())];
                self.peer
                    .send(m.response(405, "Method Not Allowed", None, &extra, None))
                    .await;
            }
        }
    }

    async fn reinvite(&mut self, m: &Message) {
        let offer = std::str::from_utf8(&m.body)
            .map_err(|_| sdp::SdpError::NoAudio)
            .and_then(sdp::parse_offer);
        match offer {
            Ok(o) => {
                let _ = self
                    .media
                    .commands
                    .try_send(MediaCommand::Remote((o.address, o.port).into()));
                self.sdp_version += 1;
                let answer = sdp::answer(
                    &o,
                    self.shared.settings.advertise,
                    self.media_port,
                    self.sdp_session,
                    self.sdp_version,
                );
                let extra = [("Contact", contact(&self.shared, &self.peer))];
                let r = m.response(200, "OK", None, &extra, Some(("application/sdp", &answer)));
                self.peer.send(r).await;
            }
            Err(_) => {
                self.peer
                    .send(m.response(488, "Not Acceptable Here", None, &[], None))
                    .await;
            }
        }
    }

    async fn notify(&mut self, m: &Message) {
        let Wait::Referring { department, .. } = &self.wait else {
            return;
        };
        let department = department.clone();
        // The body is a sipfrag: "SIP/2.0 200 OK".
        let code = std::str::from_utf8(&m.body)
            .ok()
            .and_then(|b| b.split_whitespace().nth(1)?.parse::<u16>().ok());
        match code {
            Some(c) if (200..300).contains(&c) => {
                tracing::info!(%department, "transfer completed");
                self.bye().await;
            }
            Some(c) if c >= 300 => self.transfer_failed(&department).await,
            _ => {}
        }
    }

    async fn response(&mut self, code: u16, m: &Message) {
        let Some((_, method)) = m.cseq() else { return };
        match method.to_ascii_uppercase().as_str() {
            "REFER" if code >= 300 => {
                if let Wait::Referring { department, .. } = &self.wait {
                    let d = department.clone();
                    self.transfer_failed(&d).await;
                }
            }
            "BYE" if code >= 200 => self.wait = Wait::Done,
            _ => {}
        }
    }
}

fn bot_turn(at: jiff::Timestamp, text: RedactedText) -> TurnRecord {
    TurnRecord {
        speaker: Speaker::Bot,
        at,
        text,
        topic: None,
        answer_id: None,
        confidence: None,
        decision: None,
        latency_ms: None,
    }
}

/// The caller's Danish mobile number from P-Asserted-Identity, else From
/// (`sip:+4512345678@pbx`, `tel:12345678`); `None` for anything else.
fn caller_number(invite: &Message) -> Option<sms_gateway::MobileNumber> {
    invite
        .header("p-asserted-identity")
        .into_iter()
        .chain(invite.header("from"))
        .find_map(|v| {
            let uri = message::uri_of(v);
            let user = uri.split_once(':')?.1;
            let user = user.split(['@', ';']).next()?;
            sms_gateway::MobileNumber::parse(user).ok()
        })
}

/// The key of an INFO with `application/dtmf-relay` (`Signal=5`).
fn info_dtmf(body: &[u8]) -> Option<char> {
    let text = std::str::from_utf8(body).ok()?;
    let line = text
        .lines()
        .find(|l| l.trim_start().to_ascii_lowercase().starts_with("signal"))?;
    let value = line.split_once('=')?.1.trim();
    let mut chars = value.chars();
    let k = chars.next()?;
    (chars.next().is_none() && (k.is_ascii_digit() || k == '*' || k == '#')).then_some(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite(extra: &str) -> Message {
        let text = format!(
            "INVITE sip:bot@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK1\r\n\
             From: <sip:+4522345678@pbx.example>;tag=a\r\nTo: <sip:bot@127.0.0.1>\r\n\
             Call-ID: c\r\nCSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        Message::parse(text.as_bytes()).expect("parses")
    }

    #[test]
    fn caller_number_prefers_p_asserted_identity() {
        let from_only = caller_number(&invite("")).expect("a number");
        assert_eq!(from_only.e164_digits(), "4522345678");
        let pai =
            caller_number(&invite("P-Asserted-Identity: <tel:87654321>\r\n")).expect("a number");
        assert_eq!(pai.e164_digits(), "4587654321");
    }

    #[test]
    fn info_dtmf_reads_the_signal() {
        assert_eq!(info_dtmf(b"Signal=5\r\nDuration=160\r\n"), Some('5'));
        assert_eq!(info_dtmf(b"Signal= #\r\n"), Some('#'));
        assert_eq!(info_dtmf(b"Signal=55\r\n"), None);
        assert_eq!(info_dtmf(b"\xff"), None);
    }
}
