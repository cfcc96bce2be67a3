//! The SIP front end end to end: the real `vejviser sip` binary on
//! loopback ports, sipp as the caller (scenarios in `tests/sipp/`).

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn scenario(name: &str) -> String {
    repo()
        .join("tests/sipp")
        .join(name)
        .to_str()
        .expect("utf-8 path")
        .to_string()
}

/// A free loopback UDP port (bound and released).
fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("binds")
        .port()
}

/// A running `vejviser sip`; killed when dropped.
struct Bot {
    child: Child,
    udp: SocketAddr,
    tcp: SocketAddr,
    log: PathBuf,
    /// The data directory: transcripts and the SMS outbox.
    data: PathBuf,
    _dir: tempfile::TempDir,
}

impl Bot {
    /// Starts the bot with the clock at `now`.
    fn start(now: &str, max_calls: usize) -> Bot {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("stderr.log");
        let data = dir.path().join("data");
        let stderr = std::fs::File::create(&log).expect("log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_vejviser"))
            .args([
                "--root",
                repo().to_str().expect("utf-8 path"),
                "sip",
                "--no-asr",
            ])
            .args(["--udp", "127.0.0.1:0", "--tcp", "127.0.0.1:0"])
            .args(["--advertise", "127.0.0.1", "--now", now])
            .args(["--max-calls", &max_calls.to_string()])
            .arg("--data")
            .arg(&data)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("vejviser starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("reads the listening line");
        let udp = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("udp="))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no udp address in {line:?}"));
        let tcp = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("tcp="))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no tcp address in {line:?}"));
        Bot {
            child,
            udp,
            tcp,
            log,
            data,
            _dir: dir,
        }
    }

    /// Starts `vejviser serve --sip`: the chat and the phone in one
    /// process; returns the bot and the chat's base URL.
    fn serve() -> (Bot, String) {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("stderr.log");
        let data = dir.path().join("data");
        let stderr = std::fs::File::create(&log).expect("log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_vejviser"))
            .args(["--root", repo().to_str().expect("utf-8 path")])
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(&data)
            .args(["--sip", "127.0.0.1:0", "--sip-advertise", "127.0.0.1"])
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("vejviser starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut sip_line = String::new();
        let base = loop {
            let line = lines.next().expect("the listening lines").expect("utf-8");
            if line.starts_with("vejviser sip listening") {
                sip_line = line;
            } else if let Some(at) = line.find("http://") {
                break line[at..].trim().to_string();
            }
        };
        std::thread::spawn(move || for _ in lines.by_ref() {});
        let addr = |key: &str| -> SocketAddr {
            sip_line
                .split_whitespace()
                .find_map(|w| w.strip_prefix(key))
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("no {key} address in {sip_line:?}"))
        };
        let bot = Bot {
            child,
            udp: addr("udp="),
            tcp: addr("tcp="),
            log,
            data,
            _dir: dir,
        };
        (bot, base)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits until the log holds `n` lines with `needle`.
    fn wait_for(&self, needle: &str, n: usize) -> bool {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.log().matches(needle).count() >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs sipp against the bot; returns whether every call succeeded, and its output.
fn sipp(bot: &Bot, scenario_file: &str, calls: usize, extra: &[&str]) -> (bool, String) {
    let target = if extra.contains(&"t1") {
        bot.tcp
    } else {
        bot.udp
    };
    let out = Command::new("sipp")
        .arg(target.to_string())
        .args(["-sf", &scenario(scenario_file)])
        .args(["-i", "127.0.0.1", "-p", &free_port().to_string()])
        .args(["-mp", &free_port().to_string()])
        .args(["-m", &calls.to_string(), "-l", &calls.to_string()])
        .args(["-r", &calls.to_string(), "-rp", "1000"])
        .args(["-timeout", "60s", "-timeout_error", "-nostdin"])
        .args(extra)
        .output()
        .expect("sipp runs (scripts/setup-voice installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A weekday morning: every department answers the phone.
const OPEN: &str = "2026-11-24T10:00:00+01:00";
/// Christmas Day: every department is closed.
const CLOSED: &str = "2026-12-25T10:00:00+01:00";

#[test]
fn greeting_audio_arrives_as_paced_rtp_and_bye_ends_the_call() {
    let bot = Bot::start(OPEN, 10);
    let rtp = UdpSocket::bind("127.0.0.1:0").expect("binds");
    rtp.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let port = rtp.local_addr().expect("addr").port().to_string();
    let receiver = std::thread::spawn(move || {
        let mut packets: Vec<(Instant, Vec<u8>)> = Vec::new();
        let mut buf = [0u8; 2048];
        let deadline = Instant::now() + Duration::from_secs(8);
        while Instant::now() < deadline {
            if let Ok(n) = rtp.recv(&mut buf) {
                packets.push((Instant::now(), buf[..n].to_vec()));
            }
        }
        packets
    });
    let (ok, out) = sipp(&bot, "greeting.xml", 1, &["-set", "rtpport", &port]);
    assert!(ok, "sipp failed:\n{out}\n{}", bot.log());
    let packets = receiver.join().expect("receiver thread");
    // 2.5 s of greeting at one packet per 20 ms, give or take start-up.
    assert!(packets.len() >= 80, "only {} rtp packets", packets.len());
    let first = &packets[0].1;
    assert_eq!(first[0] >> 6, 2, "rtp version");
    assert_eq!(first[1] & 0x7f, 0, "pcmu payload type");
    assert!(first[1] & 0x80 != 0, "marker bit on the first packet");
    for pair in packets.windows(2) {
        let (a, b) = (&pair[0].1, &pair[1].1);
        assert_eq!(b.len(), 12 + 160, "20 ms of pcmu");
        let seq = |p: &[u8]| u16::from_be_bytes([p[2], p[3]]);
        let ts = |p: &[u8]| u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
        assert_eq!(seq(b), seq(a).wrapping_add(1), "sequence numbers");
        assert_eq!(ts(b), ts(a).wrapping_add(160), "timestamps");
        assert_eq!(b[1] & 0x80, 0, "no marker inside the talk spurt");
    }
    // Paced in real time: the packets span about 20 ms each.
    let span = packets[packets.len() - 1].0 - packets[0].0;
    let expected = Duration::from_millis(20 * (packets.len() as u64 - 1));
    assert!(
        span + Duration::from_millis(300) >= expected
            && span <= expected + Duration::from_millis(300),
        "{} packets over {span:?}",
        packets.len()
    );
    assert!(bot.wait_for("call ended", 1), "{}", bot.log());
    assert!(bot.log().contains("outcome=abandoned"), "{}", bot.log());
}

#[test]
fn refer_sent_for_open_department_chosen_by_dtmf() {
    let bot = Bot::start(OPEN, 10);
    let (ok, out) = sipp(&bot, "dtmf_refer.xml", 1, &[]);
    assert!(ok, "sipp failed:\n{out}\n{}", bot.log());
    assert!(bot.wait_for("call ended", 1), "{}", bot.log());
    let log = bot.log();
    assert!(log.contains("transfer completed"), "{log}");
    assert!(log.contains("outcome=transferred:jobcenter"), "{log}");
}

#[test]
fn closed_department_gets_the_out_of_hours_message_not_a_refer() {
    let bot = Bot::start(CLOSED, 10);
    let (ok, out) = sipp(&bot, "dtmf_closed.xml", 1, &[]);
    assert!(
        ok,
        "sipp failed (a REFER would be unexpected):\n{out}\n{}",
        bot.log()
    );
    assert!(bot.wait_for("call ended", 1), "{}", bot.log());
    let log = bot.log();
    assert!(
        log.contains("handover department=jobcenter open_now=false"),
        "{log}"
    );
    assert!(!log.contains("transfer requested"), "{log}");
}

#[test]
fn twenty_concurrent_calls_all_complete() {
    let bot = Bot::start(OPEN, 25);
    let (ok, out) = sipp(&bot, "call_bye.xml", 20, &[]);
    assert!(ok, "sipp failed:\n{out}\n{}", bot.log());
    assert!(bot.wait_for("call ended", 20), "{}", bot.log());
}

#[test]
fn calls_beyond_the_cap_get_503_with_retry_after() {
    let bot = Bot::start(OPEN, 1);
    let sock = UdpSocket::bind("127.0.0.1:0").expect("binds");
    sock.set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    let local = sock.local_addr().expect("addr");
    let invite = |n: u32| {
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n";
        format!(
            "INVITE sip:vejviser@{bot} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{n}\r\n\
             From: <sip:t@{local}>;tag=t{n}\r\nTo: <sip:vejviser@{bot}>\r\nCall-ID: cap-{n}\r\n\
             CSeq: 1 INVITE\r\nContact: <sip:t@{local}>\r\nMax-Forwards: 70\r\n\
             Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len(),
            bot = bot.udp
        )
    };
    let finals = |call: &str| -> Vec<String> {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(n) = sock.recv(&mut buf) {
                let m = String::from_utf8_lossy(&buf[..n]).to_string();
                if m.contains(call) && !m.starts_with("SIP/2.0 1") {
                    got.push(m);
                    break;
                }
            }
        }
        got
    };
    sock.send_to(invite(1).as_bytes(), bot.udp).expect("sends");
    let first = finals("cap-1");
    assert!(
        first.first().is_some_and(|m| m.starts_with("SIP/2.0 200")),
        "{first:?}"
    );
    sock.send_to(invite(2).as_bytes(), bot.udp).expect("sends");
    let second = finals("cap-2");
    let refused = second.first().expect("an answer to the second call");
    assert!(refused.starts_with("SIP/2.0 503"), "{refused}");
    assert!(refused.contains("Retry-After: 30"), "{refused}");
}

#[test]
fn garbage_datagrams_do_not_stop_the_next_call() {
    let mut bot = Bot::start(OPEN, 10);
    let sock = UdpSocket::bind("127.0.0.1:0").expect("binds");
    let mut garbage: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"\r\n\r\n".to_vec(),
        b"INVITE sip:x SIP/2.0\r\n\r\n".to_vec(),
        b"INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9\r\nContent-Length: 99999\r\n\r\n".to_vec(),
        b"SIP/2.0 200 OK\r\nCall-ID: nobody\r\n\r\n".to_vec(),
        b"BYE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: unknown\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n".to_vec(),
        vec![0xff; 60_000],
    ];
    // Deterministic noise: a linear congruential sequence of bytes.
    let mut x: u32 = 12345;
    for len in [1usize, 13, 200, 1400, 9000] {
        garbage.push(
            (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect(),
        );
    }
    for g in &garbage {
        let _ = sock.send_to(g, bot.udp);
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(bot.is_running(), "{}", bot.log());
    let (ok, out) = sipp(&bot, "call_bye.xml", 1, &[]);
    assert!(ok, "sipp failed after garbage:\n{out}\n{}", bot.log());
    assert!(bot.is_running());
}

#[test]
fn a_call_over_tcp_completes() {
    let bot = Bot::start(OPEN, 10);
    let (ok, out) = sipp(&bot, "call_bye.xml", 1, &["-t", "t1"]);
    assert!(ok, "sipp failed:\n{out}\n{}", bot.log());
    assert!(bot.wait_for("call ended", 1), "{}", bot.log());
}

#[test]
fn refused_transfer_falls_back_to_the_number_and_the_call_goes_on() {
    let bot = Bot::start(OPEN, 10);
    let (ok, out) = sipp(&bot, "dtmf_refer_declined.xml", 1, &[]);
    assert!(ok, "sipp failed:\n{out}\n{}", bot.log());
    assert!(bot.wait_for("call ended", 1), "{}", bot.log());
    let log = bot.log();
    assert!(
        log.contains("transfer failed department=jobcenter"),
        "{log}"
    );
    // The caller heard the number and then hung up themselves.
    assert!(log.contains("outcome=handed-over:jobcenter"), "{log}");
    let call = stored_call(&bot);
    assert_eq!(call.outcome.as_deref(), Some("handed_over"), "{call:?}");
    assert!(
        call.bot_text()
            .contains("ikke stille dig om til Jobcenter. Du kan selv ringe på"),
        "{call:?}"
    );
    // Not a mobile number: no SMS offered.
    assert!(!call.bot_text().contains("sendt på sms"), "{call:?}");
}

#[test]
fn failed_transfer_reported_by_notify_offers_the_number_by_sms() {
    let bot = Bot::start(OPEN, 10);
    let (ok, out) = sipp(&bot, "dtmf_refer_notify_failed.xml", 1, &[]);
    assert!(ok, "sipp failed:\n{out}\n{}", bot.log());
    assert!(bot.wait_for("call ended", 1), "{}", bot.log());
    assert!(
        bot.log().contains("transfer failed department=jobcenter"),
        "{}",
        bot.log()
    );
    let call = stored_call(&bot);
    assert_eq!(call.outcome.as_deref(), Some("sms_sent"), "{call:?}");
    assert!(
        call.bot_text().contains("nummeret sendt på sms"),
        "{call:?}"
    );
    let sent = wait_for_sms(&bot, 1);
    assert_eq!(sent[0]["to"], "+45******78", "{sent:?}");
    let text = sent[0]["text"].as_str().expect("text");
    assert!(text.contains("Jobcenter på 70 10 20 40"), "{text}");
    assert_no_number_stored(&bot);
}

#[test]
fn sms_consented_by_key_goes_through_the_outbox_and_the_call_is_stored() {
    let bot = Bot::start(OPEN, 10);
    let (ok, out) = sipp(&bot, "dtmf_sms.xml", 1, &[]);
    assert!(ok, "sipp failed:\n{out}\n{}", bot.log());
    assert!(bot.wait_for("call ended", 1), "{}", bot.log());
    let log = bot.log();
    assert!(log.contains("sms queued"), "{log}");
    assert!(log.contains("outcome=sms-sent"), "{log}");
    // One message, to the caller, with the answer's link in the
    // municipality's template from sms.yaml.
    let sent = wait_for_sms(&bot, 1);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["to"], "+45******78", "{sent:?}");
    assert_eq!(sent[0]["from"], "EksKommune", "{sent:?}");
    let outbox = rusqlite::Connection::open(bot.data.join("sms-outbox.sqlite3")).expect("outbox");
    let (link, state): (String, String) = outbox
        .query_row("SELECT link_id, state FROM messages", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("one message");
    assert!(link.starts_with("https://"), "{link}");
    assert_eq!(state, "sent");
    let text = sent[0]["text"].as_str().expect("text");
    assert!(
        text.starts_with("Hej. Her er linket fra Eksempel Kommune:") && text.contains(&link),
        "{text}"
    );
    // The call's turns: the keys, the answer, the SMS.
    let call = stored_call(&bot);
    assert_eq!(call.channel, "voice");
    assert_eq!(call.outcome.as_deref(), Some("sms_sent"), "{call:?}");
    let citizen: Vec<&str> = call
        .turns
        .iter()
        .filter(|(speaker, _, _)| speaker == "citizen")
        .map(|(_, text, _)| text.as_str())
        .collect();
    assert_eq!(citizen, ["[tast 2]", "[tast 1]"], "{call:?}");
    assert!(
        call.turns
            .iter()
            .any(|(_, _, topic)| topic.as_deref() == Some("affald.toemning")),
        "{call:?}"
    );
    let bot_text = call.bot_text();
    assert!(
        bot_text.contains("Tryk 1 for ja eller 2 for nej"),
        "{call:?}"
    );
    assert!(bot_text.contains(&format!("[sms med {link}]")), "{call:?}");
    assert!(bot_text.contains("Du får en sms"), "{call:?}");
    assert_no_number_stored(&bot);
}

/// The one conversation in the bot's transcript store.
#[derive(Debug)]
struct StoredCall {
    channel: String,
    outcome: Option<String>,
    /// Speaker, text, topic.
    turns: Vec<(String, String, Option<String>)>,
}

impl StoredCall {
    fn bot_text(&self) -> String {
        self.turns
            .iter()
            .filter(|(speaker, _, _)| speaker == "bot")
            .map(|(_, text, _)| text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Waits (the store is written by its own thread) until the call has
/// ended in the store, and reads it.
fn stored_call(bot: &Bot) -> StoredCall {
    let path = bot.data.join("vejviser.sqlite");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let db = rusqlite::Connection::open(&path).expect("transcript store");
        let row = db.query_row(
            "SELECT id, channel, outcome FROM conversations WHERE ended_at IS NOT NULL",
            [],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            },
        );
        if let Ok((id, channel, outcome)) = row {
            let mut stmt = db
                .prepare(
                    "SELECT speaker, text, topic FROM turns WHERE conversation_id = ?1 ORDER BY id",
                )
                .expect("prepares");
            let turns = stmt
                .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .expect("queries")
                .collect::<Result<Vec<_>, _>>()
                .expect("rows");
            return StoredCall {
                channel,
                outcome,
                turns,
            };
        }
        assert!(
            Instant::now() < deadline,
            "no ended call in the store\n{}",
            bot.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The file provider's lines, once there are `n`.
fn wait_for_sms(bot: &Bot, n: usize) -> Vec<serde_json::Value> {
    let path = bot.data.join("sms-sent.jsonl");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        if lines.len() >= n {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "{} sms sent\n{}",
            lines.len(),
            bot.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The caller's number is in no byte of the transcript store's files (the
/// database, its WAL) nor in the log.
fn assert_no_number_stored(bot: &Bot) {
    let needles: [&[u8]; 3] = [b"22345678", b"22 34 56 78", b"2234 5678"];
    for entry in std::fs::read_dir(&bot.data).expect("data dir").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("vejviser.sqlite") {
            continue;
        }
        let bytes = std::fs::read(entry.path()).expect("reads");
        for n in needles {
            assert!(
                !bytes.windows(n.len()).any(|w| w == n),
                "{name} holds the caller's number"
            );
        }
    }
    assert!(!bot.log().contains("22345678"), "{}", bot.log());
}

#[test]
fn options_keepalive_gets_200_with_allow() {
    let bot = Bot::start(OPEN, 10);
    let sock = UdpSocket::bind("127.0.0.1:0").expect("binds");
    sock.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let local = sock.local_addr().expect("addr");
    let options = format!(
        "OPTIONS sip:vejviser@{bot} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKopt\r\n\
         From: <sip:pbx@{local}>;tag=p1\r\nTo: <sip:vejviser@{bot}>\r\nCall-ID: opt-1\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        bot = bot.udp
    );
    sock.send_to(options.as_bytes(), bot.udp).expect("sends");
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).expect("an answer");
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("SIP/2.0 200 OK\r\n"), "{answer}");
    assert!(
        answer.contains("Allow: INVITE, ACK, BYE, CANCEL, OPTIONS"),
        "{answer}"
    );
    assert!(answer.contains("branch=z9hG4bKopt"), "{answer}");
}

/// A bare SIP caller on a UDP socket, for what sipp scenarios do not reach.
struct RawCaller {
    sock: UdpSocket,
    bot: SocketAddr,
    local: SocketAddr,
}

impl RawCaller {
    fn new(bot: SocketAddr) -> RawCaller {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("binds");
        sock.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let local = sock.local_addr().expect("addr");
        RawCaller { sock, bot, local }
    }

    fn send_with_tag(&self, method: &str, cseq: u32, to_tag: &str, from_tag: &str) {
        let msg = format!(
            "{method} sip:vejviser@{bot} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{cseq}{method}x\r\n\
             From: <sip:caller@{local}>;tag={from_tag}\r\nTo: <sip:vejviser@{bot}>{to_tag}\r\nCall-ID: raw-1\r\n\
             CSeq: {cseq} {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            bot = self.bot,
            local = self.local
        );
        self.sock.send_to(msg.as_bytes(), self.bot).expect("sends");
    }

    fn send(&self, method: &str, cseq: u32, to_tag: &str, rtp_port: Option<u16>) {
        let sdp = rtp_port.map(|p| {
            format!(
                "v=0\r\no=- 1 {cseq} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                 m=audio {p} RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
            )
        });
        let body = sdp.unwrap_or_default();
        let ctype = if body.is_empty() {
            ""
        } else {
            "Content-Type: application/sdp\r\n"
        };
        let msg = format!(
            "{method} sip:vejviser@{bot} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{cseq}{method}\r\n\
             From: <sip:caller@{local}>;tag=raw\r\nTo: <sip:vejviser@{bot}>{to_tag}\r\nCall-ID: raw-1\r\n\
             CSeq: {cseq} {method}\r\nContact: <sip:caller@{local}>\r\nMax-Forwards: 70\r\n\
             {ctype}Content-Length: {}\r\n\r\n{body}",
            body.len(),
            bot = self.bot,
            local = self.local
        );
        self.sock.send_to(msg.as_bytes(), self.bot).expect("sends");
    }

    /// The next final response to `method`.
    fn final_response(&self, method: &str) -> String {
        let mut buf = [0u8; 8192];
        loop {
            let n = self.sock.recv(&mut buf).expect("a response in time");
            let m = String::from_utf8_lossy(&buf[..n]).to_string();
            if m.starts_with("SIP/2.0 ")
                && !m.starts_with("SIP/2.0 1")
                && m.contains(&format!(" {method}\r\n"))
            {
                return m;
            }
        }
    }
}

fn count_rtp(sock: &UdpSocket, within: Duration) -> usize {
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 2048];
    let mut n = 0;
    while Instant::now() < deadline {
        if let Ok(len) = sock.recv(&mut buf) {
            // PCMA, as offered.
            if len == 172 && buf[1] & 0x7f == 8 {
                n += 1;
            }
        }
    }
    n
}

#[test]
fn reinvite_moves_the_media_and_bye_from_the_caller_ends_the_call() {
    let bot = Bot::start(OPEN, 10);
    let first_rtp = UdpSocket::bind("127.0.0.1:0").expect("binds");
    let second_rtp = UdpSocket::bind("127.0.0.1:0").expect("binds");
    let port = |s: &UdpSocket| s.local_addr().expect("addr").port();
    let caller = RawCaller::new(bot.udp);
    caller.send("INVITE", 1, "", Some(port(&first_rtp)));
    let ok = caller.final_response("INVITE");
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    assert!(ok.contains("a=rtpmap:8 PCMA/8000"), "{ok}");
    let to_tag = ok
        .lines()
        .find(|l| l.starts_with("To:"))
        .and_then(|l| l.split(";tag=").nth(1))
        .expect("a to tag")
        .trim()
        .to_string();
    let to_tag = format!(";tag={to_tag}");
    caller.send("ACK", 1, &to_tag, None);
    assert!(count_rtp(&first_rtp, Duration::from_millis(500)) > 10);
    caller.send("INVITE", 2, &to_tag, Some(port(&second_rtp)));
    let ok2 = caller.final_response("INVITE");
    assert!(ok2.starts_with("SIP/2.0 200"), "{ok2}");
    caller.send("ACK", 2, &to_tag, None);
    // Drain what was in flight, then the greeting goes to the new port.
    let _ = count_rtp(&first_rtp, Duration::from_millis(200));
    assert!(count_rtp(&second_rtp, Duration::from_millis(500)) > 10);
    assert_eq!(count_rtp(&first_rtp, Duration::from_millis(300)), 0);
    // A BYE that only knows the Call-ID (another From tag) ends nothing.
    let stranger = RawCaller::new(bot.udp);
    stranger.send_with_tag("BYE", 3, &to_tag, "stranger");
    assert!(stranger.final_response("BYE").starts_with("SIP/2.0 481"));
    assert!(count_rtp(&second_rtp, Duration::from_millis(300)) > 5);
    caller.send("BYE", 3, &to_tag, None);
    assert!(caller.final_response("BYE").starts_with("SIP/2.0 200"));
    assert!(bot.wait_for("call ended", 1), "{}", bot.log());
}

#[test]
fn options_over_tls_get_200() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    // A throwaway self-signed certificate for localhost.
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_vejviser"))
        .args([
            "--root",
            repo().to_str().expect("utf-8 path"),
            "sip",
            "--no-asr",
        ])
        .args(["--udp", "127.0.0.1:0", "--tls", "127.0.0.1:0"])
        .arg("--data")
        .arg(dir.path().join("data"))
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("vejviser starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("reads the listening line");
    let tls_addr: SocketAddr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("tls="))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no tls address in {line:?}"));

    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(&cert).expect("pem") {
        roots.add(c.expect("cert")).expect("adds");
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).expect("client");
    let tcp = std::net::TcpStream::connect(tls_addr).expect("connects");
    tcp.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let options =
        "OPTIONS sip:vejviser@localhost SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKtls\r\n\
         From: <sips:pbx@localhost>;tag=t1\r\nTo: <sips:vejviser@localhost>\r\nCall-ID: tls-1\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    tls.write_all(options.as_bytes()).expect("writes");
    let mut buf = [0u8; 4096];
    let n = tls.read(&mut buf).expect("an answer over tls");
    let answer = String::from_utf8_lossy(&buf[..n]);
    let _ = child.kill();
    let _ = child.wait();
    assert!(answer.starts_with("SIP/2.0 200 OK\r\n"), "{answer}");
    assert!(answer.contains("branch=z9hG4bKtls"), "{answer}");
}

#[test]
fn serve_with_sip_answers_chat_and_calls_in_one_process() {
    let (bot, base) = Bot::serve();
    let health = reqwest::blocking::get(format!("{base}/health")).expect("health");
    assert!(health.status().is_success());
    let (ok, out) = sipp(&bot, "dtmf_sms.xml", 1, &[]);
    assert!(ok, "sipp failed:\n{out}\n{}", bot.log());
    assert!(bot.wait_for("call ended", 1), "{}", bot.log());
    // The SMS worker runs in the same process, on the same data directory.
    let sent = wait_for_sms(&bot, 1);
    assert_eq!(sent[0]["to"], "+45******78", "{sent:?}");
    let call = stored_call(&bot);
    assert_eq!(call.outcome.as_deref(), Some("sms_sent"), "{call:?}");
    assert_no_number_stored(&bot);
}
