//! `vejviser serve`: the HTTP server — citizen chat page, embeddable
//! widget, chat API, health, and the analysts' views.
//!
//! A thin async shell: each chat turn is handed to the sans-I/O
//! [`router::dialogue::Dialogue`] on a blocking thread, and what it returns
//! is rendered for the browser. The configuration snapshot
//! ([`router::Config`]) is reloaded when files change; a snapshot that
//! fails validation never replaces the working one, and the error is shown
//! on `/health`.

mod chat;
mod limits;
mod record;
mod sms;
mod webhook;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use router::Config;
use transcripts::{Scrubber, Store};

use crate::paths::Project;

/// How often the files are checked for changes.
const RELOAD_POLL: Duration = Duration::from_secs(2);
/// How often idle chat sessions are closed and old transcripts deleted.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Options of `vejviser serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,
    /// Directory for the SQLite files (transcripts, users, SMS outbox).
    #[arg(long, default_value = "data")]
    pub(crate) data: PathBuf,
    /// Delete transcripts older than this many days.
    #[arg(long, default_value_t = 90)]
    pub(crate) retention_days: u32,
    /// Also answer phone calls: SIP over UDP and TCP on this address
    /// (e.g. 0.0.0.0:5060), with the SMS outbox's worker. Off by default.
    #[arg(long)]
    pub(crate) sip: Option<SocketAddr>,
    /// With --sip: the address the PBX reaches this machine at (SIP
    /// Contact, SDP).
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) sip_advertise: std::net::IpAddr,
    /// Also serve the voice webhook (`/api/voice/calls`, docs/webhook.md);
    /// its secret is named in `municipalities/<id>/webhook.yaml`. Loads
    /// the speech recogniser unless `--no-asr`.
    #[arg(long)]
    pub(crate) webhook: bool,
    /// With `--webhook`: no speech recogniser, calls answer by DTMF only.
    #[arg(long, requires = "webhook")]
    pub(crate) no_asr: bool,
    #[command(flatten)]
    pub(crate) asr: crate::commands::transcribe::AsrOptions,
    /// For tests of opening hours: the webhook's calls see a clock that
    /// starts at this time (`2026-11-23T10:00:00+01:00`) and runs on.
    #[arg(long, hide = true, requires = "webhook")]
    pub(crate) now: Option<String>,
}

/// What the voice webhook needs, prepared before the server starts.
struct WebhookSetup {
    secret: sms_gateway::Secret,
    recognizer: Option<Arc<asr::Recognizer>>,
    clock: router::sip::Clock,
}

/// Reads the webhook's secret and loads the recogniser (blocking: before
/// the runtime starts), or `None` without `--webhook`.
fn webhook_setup(project: &Project, args: &ServeArgs) -> anyhow::Result<Option<WebhookSetup>> {
    if !args.webhook {
        return Ok(None);
    }
    let clock = match &args.now {
        Some(t) => router::sip::Clock::starting_at(
            t.parse::<jiff::Timestamp>()
                .with_context(|| format!("--now {t}: not an RFC 3339 time"))?,
        ),
        None => router::sip::Clock::real(),
    };
    let secret = webhook::read_secret(
        &project
            .root
            .join("municipalities")
            .join(&project.municipality)
            .join("webhook.yaml"),
    )?;
    let recognizer = if args.no_asr {
        None
    } else {
        Some(Arc::new(args.asr.recognizer(project).context(
            "loading the speech recogniser (--no-asr serves DTMF only)",
        )?))
    };
    Ok(Some(WebhookSetup {
        secret,
        recognizer,
        clock,
    }))
}

/// Shared by every request.
pub(crate) struct App {
    pub(crate) config: RwLock<Arc<Config>>,
    pub(crate) health: RwLock<Health>,
    pub(crate) chats: Mutex<chat::Chats>,
    pub(crate) scrubber: Scrubber,
    pub(crate) store: Store,
    pub(crate) municipality: String,
    /// Links by SMS from the chat; `None` without `sms.yaml`.
    pub(crate) sms: Option<sms::ChatSms>,
    /// Callback requests booked in the chat.
    pub(crate) callbacks: crate::callbacks::Callbacks,
}

