//! `vejviser bench voice`: time from the caller's key press (the end of
//! an RFC 4733 event) to the first RTP packet of the bot's answer, at 1
//! and at 10 concurrent calls, and memory per call.
//!
//! The server runs in this process on loopback ports; each simulated
//! caller is a small SIP/RTP client written here (INVITE, ACK, wait for
//! the greeting, press 2 for the waste-collection answer, BYE). Prompts
//! are synthesised by espeak-ng and cached, as in service; the first call
//! of a run pays for the synthesis and is reported apart.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use router::media::rtp::{self, Packet, TelephoneEvent};
use router::media::NoRecogniser;
use router::sip::message::{Message, Start};
use router::sip::{Clock, Server, SipSettings};
use router::tts::{self, Speech, SpeechConfig};
use tokio::net::UdpSocket;

use crate::paths::Project;

/// A weekday morning, so the menu's answers are not out-of-hours ones.
const BENCH_TIME: &str = "2026-11-24T10:00:00+01:00";

pub(crate) fn run(project: &Project, calls: usize) -> anyhow::Result<ExitCode> {
    let config = Arc::new(router::load(&project.root, &project.municipality)?);
    let (speech, _) = Speech::load(
        SpeechConfig::danish(tts::recordings_dir(&project.root, &project.municipality)),
        &config.flow.recordings,
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let settings = SipSettings {
            udp: Some("127.0.0.1:0".parse()?),
            tcp: None,
            advertise: "127.0.0.1".parse()?,
            max_calls: 100,
            tls: None,
        };
        let clock = Clock::starting_at(BENCH_TIME.parse()?);
        let server = Server::bind(config, Arc::new(speech), Arc::new(NoRecogniser), settings, clock).await?;
        let bot = server.udp_addr().context("no udp address")?;
        tokio::spawn(server.run());
        println!("voice benchmark: key press (RFC 4733) to first RTP packet of the answer, loopback, espeak-ng prompts");
        let first = one_call(bot, 0).await?;
        println!("first call (answer synthesised): {:.0} ms", ms(first.latency));
        let base_rss = rss_kib();
        for concurrency in [1usize, 10] {
            let mut latencies = Vec::new();
            let mut peak_rss = 0;
            let rounds = calls.div_ceil(concurrency).max(1);
            for round in 0..rounds {
                let mut set = tokio::task::JoinSet::new();
                for i in 0..concurrency {
                    set.spawn(one_call(bot, (round * concurrency + i + 1) as u32));
                }
                while let Some(r) = set.join_next().await {
                    let r = r??;
                    latencies.push(r.latency);
                    peak_rss = peak_rss.max(r.rss_kib);
                }
            }
            latencies.sort();
            let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
            println!(
                "{concurrency:>2} concurrent: {} calls, median {:.0} ms, p95 {:.0} ms, max {:.0} ms",
                latencies.len(),
                ms(pick(0.5)),
                ms(pick(0.95)),
                ms(pick(1.0))
            );
            if concurrency > 1 {
                let per_call = peak_rss.saturating_sub(base_rss) as f64 / concurrency as f64;
                println!(
                    "memory: {base_rss} KiB resident between calls, {peak_rss} KiB at {concurrency} calls: about {per_call:.0} KiB per call"
                );
            }
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Resident memory of this process, KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

struct CallResult {
    latency: Duration,
    rss_kib: u64,
}

async fn recv_sip(
    sock: &UdpSocket,
    call_id: &str,
    want: impl Fn(&Message) -> bool,
) -> anyhow::Result<Message> {
    let mut buf = vec![0u8; 65536];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (n, _) = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf))
            .await
            .context("no sip answer")??;
        if let Ok(m) = Message::parse(&buf[..n]) {
            if m.call_id() == Some(call_id) && want(&m) {
                return Ok(m);
            }
        }
    }
}

async fn one_call(bot: SocketAddr, n: u32) -> anyhow::Result<CallResult> {
    let sip = UdpSocket::bind("127.0.0.1:0").await?;
    let media = UdpSocket::bind("127.0.0.1:0").await?;
    let local = sip.local_addr()?;
    let media_port = media.local_addr()?.port();
    let call_id = format!("bench-{n}-{}", std::process::id());
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {media_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    );
    let head = |method: &str, cseq: u32, to_tag: &str| {
        format!(
            "{method} sip:vejviser@{bot} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{n}{method}\r\n\
             From: <sip:bench@{local}>;tag=b{n}\r\nTo: <sip:vejviser@{bot}>{to_tag}\r\nCall-ID: {call_id}\r\n\
             CSeq: {cseq} {method}\r\nContact: <sip:bench@{local}>\r\nMax-Forwards: 70\r\n"
        )
    };
    let invite = format!(
        "{}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        head("INVITE", 1, ""),
        sdp.len()
    );
    sip.send_to(invite.as_bytes(), bot).await?;
    let ok = recv_sip(
        &sip,
        &call_id,
        |m| matches!(m.start, Start::Response { code } if code >= 200),
    )
    .await?;
    if ok.start != (Start::Response { code: 200 }) {
        bail!("call {n} refused: {:?}", ok.start);
    }
    let to_tag = format!(";tag={}", ok.tag("to").unwrap_or_default());
    sip.send_to(
        format!("{}Content-Length: 0\r\n\r\n", head("ACK", 1, &to_tag)).as_bytes(),
        bot,
    )
    .await?;
    // The greeting's first packet tells where the bot's media is.
    let mut buf = vec![0u8; 2048];
    let (_, bot_media) = tokio::time::timeout(Duration::from_secs(10), media.recv_from(&mut buf))
        .await
        .context("no greeting audio")??;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Press 2: a start packet, then the end packet three times.
    let mut out = Vec::new();
    let ssrc = 0x1234_0000 | n;
    let ts = 8000;
    for (i, (end, duration)) in [
        (false, 160u16),
        (false, 320),
        (true, 640),
        (true, 640),
        (true, 640),
    ]
    .into_iter()
    .enumerate()
    {
        let payload = TelephoneEvent::encode('2', end, duration).context("a key")?;
        rtp::write(&mut out, 101, i == 0, i as u16, ts, ssrc, &payload);
        media.send_to(&out, bot_media).await?;
    }
    let pressed = Instant::now();
    let latency = loop {
        let (len, _) = tokio::time::timeout(Duration::from_secs(15), media.recv_from(&mut buf))
            .await
            .context("no answer audio")??;
        if let Ok(p) = Packet::parse(&buf[..len]) {
            if p.marker {
                break pressed.elapsed();
            }
        }
    };
    let rss = rss_kib();
    sip.send_to(
        format!("{}Content-Length: 0\r\n\r\n", head("BYE", 2, &to_tag)).as_bytes(),
        bot,
    )
    .await?;
    let _ = recv_sip(&sip, &call_id, |m| {
        m.cseq().is_some_and(|(_, method)| method == "BYE")
    })
    .await;
    Ok(CallResult {
        latency,
        rss_kib: rss,
    })
}
