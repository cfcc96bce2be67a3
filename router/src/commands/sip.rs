//! `vejviser sip`: the SIP/RTP voice front end, with the SMS outbox's
//! worker and the transcript store; [`start`] is shared with `vejviser
//! serve --sip`, which runs it beside the chat in one process.

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use router::media::{AsrRecogniser, NoRecogniser, Recognise};
use router::sip::{Clock, Server, SipSettings, SmsSending, TlsSettings};
use router::tts::{self, HttpVoice, Speech, SpeechConfig};

use crate::paths::Project;

#[derive(Args)]
pub(crate) struct SipArgs {
    /// Answer by DTMF only, without loading the speech recogniser.
    #[arg(long)]
    pub(crate) no_asr: bool,
    #[command(flatten)]
    pub(crate) asr: super::transcribe::AsrOptions,
    /// UDP address to listen on.
    #[arg(long, default_value = "0.0.0.0:5060")]
    pub(crate) udp: Option<SocketAddr>,
    /// TCP address to listen on.
    #[arg(long)]
    pub(crate) tcp: Option<SocketAddr>,
    /// TLS address to listen on (needs --tls-cert and --tls-key).
    #[arg(long, requires_all = ["tls_cert", "tls_key"])]
    pub(crate) tls: Option<SocketAddr>,
    /// PEM certificate chain for TLS.
    #[arg(long)]
    pub(crate) tls_cert: Option<std::path::PathBuf>,
    /// PEM private key for TLS.
    #[arg(long)]
    pub(crate) tls_key: Option<std::path::PathBuf>,
    /// The address the PBX reaches this machine at (Contact, SDP).
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) advertise: IpAddr,
    /// Calls answered at once; more get 503 with Retry-After.
    #[arg(long, default_value_t = 50)]
    pub(crate) max_calls: usize,
    /// A remote voice: an OpenAI-compatible `/v1/audio/speech` URL tried
    /// before espeak-ng (API key from VEJVISER_TTS_API_KEY, if set).
    #[arg(long)]
    pub(crate) tts_url: Option<String>,
    /// The remote voice's model.
    #[arg(long, default_value = "tts-1")]
    pub(crate) tts_model: String,
    /// The remote voice's voice name.
    #[arg(long, default_value = "da")]
    pub(crate) tts_voice: String,
    /// For tests of opening hours: the clock starts at this time
    /// (`2026-12-25T10:00:00+01:00`) and runs on from there.
    #[arg(long, hide = true)]
    pub(crate) now: Option<String>,
    /// Directory for the SQLite files: transcripts (vejviser.sqlite) and
    /// the SMS outbox (default: data/ in the project directory).
    #[arg(long)]
    pub(crate) data: Option<std::path::PathBuf>,
}

/// A SIP server ready to run and the SMS worker it sends through.
pub(crate) struct Voice {
    server: Server,
    worker: Option<sms_gateway::WorkerHandle>,
}

impl Voice {
    /// Answers calls until `stop` completes; then the SMS worker finishes
    /// the sends in flight.
    pub(crate) async fn run_until(self, stop: impl std::future::Future<Output = ()>) {
        tokio::select! {
            _ = self.server.run() => {}
            _ = stop => {}
        }
        if let Some(w) = self.worker {
            w.shutdown().await;
        }
    }
}

/// The options `vejviser serve --sip ADDR` runs the phone with: UDP and
/// TCP on `addr`, the defaults of `vejviser sip` for the rest.
pub(crate) fn serve_defaults(
    addr: SocketAddr,
    advertise: IpAddr,
    data: &std::path::Path,
) -> anyhow::Result<SipArgs> {
    #[derive(clap::Parser)]
    struct Wrap {
        #[command(flatten)]
        sip: SipArgs,
    }
    let addr = addr.to_string();
    let advertise = advertise.to_string();
    let data = data.to_string_lossy().into_owned();
    let argv = [
        "sip",
        "--udp",
        &addr,
        "--tcp",
        &addr,
        "--advertise",
        &advertise,
        "--data",
        &data,
    ];
    Ok(<Wrap as clap::Parser>::try_parse_from(argv)?.sip)
}

