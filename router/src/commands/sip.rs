//! `vejviser sip`: the SIP/RTP voice front end.

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use router::media::{AsrRecogniser, NoRecogniser, Recognise};
use router::sip::{Clock, Server, SipSettings, TlsSettings};
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
    let clock = match &args.now {
        Some(t) => Clock::starting_at(
            t.parse::<jiff::Timestamp>()
                .with_context(|| format!("--now {t}: not an RFC 3339 time"))?,
        ),
        None => Clock::real(),
    };
    let config = Arc::new(
        project
            .config(&project.root.join("flows"))?
            .inspect_err(|e| {
                for p in e.problems() {
                    eprintln!("{p}");
                }
            })?,
    );
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
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
        let server = Server::bind(config, speech, recogniser, settings, clock).await?;
        // Tests read the bound addresses from this line.
        println!(
            "vejviser sip listening udp={} tcp={} tls={}",
            server.udp_addr().map_or("-".into(), |a| a.to_string()),
            server.tcp_addr().map_or("-".into(), |a| a.to_string()),
            server.tls_addr().map_or("-".into(), |a| a.to_string()),
        );
        tokio::select! {
            _ = server.run() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
