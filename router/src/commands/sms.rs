//! `vejviser sms …` and `vejviser bench sms`: the SMS set-up seen from the
//! command line.
//!
//! The binary's share of the SMS gateway: it finds `sms.yaml` beside the
//! municipality's settings, parses it with the project's one YAML loader,
//! reads the secrets the file names (environment variables or files), and
//! hands typed values to `sms_gateway`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use clap::Subcommand;
use knowledge::yaml::{parse_yaml, SourceMap};
use knowledge::{KnowledgeBase, Location, Problem};
use sms_gateway::local_provider::{LocalProvider, Reply};
use sms_gateway::{
    AnyProvider, ConfigProblem, Enqueued, FileProvider, GatewayApiProvider, LinkRef, MobileNumber,
    Outbox, OutboxOptions, ProviderKind, RawSmsFile, Rendered, Secret, SecretSource, SmsConfig,
    State, WebhookProvider, Worker, WorkerOptions,
};

use crate::paths::Project;

#[derive(Subcommand)]
pub(crate) enum SmsCommand {
    /// Send one message through the configured provider, to check the set-up.
    Test {
        /// The recipient: a Danish mobile number in any grouping.
        number: String,
        /// The link: an answer id (its first link), `ANSWER-ID#N` (its N-th
        /// link) or the link's URL.
        #[arg(long)]
        link: String,
        #[command(flatten)]
        files: SmsFiles,
    },
    /// Check sms.yaml and measure the message for every link in the answers.
    Check {
        #[command(flatten)]
        files: SmsFiles,
    },
    /// Send queued messages until stopped; with --listen also serve the
    /// delivery-status callback (POST /sms/status).
    Worker {
        #[arg(long)]
        listen: Option<SocketAddr>,
        #[command(flatten)]
        files: SmsFiles,
    },
    /// Print the outbox's counts as JSON: pending, sent, delivered, failed.
    Status {
        #[command(flatten)]
        files: SmsFiles,
    },
}

#[derive(clap::Args)]
pub(crate) struct SmsFiles {
    /// The data directory holding the outbox (default: ./data under the project).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The SMS settings (default: municipalities/<id>/sms.yaml).
    #[arg(long)]
    sms_config: Option<PathBuf>,
}

impl SmsFiles {
    /// The outbox in `data`, the settings in their default place.
    pub(crate) fn in_data(data: PathBuf) -> SmsFiles {
        SmsFiles {
            data: Some(data),
            sms_config: None,
        }
    }

    pub(crate) fn data_dir(&self, project: &Project) -> anyhow::Result<PathBuf> {
        let dir = self
            .data
            .clone()
            .unwrap_or_else(|| project.root.join("data"));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(dir)
    }

    pub(crate) fn config_path(&self, project: &Project) -> PathBuf {
        self.sms_config.clone().unwrap_or_else(|| {
            project
                .knowledge
                .settings
                .parent()
                .map_or_else(|| PathBuf::from("sms.yaml"), |p| p.join("sms.yaml"))
        })
    }
}

