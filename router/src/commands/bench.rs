//! `vejviser bench match`: matcher latency, throughput and index figures.
//!
//! Runs on one thread (one core), on the example knowledge base and on
//! synthetic ones of 2,200 and 100,000 answers made by varying the example
//! answers with generated words, so the vocabulary grows with the size.
//! Queries are the answers' own example questions with one word dropped,
//! so the figures do not depend on any evaluation set; `--utterances`
//! adds a row for the example knowledge base timed on citizens' own
//! wording (a JSON-lines file such as a labelled development set), which
//! runs longer than the example questions and so costs the encoder more.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Subcommand;
use knowledge::{Answer, BuildOptions, Channel, Embedder, KnowledgeBase, Matcher};

use crate::paths::Project;

#[derive(Subcommand)]
pub(crate) enum BenchWhat {
    /// Matcher latency and index build figures.
    Match {
        /// Queries timed per knowledge base.
        #[arg(long, default_value_t = 3000, value_parser = at_least_one)]
        queries: usize,
        /// Queries timed with the semantic channel on (each embeds the query).
        #[arg(long, default_value_t = 1000, value_parser = at_least_one)]
        semantic_queries: usize,
        /// Sizes of the synthetic knowledge bases.
        #[arg(
            long,
            value_delimiter = ',',
            default_values_t = [2_200usize, 100_000],
            value_parser = at_least_one
        )]
        sizes: Vec<usize>,
        /// Largest synthetic size also timed with the semantic channel (its
        /// index holds every question's vector in memory).
        #[arg(long, default_value_t = 10_000)]
        semantic_max: usize,
        /// Also time the example knowledge base on these utterances: JSON
        /// lines with "text" and "channel", as `match --jsonl` reads them.
        #[arg(long, value_name = "FILE.jsonl")]
        utterances: Option<PathBuf>,
    },
    /// End of speech (or key press) to the first RTP packet of the
    /// answer at 1 and 10 calls, recogniser real-time factor, memory.
    Voice(super::bench_voice::BenchVoiceArgs),
    /// Time to scrub a 30-word utterance.
    Scrub {
        /// Utterances timed.
        #[arg(long, default_value_t = 20_000)]
        utterances: usize,
    },
    /// SMS outbox throughput and consent-to-provider latency against a
    /// local provider.
    Sms {
        /// Messages enqueued and drained for the throughput figures.
        #[arg(long, default_value_t = 2000)]
        messages: usize,
        /// Messages sent at 50 a second for the latency figures.
        #[arg(long, default_value_t = 500)]
        paced: usize,
    },
    /// Speech recogniser real-time factor and model load time.
    Asr(super::bench_asr::BenchAsrArgs),
}

/// A count or size of at least 1: a figure over no queries (or a base of
/// no answers) has no median.
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_string()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

