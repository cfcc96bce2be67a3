//! The media side of a call: RTP in and out on one UDP socket.
//!
//! One task per call owns the socket. It paces outgoing audio at one
//! 20 ms packet per tick (sequence numbers +1 per packet, timestamps +160
//! per tick whether or not a packet went out, the marker bit on the first
//! packet of each talk spurt; silence is not sent), decodes incoming G.711
//! for the [`endpoint::Endpointer`], and reports RFC 4733 keys, speech
//! starts (barge-in) and finished utterances to the call as
//! [`MediaEvent`]s. RTP is symmetric: replies go to where the caller's
//! packets come from once the first one arrives (NAT), else to the SDP
//! address.
//!
//! The task never waits on the call: events go out with `try_send` into a
//! bounded channel and are dropped (counted) when the call lags.

pub mod endpoint;
pub mod g711;
pub mod recognise;
pub mod resample;
pub mod rtp;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

use self::endpoint::{Endpoint, Endpointer, FRAME};
pub use self::g711::Law;
use self::rtp::{Packet, TelephoneEvent};
pub use recognise::{AsrRecogniser, NoRecogniser, Recognise, RecogniseError};

/// Capacity of the call → media command channel.
const COMMAND_CAPACITY: usize = 8;
/// Capacity of the media → call event channel.
const EVENT_CAPACITY: usize = 32;
/// The largest datagram read.
const MAX_DATAGRAM: usize = 2048;

/// How the media of a call is set up (from the SDP offer/answer).
#[derive(Debug, Clone, Copy)]
pub struct MediaParams {
    pub law: Law,
    /// The negotiated telephone-event payload type, if any.
    pub dtmf_payload_type: Option<u8>,
    /// Where the SDP says to send RTP.
    pub remote: SocketAddr,
    /// Silence after speech that ends an utterance (the flow's
    /// `end_of_speech_ms`).
    pub end_of_speech: Duration,
}

/// What the call asks of the media task.
#[derive(Debug)]
pub enum MediaCommand {
    /// Play 8 kHz audio; `barge_in`: speech from the caller stops it.
    Play {
        id: u64,
        audio: Arc<[i16]>,
        barge_in: bool,
    },
    /// Stop what is playing.
    Stop,
    /// A re-INVITE moved the caller's media.
    Remote(SocketAddr),
}

/// What the media task reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// A key (RFC 4733), once per key press.
    Dtmf(char),
    /// The caller started talking.
    SpeechStarted,
    /// The caller finished an utterance: 8 kHz samples.
    Utterance(Vec<i16>),
    /// A prompt finished or was cut off.
    Played { id: u64, interrupted: bool },
}

/// Counters of one call's media, for logs and tests.
#[derive(Debug, Default)]
pub struct MediaStats {
    pub packets_sent: AtomicU64,
    pub packets_received: AtomicU64,
    pub events_dropped: AtomicU64,
}

/// The call's end of a running media task; dropping it stops the task.
pub struct Media {
    pub commands: mpsc::Sender<MediaCommand>,
    pub events: mpsc::Receiver<MediaEvent>,
    pub stats: Arc<MediaStats>,
}

/// Starts the media task on a bound socket.
pub fn start(socket: UdpSocket, params: MediaParams, ssrc: u32) -> Media {
    let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_CAPACITY);
    let (ev_tx, ev_rx) = mpsc::channel(EVENT_CAPACITY);
    let stats = Arc::new(MediaStats::default());
    let task = MediaTask {
        socket,
        params,
        ssrc,
        commands: cmd_rx,
        events: ev_tx,
        stats: Arc::clone(&stats),
        latched: false,
        playing: None,
        sequence: (ssrc >> 16) as u16,
        timestamp: ssrc.rotate_left(7),
        talk_spurt: true,
        endpointer: Endpointer::new(params.end_of_speech),
        last_dtmf: None,
        pending: Vec::with_capacity(FRAME),
    };
    tokio::spawn(task.run());
    Media {
        commands: cmd_tx,
        events: ev_rx,
        stats,
    }
}

struct Playing {
    id: u64,
    audio: Arc<[i16]>,
    position: usize,
    barge_in: bool,
}

