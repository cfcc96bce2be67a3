//! `vejviser eval FILE`: topic accuracy on a labelled file.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use knowledge::{Decision, Matcher, TOPIC_NONE};

use crate::labelled::{read_labelled, understand, Labelled};
use crate::paths::Project;

/// The figures of one evaluation.
#[derive(Default)]
pub(crate) struct Report {
    pub(crate) total: usize,
    pub(crate) correct: usize,
    pub(crate) top_correct: usize,
    pub(crate) by_channel: BTreeMap<&'static str, (usize, usize)>,
    pub(crate) none_total: usize,
    pub(crate) none_as_none: usize,
    pub(crate) in_scope_total: usize,
    pub(crate) in_scope_as_none: usize,
    pub(crate) decisions: BTreeMap<&'static str, usize>,
    pub(crate) confusions: BTreeMap<(String, String), usize>,
    pub(crate) wrong: Vec<String>,
}

impl Report {
    pub(crate) fn accuracy(&self) -> f64 {
        ratio(self.correct, self.total)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// `emergency_words`: `Some` to judge lines as `match` does, with the
/// dialogue's emergency cues first; `None` for the matcher alone (what the
/// calibration fits).
pub(crate) fn evaluate(
    matcher: &Matcher,
    emergency_words: Option<&[String]>,
    lines: &[&Labelled],
) -> anyhow::Result<Report> {
    let mut r = Report::default();
    for l in lines {
        let m = understand(matcher, emergency_words, &l.text, l.channel)?;
        let ok = m.topic == l.topic;
        r.total += 1;
        r.correct += usize::from(ok);
        r.top_correct += usize::from(m.candidates.first().is_some_and(|c| c.topic == l.topic));
        let c = r.by_channel.entry(l.channel.as_str()).or_default();
        c.0 += usize::from(ok);
        c.1 += 1;
        *r.decisions.entry(m.decision.as_str()).or_default() += 1;
        if l.topic == TOPIC_NONE {
            r.none_total += 1;
            r.none_as_none += usize::from(m.topic == TOPIC_NONE);
        } else {
            r.in_scope_total += 1;
            r.in_scope_as_none += usize::from(m.topic == TOPIC_NONE);
        }
        if !ok {
            *r.confusions
                .entry((l.topic.clone(), m.topic.clone()))
                .or_default() += 1;
            let ranked: Vec<String> = m
                .candidates
                .iter()
                .take(3)
                .map(|c| format!("{} {:.2}", c.topic, c.score))
                .collect();
            r.wrong.push(format!(
                "{} [{}] {} -> {} ({:.2}, {}, out of scope {:.2}) {:?} [{}] {:?}",
                l.id,
                l.channel.as_str(),
                l.topic,
                m.topic,
                m.confidence,
                m.decision.as_str(),
                m.out_of_scope,
                l.text,
                ranked.join(", "),
                m.features.as_array().map(|x| (x * 100.0).round() / 100.0),
            ));
        }
    }
    Ok(r)
}

pub(crate) fn print(r: &Report, title: &str) {
    println!("{title}");
    println!(
        "  top-1 topic accuracy: {:.3} ({}/{})",
        r.accuracy(),
        r.correct,
        r.total
    );
    println!(
        "  best candidate's topic right (before thresholds): {:.3}",
        ratio(r.top_correct, r.total)
    );
    for (channel, (ok, n)) in &r.by_channel {
        println!("  {channel:<6} {:.3} ({ok}/{n})", ratio(*ok, *n));
    }
    println!(
        "  `none` lines returned as none: {:.3} ({}/{})",
        ratio(r.none_as_none, r.none_total),
        r.none_as_none,
        r.none_total
    );
    println!(
        "  in-scope lines returned as none: {:.3} ({}/{})",
        ratio(r.in_scope_as_none, r.in_scope_total),
        r.in_scope_as_none,
        r.in_scope_total
    );
    let decisions: Vec<String> = [Decision::Answer, Decision::Confirm, Decision::Handover]
        .iter()
        .map(|d| {
            format!(
                "{} {}",
                d.as_str(),
                r.decisions.get(d.as_str()).unwrap_or(&0)
            )
        })
        .collect();
    println!("  decisions: {}", decisions.join(", "));
    let mut confusions: Vec<_> = r.confusions.iter().collect();
    confusions.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    if !confusions.is_empty() {
        println!("  most frequent confusions (expected -> returned):");
        for ((gold, got), n) in confusions.iter().take(15) {
            println!("    {n:>3}  {gold} -> {got}");
        }
    }
}

pub(crate) fn run(project: &Project, file: &Path, verbose: bool) -> anyhow::Result<ExitCode> {
    let lines = read_labelled(file)?;
    let (matcher, emergency_words) = project.understanding()?;
    let all: Vec<&Labelled> = lines.iter().collect();
    let report = evaluate(&matcher, Some(&emergency_words), &all)?;
    print(
        &report,
        &format!("{} ({} lines)", file.display(), report.total),
    );
    if verbose {
        for w in &report.wrong {
            println!("  wrong: {w}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