pub(crate) fn run(project: &Project, what: BenchWhat) -> anyhow::Result<ExitCode> {
    let (queries, semantic_queries, sizes, semantic_max, utterances) = match what {
        BenchWhat::Match {
            queries,
            semantic_queries,
            sizes,
            semantic_max,
            utterances,
        } => (queries, semantic_queries, sizes, semantic_max, utterances),
        BenchWhat::Scrub { utterances } => return bench_scrub(utterances),
        BenchWhat::Sms { messages, paced } => return super::sms::bench(messages, paced),
        BenchWhat::Asr(args) => return super::bench_asr::run(project, &args),
        BenchWhat::Voice(args) => return super::bench_voice::run(project, &args),
    };
    // Read first, so that a bad file fails before minutes of timing.
    let utterances = utterances.as_deref().map(read_utterances).transpose()?;
    let kb = project.load()?;
    let embedder = project.embedder()?;
    let cache = project.embedding_cache();
    println!(
        "matcher benchmark: one thread per query, {queries} queries per knowledge base lexical only, {semantic_queries} with the semantic channel"
    );
    println!(
        "{:<22} {:<9} {:>8} {:>9} {:>10} {:>10} {:>10} {:>10} {:>9} {:>9}",
        "knowledge base",
        "channels",
        "answers",
        "lexicon",
        "build s",
        "index MiB",
        "median µs",
        "p99 µs",
        "q/s",
        "cpu µs/q"
    );
    let run = |name: &str,
               kb: &KnowledgeBase,
               semantic: bool,
               own: Option<&[(String, Channel)]>|
     -> anyhow::Result<()> {
        let options = BuildOptions {
            embedder: if semantic { embedder.clone() } else { None },
            cache: Some(&cache),
            ..BuildOptions::default()
        };
        let n = if semantic { semantic_queries } else { queries };
        let qs = match own {
            Some(own) => own.iter().cycle().take(n).cloned().collect(),
            None => queries_for(kb.answers(), n),
        };
        let stage_embedder = if semantic { embedder.as_deref() } else { None };
        bench_one(name, kb, &qs, options, stage_embedder)
    };
    run("example municipality", &kb, false, None)?;
    if embedder.is_some() {
        run("example municipality", &kb, true, None)?;
    }
    if let Some(own) = &utterances {
        run("example, utterances", &kb, false, Some(own))?;
        if embedder.is_some() {
            run("example, utterances", &kb, true, Some(own))?;
        }
    }
    for n in sizes {
        let synthetic = synthetic(&kb, n);
        run(&format!("synthetic {n}"), &synthetic, false, None)?;
        if embedder.is_some() && n <= semantic_max {
            run(&format!("synthetic {n}"), &synthetic, true, None)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn bench_one(
    name: &str,
    kb: &KnowledgeBase,
    qs: &[(String, Channel)],
    options: BuildOptions<'_>,
    embedder: Option<&Embedder>,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    let matcher = Matcher::build_with(
        kb,
        &BuildOptions {
            dir: Some(dir.path()),
            ..options
        },
    )?;
    let build = started.elapsed();
    let (texts, embedded) = matcher.semantic_texts();
    // The lexical index on disk plus the semantic one in memory.
    let size = dir_size(dir.path())? + matcher.semantic_bytes() as u64;
    // Warm up caches once.
    for (q, channel) in qs.iter().take(50) {
        matcher.find(q, *channel)?;
    }
    let mut times: Vec<Duration> = Vec::with_capacity(qs.len());
    let all = Instant::now();
    let cpu_before = thread_cpu_seconds();
    for (q, channel) in qs {
        let t = Instant::now();
        matcher.find(q, *channel)?;
        times.push(t.elapsed());
    }
    let total = all.elapsed();
    let cpu = thread_cpu_seconds().zip(cpu_before).map(|(a, b)| a - b);
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
    let channels = if matcher.has_semantic() {
        "lex+sem"
    } else {
        "lexical"
    };
    println!(
        "{:<22} {:<9} {:>8} {:>9} {:>10.2} {:>10.2} {:>10.0} {:>10.0} {:>9.0} {:>9}",
        name,
        channels,
        kb.answers().len(),
        matcher.lexicon_size(),
        build.as_secs_f64(),
        size as f64 / (1024.0 * 1024.0),
        pct(0.5).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6,
        qs.len() as f64 / total.as_secs_f64(),
        cpu.map_or_else(
            || "-".to_string(),
            |c| format!("{:.0}", c / qs.len() as f64 * 1e6)
        )
    );
    if embedded > 0 {
        println!(
            "  (this build embedded {embedded} of {texts} texts; the rest came from the cache)"
        );
    }
    if matcher.classifier_trained() {
        println!(
            "  (this build trained the topic classifier; a warm start reads it from the cache)"
        );
    }
    if embedder.is_some() {
        stages(&matcher, qs)?;
    }
    Ok(())
}

/// Where a query's time goes with the semantic channel on, each stage
/// timed on its own over the same queries: the tokenizer, the encoder
/// (with the tokenizer, as [`Matcher::embed`] runs them), and the rest of
/// the match given the embedding (lexical query, scoring the embedded
/// texts, fusion and confidence).
fn stages(matcher: &Matcher, qs: &[(String, Channel)]) -> anyhow::Result<()> {
    let model = matcher.calibration().model(true).clone();
    // Each stage over all queries in turn, so that its CPU time (10 ms
    // resolution) is summed over many queries.
    let mut tokens = Vec::with_capacity(qs.len());
    let tokenise = stage(qs, |_, q| {
        tokens.push(std::hint::black_box(matcher.query_tokens(q)).unwrap_or(0));
        Ok(())
    })?;
    // Each query's encoding time too, for the tail below, and its
    // embedding for the last stage.
    let mut encode_times = Vec::with_capacity(qs.len());
    let mut embeddings = Vec::with_capacity(qs.len());
    let encode = stage(qs, |_, q| {
        let t = Instant::now();
        let embedding = matcher.embed(q);
        encode_times.push(t.elapsed());
        embeddings.push(embedding);
        Ok(())
    })?;
    let rest = stage(qs, |i, q| {
        matcher.find_tuned(q, qs[i].1, &model, model.thresholds, embeddings[i].as_ref())?;
        Ok(())
    })?;
    println!(
        "  stages (median µs / cpu µs per query): tokenise {tokenise}, tokenise+encode {encode}, lexical+scoring+fusion {rest}; {:.1} tokens per query",
        tokens.iter().sum::<usize>() as f64 / qs.len().max(1) as f64
    );
    // What makes the tail: the encoder's time grows with the token count.
    let mut by_time: Vec<(std::time::Duration, usize)> = encode_times
        .into_iter()
        .zip(tokens.iter().copied())
        .collect();
    by_time.sort();
    let tail = &by_time[by_time.len() * 99 / 100..];
    let mut counts = tokens;
    counts.sort_unstable();
    println!(
        "  encode tail: slowest 1% average {:.1} tokens ({:.0} µs); tokens per query p50 {}, p99 {}, max {}",
        tail.iter().map(|&(_, n)| n as f64).sum::<f64>() / tail.len().max(1) as f64,
        tail.iter().map(|&(d, _)| d.as_secs_f64()).sum::<f64>() * 1e6 / tail.len().max(1) as f64,
        counts.get(counts.len() / 2).copied().unwrap_or(0),
        counts.get(counts.len() * 99 / 100).copied().unwrap_or(0),
        counts.last().copied().unwrap_or(0),
    );
    Ok(())
}

/// Runs `f` on every query; returns "median / mean CPU" in µs.
fn stage(
    qs: &[(String, Channel)],
    mut f: impl FnMut(usize, &str) -> anyhow::Result<()>,
) -> anyhow::Result<String> {
    let mut times = Vec::with_capacity(qs.len());
    let cpu_before = thread_cpu_seconds();
    for (i, (q, _)) in qs.iter().enumerate() {
        let t = Instant::now();
        f(i, q)?;
        times.push(t.elapsed());
    }
    let cpu = thread_cpu_seconds().zip(cpu_before).map(|(a, b)| a - b);
    times.sort();
    let median = times.get(times.len() / 2).copied().unwrap_or_default();
    Ok(format!(
        "{:.0} / {}",
        median.as_secs_f64() * 1e6,
        cpu.map_or_else(
            || "-".to_string(),
            |c| format!("{:.0}", c / qs.len().max(1) as f64 * 1e6)
        )
    ))
}

/// Example questions with one word dropped, cycling through the answers,
/// on the two channels in turn.
fn queries_for(answers: &[Answer], n: usize) -> Vec<(String, Channel)> {
    let mut out = Vec::with_capacity(n);
    let mut i = 0usize;
    while out.len() < n && !answers.is_empty() {
        let a = &answers[(i * 7919) % answers.len()];
        let q = &a.questions[i % a.questions.len()];
        let words: Vec<&str> = q.split_whitespace().collect();
        let drop = if words.len() > 2 {
            i % words.len()
        } else {
            usize::MAX
        };
        let text: Vec<&str> = words
            .iter()
            .enumerate()
            .filter(|(k, _)| *k != drop)
            .map(|(_, w)| *w)
            .collect();
        let channel = if i.is_multiple_of(2) {
            Channel::Voice
        } else {
            Channel::Chat
        };
        out.push((text.join(" "), channel));
        i += 1;
    }
    out
}

/// `n` answers made from the example ones, each with generated words
/// added so that the vocabulary grows with the size. The example
/// questions stay as they are, so the semantic index reuses the cached
/// embeddings (its size and query cost still grow with `n`).
fn synthetic(kb: &KnowledgeBase, n: usize) -> KnowledgeBase {
    const SYLLABLES: [&str; 16] = [
        "ka", "ber", "ting", "løs", "hus", "plads", "mølle", "skov", "gade", "vej", "bo", "ret",
        "sø", "dal", "holm", "lund",
    ];
    let word = |seed: usize| -> String {
        let mut s = String::new();
        let mut x = seed.wrapping_mul(2_654_435_761) ^ 0x5bd1_e995;
        for _ in 0..3 {
            s.push_str(SYLLABLES[x % SYLLABLES.len()]);
            x /= SYLLABLES.len();
        }
        s
    };
    let base = kb.answers();
    let answers = (0..n)
        .map(|k| {
            let b = &base[k % base.len()];
            let extra = format!("{} {}", word(k), word(k + n));
            Answer {
                id: format!("{}-s{k}", b.id),
                keywords: b
                    .keywords
                    .iter()
                    .cloned()
                    .chain([word(k), word(k + n)])
                    .collect(),
                chat: format!("{} {extra}", b.chat),
                ..b.clone()
            }
        })
        .collect();
    KnowledgeBase::from_parts(
        kb.taxonomy().clone(),
        kb.settings().clone(),
        answers,
        kb.out_of_scope().to_vec(),
        kb.calibration().clone(),
    )
}

fn dir_size(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let meta = entry?.metadata()?;
        if meta.is_file() {
            total += meta.len();
        }
    }
    Ok(total)
}

/// Median and p99 time to scrub a 30-word utterance, on one thread. The
/// utterances are made of fixed voice and chat fragments holding CPR and
/// phone numbers, names, addresses, e-mail and health words, cut to 30
/// words, so the figure does not depend on any evaluation set.
fn bench_scrub(n: usize) -> anyhow::Result<ExitCode> {
    use transcripts::{RawUtterance, Scrubber};
    const FRAGMENTS: [&str; 8] = [
        "ja hej øh jeg hedder mette kjær og jeg ringer om min boligstøtte",
        "mit cpr nummer er nul fem elleve syvogtres seksten tyve",
        "i kan ringe til mig på 28 47 19 63 efter klokken tre",
        "vi bor på elmevej nummer syv første sal tv 4300 holbæk",
        "min mail er lone punktum bech snabel-a hotmail punktum dk",
        "Min far Poul Erik Nielsen (f. 12.04.1938) har demens og tager insulin,",
        "hvornår har i åbent i borgerservice er det otte til femten",
        "det koster 45 kr per sæk og storskrald hentes den tolvte marts",
    ];
    let words: Vec<&str> = FRAGMENTS
        .iter()
        .flat_map(|f| f.split_whitespace())
        .collect();
    let texts: Vec<String> = (0..64)
        .map(|k| {
            (0..30)
                .map(|j| words[(k * 7 + j) % words.len()])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let raws: Vec<RawUtterance> = texts.into_iter().map(RawUtterance::new).collect();
    let scrubber = Scrubber::new();
    for raw in raws.iter().take(200) {
        std::hint::black_box(scrubber.scrub(raw));
    }
    let mut times: Vec<Duration> = Vec::with_capacity(n);
    for i in 0..n {
        let raw = &raws[i % raws.len()];
        let t = Instant::now();
        std::hint::black_box(scrubber.scrub(raw));
        times.push(t.elapsed());
    }
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
    println!("scrubber benchmark: one thread, {n} utterances of 30 words");
    println!(
        "median {:.1} µs   p99 {:.1} µs",
        pct(0.5).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6
    );
    Ok(ExitCode::SUCCESS)
}

/// CPU time of this thread so far (Linux; 10 ms resolution, so only the
/// mean over many queries means anything). On a machine shared with other
/// work the wall-clock percentiles include waiting for a core; this does
/// not.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / 100.0)
}

/// The utterances of a JSON-lines file (`text`, optional `channel`).
fn read_utterances(path: &Path) -> anyhow::Result<Vec<(String, Channel)>> {
    use anyhow::Context;
    let mut out = Vec::new();
    for (at, l) in crate::labelled::read_lines(path)? {
        let channel = crate::labelled::parse_channel(l.channel.as_deref()).context(at)?;
        out.push((l.text, channel));
    }
    if out.is_empty() {
        anyhow::bail!("{}: no utterances", path.display());
    }
    Ok(out)
}