impl App {
    pub(crate) fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// What `/health` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Health {
    /// `ok`, or `reload-failed` while a broken edit waits to be fixed.
    status: &'static str,
    answers: usize,
    loaded_at: String,
    /// The last reload that failed validation, with its problems; the
    /// configuration loaded before it is still in use.
    reload_error: Option<Vec<String>>,
}

pub(crate) fn run(project: &Project, args: ServeArgs) -> anyhow::Result<std::process::ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let webhook = webhook_setup(project, &args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(project, args, webhook))?;
    Ok(std::process::ExitCode::SUCCESS)
}

async fn serve(
    project: &Project,
    args: ServeArgs,
    webhook: Option<WebhookSetup>,
) -> anyhow::Result<()> {
    let municipality = project.municipality.clone();
    let root = project.root.clone();
    let loader = Loader {
        root: root.clone(),
        municipality: municipality.clone(),
        embedder: project.embedder()?,
        cache: project.embedding_cache(),
    };
    let config = loader.load().map_err(|problems| {
        anyhow::anyhow!("the configuration has problems:\n{}", problems.join("\n"))
    })?;
    let store = Store::open_in(&args.data).context("opening the transcript store")?;
    let (sms, sms_worker) = match sms::start(project, &args.data, config.knowledge.settings())
        .context("starting the SMS outbox")?
    {
        Some((sms, worker)) => (Some(sms), Some(worker)),
        None => (None, None),
    };
    let callbacks = crate::callbacks::Callbacks::open_in(&args.data)
        .context("opening the callback requests")?;
    let config = Arc::new(config);
    let app = Arc::new(App {
        health: RwLock::new(Health {
            status: "ok",
            answers: config.knowledge.answers().len(),
            loaded_at: jiff::Timestamp::now().to_string(),
            reload_error: None,
        }),
        config: RwLock::new(config.clone()),
        chats: Mutex::new(chat::Chats::new()),
        scrubber: Scrubber::new(),
        store: store.clone(),
        municipality,
        sms,
        callbacks,
    });
    // The phone, in the same process: its own configuration snapshot
    // (not reloaded), the same transcript store, the chat's outbox and its
    // one worker.
    let (stop_sip, sip_stopped) = tokio::sync::oneshot::channel::<()>();
    let sip = match args.sip {
        Some(addr) => {
            let sip_args =
                crate::commands::sip::serve_defaults(addr, args.sip_advertise, &args.data)?;
            let voice = crate::commands::sip::start(
                project,
                sip_args,
                store.clone(),
                Some(config),
                app.sms.as_ref().map(sms::ChatSms::sending),
            )
            .await?;
            Some(tokio::spawn(voice.run_until(async {
                let _ = sip_stopped.await;
            })))
        }
        None => None,
    };
    tokio::spawn(watch(app.clone(), Arc::new(loader)));
    tokio::spawn(sweep(app.clone(), args.retention_days));

    let views = transcripts::views::router(
        store
            .open_again()
            .context("opening the transcript store for the views")?,
        transcripts::views::ViewsConfig::default(),
    );
    let router = Router::new()
        .route("/", get(page))
        .route(
            "/chat.js",
            get(|| async { asset("text/javascript", CHAT_JS) }),
        )
        .route("/chat.css", get(|| async { asset("text/css", CHAT_CSS) }))
        .route(
            "/widget.js",
            get(|| async { asset("text/javascript", WIDGET_JS) }),
        )
        .route("/health", get(health))
        .merge(chat::routes())
        .with_state(app.clone())
        .merge(views);
    let router = match webhook {
        Some(w) => router.merge(webhook::routes(
            app.clone(),
            w.secret,
            w.recognizer,
            w.clock,
        )),
        None => router,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(address = %args.listen, "serving");
    println!("Vejviser lytter på http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .context("serving HTTP")?;
    if let Some(sip) = sip {
        let _ = stop_sip.send(());
        let _ = sip.await;
    }
    app.chats
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .close_all(&app);
    if let Some(worker) = sms_worker {
        worker.shutdown().await;
    }
    Ok(())
}

/// Everything needed to load a configuration snapshot again.
struct Loader {
    root: PathBuf,
    municipality: String,
    embedder: Option<Arc<knowledge::Embedder>>,
    cache: PathBuf,
}

impl Loader {
    /// Loads a configuration, or the located problems as lines.
    fn load(&self) -> Result<Config, Vec<String>> {
        let build = knowledge::BuildOptions {
            embedder: self.embedder.clone(),
            cache: Some(&self.cache),
            ..knowledge::BuildOptions::default()
        };
        router::config::load_with(
            &self.root,
            &self.municipality,
            &self.root.join("flows"),
            &build,
        )
        .map_err(|e| {
            let problems = e.problems();
            if problems.is_empty() {
                vec![e.to_string()]
            } else {
                problems.iter().map(ToString::to_string).collect()
            }
        })
    }
}

/// Reloads the configuration when a file under the project changes.
async fn watch(app: Arc<App>, loader: Arc<Loader>) {
    let mut seen = stamp(&loader.root);
    loop {
        tokio::time::sleep(RELOAD_POLL).await;
        let now = stamp(&loader.root);
        if now == seen {
            continue;
        }
        seen = now;
        let job = loader.clone();
        let loaded = tokio::task::spawn_blocking(move || job.load()).await;
        let mut health = app.health.write().unwrap_or_else(|e| e.into_inner());
        match loaded {
            Ok(Ok(config)) => {
                health.answers = config.knowledge.answers().len();
                health.loaded_at = jiff::Timestamp::now().to_string();
                health.reload_error = None;
                health.status = "ok";
                *app.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
                tracing::info!(answers = health.answers, "configuration reloaded");
            }
            Ok(Err(problems)) => {
                for p in &problems {
                    tracing::error!(problem = %p, "reload refused; the previous configuration stays");
                }
                health.reload_error = Some(problems);
                health.status = "reload-failed";
            }
            Err(e) => tracing::error!(error = %e, "reload task failed"),
        }
    }
}

/// Size and modification time of every YAML file the configuration is
/// made of (answers, knowledge, flows, municipalities).
fn stamp(root: &Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut out = Vec::new();
    for dir in ["answers", "knowledge", "flows", "municipalities"] {
        collect(&root.join(dir), &mut out);
    }
    out.sort();
    out
}

fn collect(dir: &Path, out: &mut Vec<(PathBuf, u64, Option<SystemTime>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push((path, meta.len(), meta.modified().ok()));
        }
    }
}

/// Closes idle chats and enforces the retention period.
async fn sweep(app: Arc<App>, retention_days: u32) {
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        app.chats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .close_idle(&app);
        let store = app.store.clone();
        let deleted = tokio::task::spawn_blocking(move || {
            store.delete_older_than(retention_days, time::OffsetDateTime::now_utc())
        })
        .await;
        match deleted {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(conversations = n, "deleted after the retention period"),
            Ok(Err(e)) => tracing::error!(error = %e, "retention sweep failed"),
            Err(e) => tracing::error!(error = %e, "retention task failed"),
        }
    }
}

const INDEX_HTML: &str = include_str!("../../web/index.html");
const CHAT_JS: &str = include_str!("../../web/chat.js");
const CHAT_CSS: &str = include_str!("../../web/chat.css");
const WIDGET_JS: &str = include_str!("../../web/widget.js");

async fn page(State(app): State<Arc<App>>) -> Response {
    let name = app.config().knowledge.settings().municipality_name.clone();
    let html = INDEX_HTML
        .replace(
            "<title>Chat med kommunen</title>",
            &format!("<title>Chat med {}</title>", escape(&name)),
        )
        .replace(
            "<span data-vv-municipality>kommunen</span>",
            &format!("<span data-vv-municipality>{}</span>", escape(&name)),
        );
    asset("text/html; charset=utf-8", html)
}

fn asset(content_type: &'static str, body: impl Into<String>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body.into(),
    )
        .into_response()
}

/// Always 200 while the server answers: a refused reload leaves the
/// previous configuration serving, so the instance stays in rotation and
/// the problem is shown here for staff.
async fn health(State(app): State<Arc<App>>) -> Json<Health> {
    Json(app.health.read().unwrap_or_else(|e| e.into_inner()).clone())
}

/// Escapes text for HTML.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
