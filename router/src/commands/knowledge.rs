//! `vejviser knowledge …`: check, count and calibrate the knowledge base.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use knowledge::quality::{self, Severity};
use knowledge::{
    Channel, ConfidenceModel, KnowledgeBase, KnowledgeError, Matcher, OutOfScopeModel, Thresholds,
    TOPIC_NONE,
};

use super::eval::{evaluate, print};
use crate::labelled::{is_fitting_half, read_labelled, Labelled};
use crate::paths::Project;

#[derive(Subcommand)]
pub(crate) enum KnowledgeCommand {
    /// Validate every knowledge file and review the answers together
    /// (duplicates, self-retrieval, thin topics); exit code 1 on problems.
    Check {
        /// Also list warnings.
        #[arg(long)]
        verbose: bool,
    },
    /// Count answers, in total and per topic.
    Stats {
        /// Print `{"total": N, "per_topic": {...}}`.
        #[arg(long)]
        json: bool,
    },
    /// Fit the confidence model on half of a labelled file and report on the other half.
    Calibrate {
        file: PathBuf,
        /// Write the fitted model to knowledge/calibration.yaml.
        #[arg(long)]
        write: bool,
        /// Further labelled files used whole for fitting, never for
        /// reporting (e.g. knowledge/eval/none-fit.jsonl, out-of-scope
        /// lines written for fitting the out-of-scope model).
        #[arg(long)]
        fit_also: Vec<PathBuf>,
    },
}

/// Fewest answers a topic should have.
const MIN_PER_TOPIC: usize = 4;

pub(crate) fn run(project: &Project, what: KnowledgeCommand) -> anyhow::Result<ExitCode> {
    match what {
        KnowledgeCommand::Check { verbose } => check(project, verbose),
        KnowledgeCommand::Stats { json } => stats(project, json),
        KnowledgeCommand::Calibrate {
            file,
            write,
            fit_also,
        } => calibrate(project, &file, &fit_also, write),
    }
}