struct MediaTask {
    socket: UdpSocket,
    params: MediaParams,
    ssrc: u32,
    commands: mpsc::Receiver<MediaCommand>,
    events: mpsc::Sender<MediaEvent>,
    stats: Arc<MediaStats>,
    latched: bool,
    playing: Option<Playing>,
    sequence: u16,
    timestamp: u32,
    talk_spurt: bool,
    endpointer: Endpointer,
    /// The RTP timestamp of the last key reported: one event, one report.
    last_dtmf: Option<u32>,
    /// Decoded caller audio not yet a whole frame.
    pending: Vec<i16>,
}

impl MediaTask {
    async fn run(mut self) {
        let mut tick = tokio::time::interval_at(Instant::now(), Duration::from_millis(20));
        // Late ticks are sent at once so the stream keeps its clock.
        tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut out = Vec::with_capacity(12 + FRAME);
        loop {
            tokio::select! {
                _ = tick.tick() => self.send_frame(&mut out).await,
                cmd = self.commands.recv() => match cmd {
                    Some(c) => self.command(c),
                    None => break,
                },
                r = self.socket.recv_from(&mut buf) => match r {
                    Ok((n, from)) => self.receive(&buf[..n], from),
                    // ICMP port unreachable and the like surface here on
                    // some systems; the next datagram may still come.
                    Err(e) => tracing::trace!(error = %e, "rtp receive"),
                },
            }
        }
    }

    fn command(&mut self, c: MediaCommand) {
        match c {
            MediaCommand::Play {
                id,
                audio,
                barge_in,
            } => {
                self.finish_playing(true);
                self.playing = Some(Playing {
                    id,
                    audio,
                    position: 0,
                    barge_in,
                });
            }
            MediaCommand::Stop => self.finish_playing(true),
            MediaCommand::Remote(addr) => {
                self.params.remote = addr;
                self.latched = false;
            }
        }
    }