pub(crate) fn run(project: &Project, command: SmsCommand) -> anyhow::Result<ExitCode> {
    match command {
        SmsCommand::Test {
            number,
            link,
            files,
        } => test(project, &number, &link, &files),
        SmsCommand::Check { files } => check(project, &files),
        SmsCommand::Worker { listen, files } => worker(project, listen, &files),
        SmsCommand::Status { files } => {
            let (config, _) = load_config(project, &files)?;
            let outbox = open_outbox(&files.data_dir(project)?, &config)?;
            let c = outbox.counts()?;
            println!(
                "{}",
                serde_json::json!({"pending": c.pending, "sent": c.sent, "delivered": c.delivered, "failed": c.failed})
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Loads and validates sms.yaml; warnings are printed to stderr.
pub(crate) fn load_config(
    project: &Project,
    files: &SmsFiles,
) -> anyhow::Result<(SmsConfig, KnowledgeBase)> {
    let kb = project.load()?;
    let config = load_sms(&files.config_path(project), kb.settings())?;
    Ok((config, kb))
}

/// The municipality's `sms.yaml`, beside its settings.
pub(crate) fn default_config_path(project: &Project) -> PathBuf {
    SmsFiles {
        data: None,
        sms_config: None,
    }
    .config_path(project)
}

/// Parses and validates the SMS settings at `path` against the
/// municipality's settings values; warnings are printed to stderr.
pub(crate) fn load_sms(path: &Path, settings: &knowledge::Settings) -> anyhow::Result<SmsConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let raw: RawSmsFile = parse_yaml(path, &text).map_err(|p| anyhow!("{p}"))?;
    let values: BTreeMap<String, String> = settings
        .values
        .iter()
        .map(|(k, v)| (k.clone(), v.chat.clone()))
        .collect();
    let map = SourceMap::new(&text);
    let locate = |p: &ConfigProblem| {
        let (line, column) = match p.item {
            Some((list, index)) => map.locate(list, index, p.key),
            None => (map.top_level_line(p.key).map_or(1, |l| l + 1), 1),
        };
        Problem {
            location: Location {
                file: path.to_path_buf(),
                line,
                column,
            },
            code: p.code,
            message: p.message.clone(),
        }
    };
    match SmsConfig::validate(raw, &values) {
        Ok(v) => {
            for w in &v.warnings {
                eprintln!("warning: {}", locate(w));
            }
            Ok(v.config)
        }
        Err(problems) => {
            let lines: Vec<String> = problems.iter().map(|p| locate(p).to_string()).collect();
            bail!(
                "{} problem(s) in {}:\n{}",
                lines.len(),
                path.display(),
                lines.join("\n")
            )
        }
    }
}

fn read_secret(source: &SecretSource) -> anyhow::Result<Secret> {
    match source {
        SecretSource::Env(name) => std::env::var(name)
            .map(Secret::new)
            .map_err(|_| anyhow!("the environment variable {name} (named in sms.yaml) is not set")),
        SecretSource::File(path) => std::fs::read_to_string(path)
            .map(Secret::new)
            .with_context(|| format!("reading the secret file {}", path.display())),
    }
}

pub(crate) fn provider(config: &SmsConfig, data: &Path) -> anyhow::Result<AnyProvider> {
    let p = &config.provider;
    let token = p.token.as_ref().map(read_secret).transpose()?;
    let url = || {
        p.url
            .clone()
            .ok_or_else(|| anyhow!("the provider has no url"))
    };
    Ok(match p.kind {
        ProviderKind::File => AnyProvider::File(FileProvider::new(data.join("sms-sent.jsonl"))),
        ProviderKind::Gatewayapi => AnyProvider::GatewayApi(GatewayApiProvider::new(
            url()?,
            token.ok_or_else(|| anyhow!("the gatewayapi provider needs a token"))?,
            p.timeout,
        )?),
        ProviderKind::Webhook => {
            AnyProvider::Webhook(WebhookProvider::new(url()?, token, p.timeout)?)
        }
    })
}

pub(crate) fn open_outbox(data: &Path, config: &SmsConfig) -> anyhow::Result<Outbox> {
    Ok(Outbox::open(
        &data.join("sms-outbox.sqlite3"),
        OutboxOptions {
            sender: config.sender.clone(),
            per_number_per_day: config.outbox.per_number_per_day,
        },
    )?)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// The links of the knowledge base as `(reference, LinkRef)`.
fn links(kb: &KnowledgeBase) -> Vec<(String, LinkRef<'_>)> {
    let mut out = Vec::new();
    for a in kb.answers() {
        for (i, l) in a.links.iter().enumerate() {
            let reference = if i == 0 {
                a.id.clone()
            } else {
                format!("{}#{}", a.id, i + 1)
            };
            out.push((
                reference,
                LinkRef {
                    kind: l.kind.as_str(),
                    url: &l.url,
                    title: &l.title,
                },
            ));
        }
    }
    out
}

fn find_link<'a>(kb: &'a KnowledgeBase, wanted: &str) -> Option<LinkRef<'a>> {
    let all = links(kb);
    all.iter()
        .find(|(r, l)| r == wanted || l.url == wanted)
        .map(|(_, l)| *l)
}

fn describe(r: &Rendered) -> String {
    format!(
        "{} segment(s), {:?}, {} units, template `{}`",
        r.length.segments, r.length.encoding, r.length.units, r.template_id
    )
}

fn check(project: &Project, files: &SmsFiles) -> anyhow::Result<ExitCode> {
    let (config, kb) = load_config(project, files)?;
    let (mut ok, mut ucs2, mut too_long, mut missing) = (0, 0, 0, 0);
    for (reference, link) in links(&kb) {
        match config.render(link) {
            None => missing += 1,
            Some(r) if r.length.segments > config.max_segments => {
                too_long += 1;
                println!("too long: {reference}: {}", describe(&r));
            }
            Some(r) => {
                ok += 1;
                if r.length.encoding == sms_gateway::Encoding::Ucs2 {
                    ucs2 += 1;
                    println!("ucs-2: {reference}: {}", describe(&r));
                }
            }
        }
    }
    println!(
        "{} links: {ok} fit in {} segment(s) ({ucs2} as UCS-2), {too_long} too long, {missing} without a template; provider {:?}",
        ok + too_long + missing,
        config.max_segments,
        config.provider.kind
    );
    Ok(if too_long == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn test(project: &Project, number: &str, link: &str, files: &SmsFiles) -> anyhow::Result<ExitCode> {
    let number = match MobileNumber::parse(number) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("vejviser: {e} ({})", e.reply_da());
            return Ok(ExitCode::FAILURE);
        }
    };
    let (config, kb) = load_config(project, files)?;
    let link = find_link(&kb, link)
        .ok_or_else(|| anyhow!("no link `{link}`: give an answer id, ANSWER-ID#N or a link URL"))?;
    let rendered = config
        .render(link)
        .ok_or_else(|| anyhow!("sms.yaml has no template for `{}` links", link.kind))?;
    println!("message: {}", rendered.text);
    println!("size: {}", describe(&rendered));
    let data = files.data_dir(project)?;
    let outbox = open_outbox(&data, &config)?;
    let provider = provider(&config, &data)?;
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let conversation = format!("sms-test-{}-{}", started.as_millis(), std::process::id());
    let id = match outbox.enqueue(&conversation, link.url, &number, &rendered.text)? {
        Enqueued::Queued(id) => id,
        Enqueued::AlreadySent(_) => bail!("already sent in this conversation"),
        Enqueued::RateLimited => bail!("this number has had its SMS for today (rate limit)"),
    };
    let options = WorkerOptions::from(&config.outbox);
    let status = runtime()?.block_on(async {
        let worker = Worker::new(outbox.clone(), provider, options).spawn();
        let deadline = Instant::now() + Duration::from_secs(120);
        let status = loop {
            let s = outbox
                .status(id)?
                .ok_or_else(|| anyhow!("message vanished"))?;
            if s.state != State::Pending || Instant::now() > deadline {
                break s;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        worker.shutdown().await;
        anyhow::Ok(status)
    })?;
    println!(
        "state: {:?} after {} attempt(s){}{}",
        status.state,
        status.attempts,
        status
            .provider_id
            .map(|p| format!(", provider id {p}"))
            .unwrap_or_default(),
        status
            .last_error
            .map(|e| format!(", last error: {e}"))
            .unwrap_or_default(),
    );
    if config.provider.kind == ProviderKind::File {
        println!("written to {}", data.join("sms-sent.jsonl").display());
    }
    Ok(if status.state == State::Sent {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn worker(
    project: &Project,
    listen: Option<SocketAddr>,
    files: &SmsFiles,
) -> anyhow::Result<ExitCode> {
    let (config, _) = load_config(project, files)?;
    let data = files.data_dir(project)?;
    let outbox = open_outbox(&data, &config)?;
    let provider = provider(&config, &data)?;
    let secret = config
        .callback_secret
        .as_ref()
        .map(read_secret)
        .transpose()?;
    let options = WorkerOptions::from(&config.outbox);
    runtime()?.block_on(async {
        let worker = Worker::new(outbox.clone(), provider, options).spawn();
        if let Some(addr) = listen {
            let secret = secret
                .ok_or_else(|| anyhow!("--listen needs `callback:` with a secret in sms.yaml"))?;
            let app = sms_gateway::delivery_status_router(outbox.clone(), secret);
            let listener = tokio::net::TcpListener::bind(addr).await?;
            eprintln!(
                "delivery-status callbacks on http://{}/sms/status",
                listener.local_addr()?
            );
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app).await {
                    eprintln!("vejviser: callback server stopped: {e}");
                }
            });
        }
        eprintln!("sms worker running; Ctrl-C stops it after the sends in flight");
        tokio::signal::ctrl_c().await?;
        worker.shutdown().await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `vejviser bench sms`.
pub(crate) fn bench(messages: usize, paced: usize) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(bench_async(messages, paced))?;
    Ok(ExitCode::SUCCESS)
}

async fn bench_async(messages: usize, paced: usize) -> anyhow::Result<()> {
    let token = "bench-token";
    let provider = LocalProvider::start(token, |_| Reply::Accept).await?;
    let dir = tempfile::tempdir()?;
    let outbox = Outbox::open(
        &dir.path().join("outbox.sqlite3"),
        OutboxOptions {
            sender: "Bench".into(),
            per_number_per_day: u32::MAX,
        },
    )?;
    let http =
        || GatewayApiProvider::new(provider.url(), Secret::new(token), Duration::from_secs(5));
    let options = WorkerOptions {
        max_attempts: 3,
        backoff_base: Duration::from_millis(50),
        backoff_max: Duration::from_secs(1),
        concurrency: 8,
        idle_poll: Duration::from_millis(100),
    };
    let number = MobileNumber::parse("22334455")?;
    let text = "Her er linket til videoen om pas: https://video.eksempel.dk/pas-medbring";
    println!("sms outbox benchmark: SQLite WAL synchronous=FULL, GatewayAPI-style provider on loopback, {} sends in flight", options.concurrency);

    // 1. Enqueue throughput with the worker stopped, then drain throughput.
    let started = Instant::now();
    for i in 0..messages {
        outbox.enqueue(
            &format!("bulk-{i}"),
            "https://video.eksempel.dk/pas-medbring",
            &number,
            text,
        )?;
    }
    let enqueue_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let worker = Worker::new(outbox.clone(), http()?, options.clone()).spawn();
    while outbox.counts()?.pending > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let drain_s = started.elapsed().as_secs_f64();
    println!(
        "accepted into the outbox: {messages} messages in {enqueue_s:.2} s = {:.0} msg/s",
        messages as f64 / enqueue_s
    );
    println!(
        "sent to the provider:     {messages} messages in {drain_s:.2} s = {:.0} msg/s",
        messages as f64 / drain_s
    );

    // 2. Latency from consent (enqueue) to the provider's acceptance, at a
    // steady 50 messages a second with the worker running.
    let mut enqueued_at = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for i in 0..paced {
        tick.tick().await;
        let conversation = format!("paced-{i}");
        let o = outbox.clone();
        let c = conversation.clone();
        let t = Instant::now();
        tokio::task::spawn_blocking(move || {
            o.enqueue(
                &c,
                "https://video.eksempel.dk/pas-medbring",
                &MobileNumber::parse("22334455")?,
                text,
            )
            .map_err(anyhow::Error::from)
        })
        .await??;
        enqueued_at.insert(
            sms_gateway::idempotency_key(&conversation, "https://video.eksempel.dk/pas-medbring"),
            t,
        );
    }
    while outbox.counts()?.pending > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    worker.shutdown().await;
    let mut latencies: Vec<Duration> = provider
        .received()
        .iter()
        .filter(|r| r.status == 200)
        .filter_map(|r| enqueued_at.get(&r.key).map(|t| r.at.duration_since(*t)))
        .collect();
    latencies.sort();
    if latencies.is_empty() {
        bail!("no paced message reached the provider");
    }
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    println!(
        "consent to provider acceptance ({} messages at 50/s): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        latencies[latencies.len() - 1].as_secs_f64() * 1e3
    );
    Ok(())
}