pub(crate) fn run(project: &Project, args: SipArgs) -> anyhow::Result<ExitCode> {
    // Logs go to stderr; RUST_LOG picks the level (default info).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let data = args
            .data
            .clone()
            .unwrap_or_else(|| project.root.join("data"));
        let store = transcripts::Store::open_in(&data).context("opening the transcript store")?;
        let voice = start(project, args, store, None, None).await?;
        voice
            .run_until(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Loads what a SIP server needs (flow, speech, recogniser, the SMS
/// set-up), binds it and prints the listening line; call it on the
/// runtime. Turns are stored in `store`; `config` is a snapshot already
/// loaded (by `serve`), or none to load one.
pub(crate) async fn start(
    project: &Project,
    args: SipArgs,
    store: transcripts::Store,
    config: Option<Arc<router::Config>>,
    sms: Option<SmsSending>,
) -> anyhow::Result<Voice> {
    let data = args
        .data
        .clone()
        .unwrap_or_else(|| project.root.join("data"));
    let clock = match &args.now {
        Some(t) => Clock::starting_at(
            t.parse::<jiff::Timestamp>()
                .with_context(|| format!("--now {t}: not an RFC 3339 time"))?,
        ),
        None => Clock::real(),
    };
    let config = match config {
        Some(c) => c,
        None => project.dialogue_config()?,
    };
    let recogniser: Arc<dyn Recognise> = if args.no_asr {
        Arc::new(NoRecogniser)
    } else {
        let whisper = args.asr.whisper_config(project)?;
        if whisper.model.is_file() {
            let local = asr::LocalRecognizer::start(whisper)?;
            Arc::new(AsrRecogniser(Arc::new(asr::Recognizer::new(
                None,
                Some(local),
            )?)))
        } else {
            tracing::warn!(model = %whisper.model.display(), "no speech model; calls answer by DTMF only (scripts/fetch-whisper makes it)");
            Arc::new(NoRecogniser)
        }
    };
    let mut speech_config =
        SpeechConfig::danish(tts::recordings_dir(&project.root, &project.municipality));
    speech_config.http = args.tts_url.map(|url| HttpVoice {
        url,
        model: args.tts_model,
        voice: args.tts_voice,
        api_key: std::env::var("VEJVISER_TTS_API_KEY").ok(),
        timeout: std::time::Duration::from_secs(5),
    });
    let (speech, missing) = Speech::load(speech_config, &config.flow.recordings)?;
    for m in missing {
        tracing::warn!(path = %m.display(), "recording missing; the prompt is synthesised");
    }
    let speech = Arc::new(speech);
    let settings = SipSettings {
        udp: args.udp,
        tcp: args.tcp,
        advertise: args.advertise,
        max_calls: args.max_calls,
        tls: match (args.tls, args.tls_cert, args.tls_key) {
            (Some(addr), Some(cert), Some(key)) => Some(TlsSettings { addr, cert, key }),
            _ => None,
        },
    };
    // A process that already runs an outbox worker (`serve`) hands its
    // outbox over; a second worker on the same outbox could send twice.
    let (sms, worker) = match sms {
        Some(sms) => (Some(sms), None),
        None => sms_setup(project, &data)?,
    };
    let recorder = router::record::Recorder::start(store, project.municipality.clone())
        .context("starting the transcript writer")?;
    {
        // Synthesise the greeting before the first call needs it.
        let greeting = config
            .flow
            .prompts
            .named()
            .iter()
            .find(|(n, _)| *n == "greeting")
            .map(|(_, t)| t.to_string());
        if let Some(g) = greeting {
            let text = router::text::render(&g, config.knowledge.settings(), &[]);
            if let Err(e) = speech.synthesise(&text.spoken).await {
                tracing::warn!(error = %e, "greeting could not be synthesised");
            }
        }
    }
    let mut server = Server::bind(config, speech, recogniser, settings, clock)
        .await?
        .with_recorder(recorder);
    if let Some(sms) = sms {
        server = server.with_sms(sms);
    }
    // Tests read the bound addresses from this line.
    println!(
        "vejviser sip listening udp={} tcp={} tls={}",
        server.udp_addr().map_or("-".into(), |a| a.to_string()),
        server.tcp_addr().map_or("-".into(), |a| a.to_string()),
        server.tls_addr().map_or("-".into(), |a| a.to_string()),
    );
    Ok(Voice { server, worker })
}

/// The outbox and its worker (one per process) from `sms.yaml`; none,
/// with a warning, when the municipality has no `sms.yaml`: then callers
/// are offered no SMS.
fn sms_setup(
    project: &Project,
    data: &std::path::Path,
) -> anyhow::Result<(Option<SmsSending>, Option<sms_gateway::WorkerHandle>)> {
    let files = super::sms::SmsFiles::in_data(data.to_path_buf());
    if !files.config_path(project).is_file() {
        tracing::warn!("no sms.yaml for this municipality; callers are offered no sms");
        return Ok((None, None));
    }
    let (config, _) = super::sms::load_config(project, &files)?;
    let outbox = super::sms::open_outbox(&files.data_dir(project)?, &config)?;
    let provider = super::sms::provider(&config, data)?;
    let options = sms_gateway::WorkerOptions::from(&config.outbox);
    let worker = sms_gateway::Worker::new(outbox.clone(), provider, options).spawn();
    Ok((Some(SmsSending::new(outbox, config)), Some(worker)))
}