    fn emit(&self, e: MediaEvent) {
        if self.events.try_send(e).is_err() {
            self.stats.events_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn finish_playing(&mut self, interrupted: bool) {
        if let Some(p) = self.playing.take() {
            self.talk_spurt = true;
            self.emit(MediaEvent::Played {
                id: p.id,
                interrupted,
            });
        }
    }

    async fn send_frame(&mut self, out: &mut Vec<u8>) {
        let ts = self.timestamp;
        self.timestamp = self.timestamp.wrapping_add(FRAME as u32);
        let Some(p) = self.playing.as_mut() else {
            return;
        };
        let end = (p.position + FRAME).min(p.audio.len());
        let mut payload = [self.params.law.encode(0); FRAME];
        for (slot, &s) in payload.iter_mut().zip(&p.audio[p.position..end]) {
            *slot = self.params.law.encode(s);
        }
        p.position = end;
        let done = p.position >= p.audio.len();
        rtp::write(
            out,
            self.params.law.payload_type(),
            self.talk_spurt,
            self.sequence,
            ts,
            self.ssrc,
            &payload,
        );
        self.talk_spurt = false;
        self.sequence = self.sequence.wrapping_add(1);
        match self.socket.send_to(out, self.params.remote).await {
            Ok(_) => {
                self.stats.packets_sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tracing::trace!(error = %e, "rtp send"),
        }
        if done {
            self.finish_playing(false);
        }
    }

    fn receive(&mut self, data: &[u8], from: SocketAddr) {
        let Ok(packet) = Packet::parse(data) else {
            return;
        };
        self.stats.packets_received.fetch_add(1, Ordering::Relaxed);
        if !self.latched {
            // Symmetric RTP: answer where the caller's media comes from.
            self.params.remote = from;
            self.latched = true;
        } else if from != self.params.remote {
            // Media from elsewhere mid-call is ignored (no hijacking).
            return;
        }
        if Some(packet.payload_type) == self.params.dtmf_payload_type {
            if let Some(ev) = TelephoneEvent::parse(packet.payload) {
                if self.last_dtmf != Some(packet.timestamp) {
                    self.last_dtmf = Some(packet.timestamp);
                    if let Some(key) = ev.key {
                        self.emit(MediaEvent::Dtmf(key));
                    }
                }
            }
            return;
        }
        if packet.payload_type != self.params.law.payload_type() {
            return;
        }
        let law = self.params.law;
        self.pending
            .extend(packet.payload.iter().map(|&b| law.decode(b)));
        while self.pending.len() >= FRAME {
            let frame: Vec<i16> = self.pending.drain(..FRAME).collect();
            match self.endpointer.push(&frame) {
                Endpoint::None => {}
                Endpoint::Started => {
                    if self.playing.as_ref().is_some_and(|p| p.barge_in) {
                        self.finish_playing(true);
                    }
                    self.emit(MediaEvent::SpeechStarted);
                }
                Endpoint::Ended(clip) => self.emit(MediaEvent::Utterance(clip)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pair() -> (Media, UdpSocket, SocketAddr) {
        let bot = UdpSocket::bind("127.0.0.1:0").await.expect("binds");
        let bot_addr = bot.local_addr().expect("addr");
        let caller = UdpSocket::bind("127.0.0.1:0").await.expect("binds");
        let params = MediaParams {
            law: Law::Mu,
            dtmf_payload_type: Some(101),
            remote: caller.local_addr().expect("addr"),
            end_of_speech: endpoint::DEFAULT_END_OF_SPEECH,
        };
        (start(bot, params, 7), caller, bot_addr)
    }

    /// Sends 400 ms of a loud tone as PCMU.
    async fn talk(caller: &UdpSocket, to: SocketAddr) {
        let mut out = Vec::new();
        for i in 0..20u16 {
            let payload: Vec<u8> = (0..FRAME)
                .map(|n| Law::Mu.encode((12000.0 * (n as f32 * 0.35).sin()) as i16))
                .collect();
            rtp::write(&mut out, 0, i == 0, i, u32::from(i) * 160, 99, &payload);
            caller.send_to(&out, to).await.expect("sends");
        }
    }

    async fn next_event(media: &mut Media) -> MediaEvent {
        media.events.recv().await.expect("media task alive")
    }

    #[tokio::test]
    async fn caller_speech_stops_a_barge_in_prompt() {
        let (mut media, caller, bot) = pair().await;
        let audio: Arc<[i16]> = vec![1000i16; 8000 * 10].into();
        media
            .commands
            .send(MediaCommand::Play {
                id: 1,
                audio,
                barge_in: true,
            })
            .await
            .expect("sends");
        let mut buf = [0u8; 2048];
        caller
            .recv_from(&mut buf)
            .await
            .expect("the prompt's first packet");
        talk(&caller, bot).await;
        let mut seen = Vec::new();
        while !matches!(seen.last(), Some(MediaEvent::SpeechStarted)) {
            seen.push(next_event(&mut media).await);
        }
        assert_eq!(
            seen[0],
            MediaEvent::Played {
                id: 1,
                interrupted: true
            }
        );
    }

    #[tokio::test]
    async fn a_prompt_without_barge_in_plays_to_the_end() {
        let (mut media, caller, bot) = pair().await;
        let audio: Arc<[i16]> = vec![1000i16; 8000 / 2].into();
        media
            .commands
            .send(MediaCommand::Play {
                id: 2,
                audio,
                barge_in: false,
            })
            .await
            .expect("sends");
        let mut buf = [0u8; 2048];
        caller
            .recv_from(&mut buf)
            .await
            .expect("the prompt's first packet");
        talk(&caller, bot).await;
        let mut seen = Vec::new();
        while !matches!(seen.last(), Some(MediaEvent::Played { .. })) {
            seen.push(next_event(&mut media).await);
        }
        assert!(seen.contains(&MediaEvent::SpeechStarted), "{seen:?}");
        assert_eq!(
            seen.last(),
            Some(&MediaEvent::Played {
                id: 2,
                interrupted: false
            })
        );
        assert_eq!(media.stats.packets_sent.load(Ordering::Relaxed), 25);
    }

    #[tokio::test]
    async fn a_key_is_reported_once_for_its_repeated_packets() {
        let (mut media, caller, bot) = pair().await;
        let mut out = Vec::new();
        for (seq, ts, key, end) in [
            (1, 800, '5', false),
            (2, 800, '5', true),
            (3, 800, '5', true),
            (4, 1600, '#', true),
        ] {
            let payload = TelephoneEvent::encode(key, end, 400).expect("a key");
            rtp::write(&mut out, 101, seq == 1, seq, ts, 99, &payload);
            caller.send_to(&out, bot).await.expect("sends");
        }
        assert_eq!(next_event(&mut media).await, MediaEvent::Dtmf('5'));
        assert_eq!(next_event(&mut media).await, MediaEvent::Dtmf('#'));
    }
}