fn check(project: &Project, verbose: bool) -> anyhow::Result<ExitCode> {
    let kb = match KnowledgeBase::load(&project.knowledge) {
        Ok(kb) => kb,
        Err(KnowledgeError::Invalid(problems)) => {
            for p in &problems {
                println!("{p}");
            }
            println!("{} problem(s)", problems.len());
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    let matcher = Matcher::build(&kb)?;
    let review = quality::review(&kb, &matcher, MIN_PER_TOPIC)?;
    let warnings = review.findings.len() - review.errors();
    for finding in &review.findings {
        if finding.severity == Severity::Error || verbose {
            println!("{finding}");
        }
    }
    println!(
        "self-retrieval: {:.1}% of answers first for most of their own questions, {:.1}% of questions find their topic",
        review.self_retrieval * 100.0,
        review.topic_self_retrieval * 100.0
    );
    if review.errors() > 0 {
        println!("{} problem(s), {warnings} warning(s)", review.errors());
        return Ok(ExitCode::from(1));
    }
    println!(
        "ok: {} answers in {} topics, {} out-of-scope examples, {warnings} warning(s){}",
        kb.answers().len(),
        per_topic(&kb).len(),
        kb.out_of_scope().len(),
        if verbose || warnings == 0 {
            ""
        } else {
            " (--verbose lists them)"
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn per_topic(kb: &KnowledgeBase) -> BTreeMap<&str, usize> {
    let mut out = BTreeMap::new();
    for a in kb.answers() {
        *out.entry(a.topic.as_str()).or_default() += 1;
    }
    out
}

fn stats(project: &Project, json: bool) -> anyhow::Result<ExitCode> {
    let kb = project.load()?;
    let per_topic = per_topic(&kb);
    if json {
        let v = serde_json::json!({"total": kb.answers().len(), "per_topic": per_topic});
        println!("{v}");
    } else {
        println!("total: {}", kb.answers().len());
        for (t, n) in per_topic {
            println!("  {t:<24} {n}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Target precision of the `answer` decision on the fitting half.
const ANSWER_PRECISION: f64 = 0.95;

/// The grid value whose count, summed with its two neighbours', is the
/// highest (the first of equals): with a couple of hundred lines, one line
/// more or less at a single value is noise.
fn best_on_grid(grid: &[f32], counts: &[usize]) -> f32 {
    let mut best = (0usize, grid.first().copied().unwrap_or_default());
    for (i, value) in grid.iter().enumerate().take(counts.len()) {
        let smoothed =
            counts[i.saturating_sub(1)] + counts[i] + counts[(i + 1).min(counts.len() - 1)];
        if smoothed > best.0 {
            best = (smoothed, *value);
        }
    }
    best.1
}

fn calibrate(
    project: &Project,
    file: &std::path::Path,
    fit_also: &[PathBuf],
    write: bool,
) -> anyhow::Result<ExitCode> {
    let lines = read_labelled(file)?;
    let (fit, report): (Vec<&Labelled>, Vec<&Labelled>) =
        lines.iter().partition(|l| is_fitting_half(&l.id));
    let mut extra = Vec::new();
    for path in fit_also {
        extra.extend(read_labelled(path)?);
    }
    let extra: Vec<&Labelled> = extra.iter().collect();
    let kb = project.load()?;
    let mut calibration = kb.calibration().clone();

    println!("== lexical channel alone");
    let mut lexical = Matcher::build(&kb)?;
    // The lexical channel alone keeps to its out-of-scope examples (`none`
    // when one ranks first): a model of its absolute BM25 scores would not
    // carry over to a knowledge base of another size.
    calibration.lexical = fit_model(&lexical, &fit, &extra, false, [0.0; 3])?;
    lexical.set_calibration(calibration.clone());
    report_halves(&lexical, &fit, &report)?;

    let mut semantic = project.matcher_for(&kb)?;
    if semantic.has_semantic() {
        println!("== lexical and semantic channels");
        let embeddings: Vec<_> = fit.iter().map(|l| semantic.embed(&l.text)).collect();
        // How many in-scope fitting lines a model ranks right, chat and
        // voice apart.
        let ranked_right = |model: &ConfidenceModel| -> anyhow::Result<[usize; 2]> {
            let mut counts = [0usize; 2];
            for (l, e) in fit.iter().zip(&embeddings) {
                if l.topic == TOPIC_NONE {
                    continue;
                }
                let m =
                    semantic.find_tuned(&l.text, l.channel, model, model.thresholds, e.as_ref())?;
                counts[usize::from(l.channel == Channel::Voice)] +=
                    usize::from(best_in_scope(&m) == Some(l.topic.as_str()));
            }
            Ok(counts)
        };
        // The fusion weights that rank the right topic first most often,
        // for chat and voice lines apart (a line's ranking depends only on
        // its own channel's weight).
        let mut right = [Vec::new(), Vec::new()];
        for fusion in FUSION_GRID {
            let counts = ranked_right(&ConfidenceModel {
                fusion,
                fusion_voice: fusion,
                ..ConfidenceModel::default()
            })?;
            println!(
                "  fusion {fusion:>6.2}: ranked right {} chat, {} voice of {}",
                counts[0],
                counts[1],
                fit.len()
            );
            for (r, c) in right.iter_mut().zip(counts) {
                r.push(c);
            }
        }
        let fusion = [
            best_on_grid(&FUSION_GRID, &right[0]),
            best_on_grid(&FUSION_GRID, &right[1]),
        ];
        // Then the topic classifier's weight with those fusion weights,
        // chosen the same way over chat and voice lines together.
        let mut right = Vec::new();
        for classifier in CLASSIFIER_GRID {
            let counts = ranked_right(&ConfidenceModel {
                fusion: fusion[0],
                fusion_voice: fusion[1],
                classifier,
                ..ConfidenceModel::default()
            })?;
            let count = counts[0] + counts[1];
            println!(
                "  classifier {classifier:>6.2}: ranked right {count} of {}",
                fit.len()
            );
            right.push(count);
        }
        let classifier = best_on_grid(&CLASSIFIER_GRID, &right);
        calibration.semantic = fit_model(
            &semantic,
            &fit,
            &extra,
            !extra.is_empty(),
            [fusion[0], fusion[1], classifier],
        )?;
        semantic.set_calibration(calibration.clone());
        report_halves(&semantic, &fit, &report)?;
    } else {
        println!("(semantic model missing: its calibration is left as it was)");
    }
    if write {
        let path = knowledge::default_calibration_path(&project.root);
        let name = |p: &std::path::Path| {
            p.file_name()
                .map_or_else(String::new, |f| f.to_string_lossy().into_owned())
        };
        let also: String = fit_also
            .iter()
            .map(|p| format!(" --fit-also {}", name(p)))
            .collect();
        let comment = format!(
            "Fitted by `vejviser knowledge calibrate {}{also} --write` on the half of\nits lines whose id hashes even (and all of the --fit-also lines); do not\nedit by hand.",
            name(file)
        );
        std::fs::write(&path, calibration.to_yaml(&comment))?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Fusion weights tried (semantic similarity against relative lexical score).
const FUSION_GRID: [f32; 13] = [
    0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0,
];

/// Topic classifier weights tried (its probability against the relative
/// lexical score). At most 1, the lexical channel's own weight: the
/// classifier learns from the same texts the other channels search, and
/// one channel should not overrule both others; on the fitting half the
/// count of lines ranked right is flat from 0.5 on.
const CLASSIFIER_GRID: [f32; 6] = [0.0, 0.1, 0.25, 0.5, 0.75, 1.0];

/// One fitting line as the probe model ranks it.
struct Sample {
    /// Of the best in-scope candidate.
    features: knowledge::Features,
    /// Whether the best in-scope candidate's topic is the line's.
    right: bool,
    gold_none: bool,
    /// Whether the line is of the fitting half (not an extra line).
    counts: bool,
    /// Whether an out-of-scope example ranked first.
    none_first: bool,
}

/// The topic of the best in-scope candidate.
fn best_in_scope(m: &knowledge::Match) -> Option<&str> {
    m.candidates
        .iter()
        .map(|c| c.topic.as_str())
        .find(|t| *t != TOPIC_NONE)
}

/// Fits the out-of-scope model, the confidence model and their thresholds
/// on the fitting half (`extra` lines only help fit the models); the
/// out-of-scope model only when `out_of_scope_model` is set. `weights`:
/// fusion for chat, for voice, and the classifier's weight.
fn fit_model(
    matcher: &Matcher,
    fit: &[&Labelled],
    extra: &[&Labelled],
    out_of_scope_model: bool,
    weights: [f32; 3],
) -> anyhow::Result<ConfidenceModel> {
    let [fusion, fusion_voice, classifier] = weights;
    let probe = ConfidenceModel {
        fusion,
        fusion_voice,
        classifier,
        ..ConfidenceModel::default()
    };
    // Features of the best in-scope candidate, whether its topic was
    // right, whether the line is out of scope, whether it counts for the
    // thresholds.
    let mut samples = Vec::new();
    for (l, counts) in fit
        .iter()
        .map(|l| (l, true))
        .chain(extra.iter().map(|l| (l, false)))
    {
        let e = matcher.embed(&l.text);
        let m = matcher.find_tuned(&l.text, l.channel, &probe, probe.thresholds, e.as_ref())?;
        let Some(top) = best_in_scope(&m) else {
            continue;
        };
        let none_first = m.candidates.first().is_some_and(|c| c.topic == TOPIC_NONE);
        samples.push(Sample {
            features: m.features,
            right: top == l.topic,
            gold_none: l.topic == TOPIC_NONE,
            counts,
            none_first,
        });
    }
    let out_of_scope = if out_of_scope_model {
        let fitted = OutOfScopeModel::fit(
            &samples
                .iter()
                .map(|s| (s.features, s.gold_none))
                .collect::<Vec<_>>(),
        );
        OutOfScopeModel {
            threshold: choose_out_of_scope_threshold(&fitted, &samples),
            ..fitted
        }
    } else {
        OutOfScopeModel::default()
    };
    let counted: Vec<_> = samples.iter().filter(|s| s.counts).collect();
    let in_scope = counted.iter().filter(|s| !s.gold_none).count().max(1);
    let is_none = |s: &Sample| {
        s.none_first || out_of_scope.probability(&s.features) >= out_of_scope.threshold
    };
    let already_none = counted
        .iter()
        .filter(|s| !s.gold_none && is_none(s))
        .count();
    let kept: Vec<(knowledge::Features, bool, bool)> = counted
        .iter()
        .filter(|s| !is_none(s))
        .map(|s| (s.features, s.right, s.gold_none))
        .collect();
    // The confidence model is fitted on every line the out-of-scope
    // examples do not claim, not only on those the out-of-scope model
    // lets through: that model keeps lines with weak similarity only when
    // other evidence is strong, and fitted on what it keeps, similarity
    // would seem to lower the chance of being right. The `extra` lines
    // count too: out-of-scope and vague ones ("min sag", labelled with no
    // topic of the list) teach it what a question it cannot be sure of
    // looks like; the thresholds below are chosen on the fitting half only.
    let fitted = ConfidenceModel::fit(
        &samples
            .iter()
            .filter(|s| !s.none_first)
            .map(|s| (s.features, s.right))
            .collect::<Vec<_>>(),
    );
    let budget = (MAX_IN_SCOPE_AS_NONE * in_scope as f64) as usize;
    // Vague lines the out-of-scope model lets through: answering one
    // directly is never right, so they count against the answer
    // threshold's precision (they are what "Handler det om …?" is for).
    // Only with both channels: the lexical model has no feature that tells
    // a vague line (the topic classifier's log-probability does), and
    // counting them would leave it never answering.
    let vague: Vec<knowledge::Features> = samples
        .iter()
        .filter(|s| out_of_scope_model && !s.counts && !s.gold_none && !is_none(s))
        .map(|s| s.features)
        .collect();
    let thresholds = choose_thresholds(
        &fitted,
        &kept,
        &vague,
        in_scope,
        budget.saturating_sub(already_none),
    );
    Ok(ConfidenceModel {
        thresholds,
        fusion,
        fusion_voice,
        classifier,
        out_of_scope,
        ..fitted
    })
}

/// The out-of-scope threshold that maximises the share of in-scope lines
/// still answered right plus the share of out-of-scope lines caught (all
/// fitting lines, `extra` included, the two classes weighted equally),
/// while at most [`MAX_IN_SCOPE_AS_NONE`] of the fitting half's in-scope
/// lines come back as `none`.
fn choose_out_of_scope_threshold(model: &OutOfScopeModel, samples: &[Sample]) -> f32 {
    // A line whose best candidate is an out-of-scope example is `none`
    // whatever the threshold.
    let scored: Vec<(f32, bool, bool)> = samples
        .iter()
        .map(|s| {
            let p = if s.none_first {
                1.0
            } else {
                model.probability(&s.features)
            };
            (p, s.right, s.gold_none)
        })
        .collect();
    let in_scope = scored.iter().filter(|s| !s.2).count().max(1) as f64;
    let none = scored.iter().filter(|s| s.2).count().max(1) as f64;
    let mut best = (f64::MIN, 1.0f32);
    for step in (1..100).rev() {
        let t = step as f32 / 100.0;
        let (right_in, as_none, caught) = none_tally(
            scored
                .iter()
                .map(|&(p, ok, gold_none)| (p >= t, ok, gold_none)),
        );
        if as_none as f64 / in_scope > MAX_IN_SCOPE_AS_NONE {
            break;
        }
        let objective = right_in as f64 / in_scope + caught as f64 / none;
        if objective > best.0 {
            best = (objective, t);
        }
    }
    best.1
}

fn report_halves(matcher: &Matcher, fit: &[&Labelled], report: &[&Labelled]) -> anyhow::Result<()> {
    print(
        &evaluate(matcher, None, fit)?,
        &format!("fitting half ({} lines)", fit.len()),
    );
    print(
        &evaluate(matcher, None, report)?,
        &format!(
            "reporting half ({} lines, not used for fitting)",
            report.len()
        ),
    );
    let m = matcher.calibration().model(matcher.has_semantic());
    println!(
        "fusion {:.2} (voice {:.2}), classifier {:.2}, thresholds: answer {:.3}, confirm {:.3}",
        m.fusion, m.fusion_voice, m.classifier, m.thresholds.answer, m.thresholds.confirm
    );
    Ok(())
}

/// Counts, over lines given as (comes back as `none`, best topic right,
/// labelled `none`): in-scope lines answered right, in-scope lines turned
/// into `none`, and `none` lines caught.
fn none_tally(lines: impl Iterator<Item = (bool, bool, bool)>) -> (usize, usize, usize) {
    let (mut right_in, mut as_none, mut caught) = (0usize, 0usize, 0usize);
    for (is_none, ok, gold_none) in lines {
        match (is_none, gold_none) {
            (false, false) => right_in += usize::from(ok),
            (true, false) => as_none += 1,
            (true, true) => caught += 1,
            (false, true) => {}
        }
    }
    (right_in, as_none, caught)
}

/// Most in-scope lines that may come back as `none` on the fitting half.
const MAX_IN_SCOPE_AS_NONE: f64 = 0.025;

/// The confirm threshold (below it a line comes back as `none`) that
/// maximises in-scope accuracy plus the share of `none` lines caught, the
/// two classes weighted equally since `none` lines are few, while at most
/// [`MAX_IN_SCOPE_AS_NONE`] of in-scope lines come back as `none`; and the
/// lowest answer threshold whose answers are right at least
/// [`ANSWER_PRECISION`] of the time, the `vague` lines above it counted as
/// wrong answers.
fn choose_thresholds(
    c: &ConfidenceModel,
    samples: &[(knowledge::Features, bool, bool)],
    vague: &[knowledge::Features],
    in_scope: usize,
    may_turn_none: usize,
) -> Thresholds {
    let scored: Vec<(f32, bool, bool)> = samples
        .iter()
        .map(|(f, ok, gold_none)| (c.confidence(f), *ok, *gold_none))
        .collect();
    let in_scope = in_scope.max(1) as f64;
    let none = scored.iter().filter(|s| s.2).count().max(1) as f64;
    let mut best = (f64::MIN, 0.0f32);
    for step in 0..100 {
        let t = step as f32 / 100.0;
        let (right_in, as_none, caught) = none_tally(
            scored
                .iter()
                .map(|&(conf, ok, gold_none)| (conf < t, ok, gold_none)),
        );
        if as_none > may_turn_none {
            break;
        }
        let objective = right_in as f64 / in_scope + caught as f64 / none;
        if objective > best.0 {
            best = (objective, t);
        }
    }
    let confirm = best.1;
    let vague_scores: Vec<f32> = vague.iter().map(|f| c.confidence(f)).collect();
    let mut answer = 1.0;
    for step in (1..100).rev() {
        let t = step as f32 / 100.0;
        if t < confirm {
            break;
        }
        let above: Vec<_> = scored.iter().filter(|(conf, _, _)| *conf >= t).collect();
        let vague_above = vague_scores.iter().filter(|&&conf| conf >= t).count();
        if above.is_empty() {
            continue;
        }
        let precision = above.iter().filter(|(_, ok, _)| *ok).count() as f64
            / (above.len() + vague_above) as f64;
        if precision >= ANSWER_PRECISION {
            answer = t;
        } else {
            break;
        }
    }
    Thresholds {
        answer: answer.max(confirm),
        confirm,
    }
}
