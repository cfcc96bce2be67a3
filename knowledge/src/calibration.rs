//! Confidence calibration: a logistic model over [`Features`] and the
//! thresholds that turn a confidence into a decision.
//!
//! The weights are fitted on one half of a labelled file and reported on
//! the other half (`vejviser knowledge calibrate`), never by hand, and
//! stored in `knowledge/calibration.yaml`.

use std::path::Path;

use serde::Deserialize;

use crate::error::{KnowledgeError, Location, Problem};
use crate::matcher::{Features, Thresholds};
use crate::yaml::parse_yaml;

/// Number of features the confidence is computed from.
pub const N_FEATURES: usize = 14;

/// The features the confidence model weighs: the margins of both channels,
/// the lexical coverage and the channel. Absolute scores and cosines move
/// with the query's length and with its closeness to everything, and a
/// model that leans on them is sure of vague questions ("noget med papirer
/// til rejsen"); on the reporting half and the holdout this small model is
/// also the better calibrated one. The rest serve the out-of-scope model
/// (the topic classifier's probabilities too: as a confidence feature its
/// probability of the best topic changed no decision on the reporting
/// half, while its probability of `none` helps tell out-of-scope lines).
const CONFIDENCE_FEATURES: [bool; N_FEATURES] = [
    false, true, true, false, true, false, true, false, false, false, false, false, true, false,
];

/// The model that decides whether an utterance is out of scope (topic
/// `none`): a logistic model over the same [`Features`], fitted on in-scope
/// lines against out-of-scope ones, the two classes weighted equally.
#[derive(Debug, Clone, PartialEq)]
pub struct OutOfScopeModel {
    pub weights: [f32; N_FEATURES],
    pub bias: f32,
    /// At or above this probability the utterance comes back as `none`.
    pub threshold: f32,
}

impl Default for OutOfScopeModel {
    /// Never out of scope, until one is fitted.
    fn default() -> Self {
        OutOfScopeModel {
            weights: [0.0; N_FEATURES],
            bias: -10.0,
            threshold: 0.5,
        }
    }
}

impl OutOfScopeModel {
    /// The probability that the utterance is out of scope.
    pub fn probability(&self, f: &Features) -> f32 {
        logistic(&self.weights, self.bias, f)
    }

    /// Fits the weights to (features, is out of scope); the threshold is
    /// left to the caller.
    pub fn fit(samples: &[(Features, bool)]) -> OutOfScopeModel {
        let positives = samples.iter().filter(|(_, y)| *y).count().max(1) as f64;
        let negatives = samples.iter().filter(|(_, y)| !*y).count().max(1) as f64;
        let (weights, bias) =
            fit_logistic(samples, negatives / positives, 1e-2, [true; N_FEATURES]);
        OutOfScopeModel {
            weights,
            bias,
            ..OutOfScopeModel::default()
        }
    }
}

fn logistic(weights: &[f32; N_FEATURES], bias: f32, f: &Features) -> f32 {
    let z: f32 = weights
        .iter()
        .zip(f.as_array())
        .map(|(w, x)| w * x)
        .sum::<f32>()
        + bias;
    1.0 / (1.0 + (-z).exp())
}

/// Logistic regression by gradient descent on standardised features (mean
/// 0, spread 1), so one step size suits features of any scale; the weights
/// are converted back to the raw features at the end. `positive_weight`
/// weighs the samples labelled true against the others; `l2` is the ridge
/// penalty on the standardised weights; only the `used` features get a
/// weight (the others stay 0). Hand-written: a dozen features and
/// a few hundred samples do not call for a machine-learning crate.
fn fit_logistic(
    samples: &[(Features, bool)],
    positive_weight: f64,
    l2: f64,
    used: [bool; N_FEATURES],
) -> ([f32; N_FEATURES], f32) {
    let weight_of = |y: bool| if y { positive_weight } else { 1.0 };
    let n: f64 = samples
        .iter()
        .map(|(_, y)| weight_of(*y))
        .sum::<f64>()
        .max(1e-9);
    let mut mean = [0.0f64; N_FEATURES];
    let mut spread = [0.0f64; N_FEATURES];
    for (f, y) in samples {
        for (m, x) in mean.iter_mut().zip(f.as_array()) {
            *m += weight_of(*y) * f64::from(x) / n;
        }
    }
    for (f, y) in samples {
        for ((s, m), x) in spread.iter_mut().zip(&mean).zip(f.as_array()) {
            *s += weight_of(*y) * (f64::from(x) - m).powi(2) / n;
        }
    }
    let spread = spread.map(|v| if v > 1e-12 { v.sqrt() } else { 1.0 });
    let standard: Vec<([f64; N_FEATURES], f64, f64)> = samples
        .iter()
        .map(|(f, y)| {
            let a = f.as_array();
            (
                std::array::from_fn(|k| (f64::from(a[k]) - mean[k]) / spread[k]),
                f64::from(u8::from(*y)),
                weight_of(*y),
            )
        })
        .collect();
    let mut w = [0.0f64; N_FEATURES];
    let mut b = 0.0f64;
    let rate = 0.5;
    for _ in 0..4000 {
        let mut gw = [0.0f64; N_FEATURES];
        let mut gb = 0.0f64;
        for (x, y, sw) in &standard {
            let z: f64 = w.iter().zip(x).map(|(w, x)| w * x).sum::<f64>() + b;
            let p = 1.0 / (1.0 + (-z).exp());
            let err = sw * (p - y);
            for k in 0..N_FEATURES {
                gw[k] += err * x[k];
            }
            gb += err;
        }
        for k in (0..N_FEATURES).filter(|&k| used[k]) {
            w[k] -= rate * (gw[k] / n + l2 * w[k]);
        }
        b -= rate * gb / n;
    }
    let raw: [f64; N_FEATURES] = std::array::from_fn(|k| w[k] / spread[k]);
    let bias = b - raw.iter().zip(&mean).map(|(w, m)| w * m).sum::<f64>();
    (raw.map(|v| v as f32), bias as f32)
}

/// The confidence model and thresholds of one channel set.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfidenceModel {
    pub weights: [f32; N_FEATURES],
    pub bias: f32,
    pub thresholds: Thresholds,
    /// Weight of the semantic similarity against the lexical score
    /// (relative to the best lexical topic) when ranking topics.
    pub fusion: f32,
    /// The same for voice lines, whose words speech recognition garbles
    /// more often.
    pub fusion_voice: f32,
    /// Weight of the topic classifier's probability in the same ranking.
    pub classifier: f32,
    /// Whether the utterance is out of scope.
    pub out_of_scope: OutOfScopeModel,
}

/// Fitted models: one for the lexical channel alone (used when the
/// semantic model is absent), one for both channels.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Calibration {
    pub lexical: ConfidenceModel,
    pub semantic: ConfidenceModel,
}

impl Default for ConfidenceModel {
    /// A conservative hand-set model, used only until one is fitted.
    fn default() -> Self {
        ConfidenceModel {
            weights: [
                1.0, 2.0, 2.0, -0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
            ],
            bias: -3.0,
            thresholds: Thresholds {
                answer: 0.7,
                confirm: 0.4,
            },
            fusion: 0.0,
            fusion_voice: 0.0,
            classifier: 0.0,
            out_of_scope: OutOfScopeModel::default(),
        }
    }
}

const FEATURE_NAMES: [&str; N_FEATURES] = [
    "log_score",
    "margin",
    "coverage",
    "log_terms",
    "voice",
    "semantic",
    "semantic_margin",
    "out_of_scope_gap",
    "out_of_scope_similarity",
    "unknown_words",
    "out_of_scope_lexical",
    "semantic_spread",
    "classifier",
    "classifier_none",
];

impl ConfidenceModel {
    /// The calibrated probability that the best candidate is right.
    pub fn confidence(&self, f: &Features) -> f32 {
        logistic(&self.weights, self.bias, f)
    }

    /// Fits the logistic weights to (features, best candidate was right);
    /// thresholds, fusion weight and out-of-scope model are left to the
    /// caller.
    pub fn fit(samples: &[(Features, bool)]) -> ConfidenceModel {
        let (weights, bias) = fit_logistic(samples, 1.0, 1e-3, CONFIDENCE_FEATURES);
        ConfidenceModel {
            weights,
            bias,
            ..ConfidenceModel::default()
        }
    }

    fn to_yaml(&self, name: &str, out: &mut String) {
        out.push_str(&format!("{name}:\n  weights:\n"));
        for (feature, w) in FEATURE_NAMES.iter().zip(self.weights) {
            out.push_str(&format!("    {feature}: {w:.4}\n"));
        }
        out.push_str(&format!(
            "  bias: {:.4}\n  fusion: {:.3}\n  fusion_voice: {:.3}\n  classifier: {:.3}\n  thresholds:\n    answer: {:.3}\n    confirm: {:.3}\n",
            self.bias,
            self.fusion,
            self.fusion_voice,
            self.classifier,
            self.thresholds.answer,
            self.thresholds.confirm
        ));
        out.push_str("  out_of_scope:\n    weights:\n");
        for (feature, w) in FEATURE_NAMES.iter().zip(self.out_of_scope.weights) {
            out.push_str(&format!("      {feature}: {w:.4}\n"));
        }
        out.push_str(&format!(
            "    bias: {:.4}\n    threshold: {:.3}\n",
            self.out_of_scope.bias, self.out_of_scope.threshold
        ));
    }
}

impl Calibration {
    /// The model for the channels in use.
    pub fn model(&self, semantic: bool) -> &ConfidenceModel {
        if semantic {
            &self.semantic
        } else {
            &self.lexical
        }
    }

    /// The text of `calibration.yaml` for this calibration.
    pub fn to_yaml(&self, comment: &str) -> String {
        let mut out = String::new();
        for line in comment.lines() {
            out.push_str(&format!("# {line}\n"));
        }
        out.push_str("version: 4\n");
        self.lexical.to_yaml("lexical", &mut out);
        self.semantic.to_yaml("semantic", &mut out);
        out
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalibration {
    version: u32,
    lexical: RawModel,
    semantic: RawModel,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    weights: Features,
    bias: f32,
    fusion: f32,
    fusion_voice: f32,
    classifier: f32,
    thresholds: RawThresholds,
    out_of_scope: RawOutOfScope,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutOfScope {
    weights: Features,
    bias: f32,
    threshold: f32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThresholds {
    answer: f32,
    confirm: f32,
}

pub(crate) fn load_calibration(path: &Path) -> Result<Calibration, KnowledgeError> {
    let text = std::fs::read_to_string(path).map_err(|source| KnowledgeError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let raw: RawCalibration =
        parse_yaml(path, &text).map_err(|p| KnowledgeError::Invalid(vec![p]))?;
    let bad = |message: &str| {
        KnowledgeError::Invalid(vec![Problem {
            location: Location {
                file: path.to_path_buf(),
                line: 1,
                column: 1,
            },
            code: "bad-calibration",
            message: message.into(),
        }])
    };
    if raw.version != 4 {
        return Err(bad(
            "only version 4 is supported (version 3 has no topic classifier weight or features); refit with `vejviser knowledge calibrate`",
        ));
    }
    let model = |m: RawModel| -> Result<ConfidenceModel, KnowledgeError> {
        let t = &m.thresholds;
        if !(0.0..=1.0).contains(&t.answer) || !(0.0..=1.0).contains(&t.confirm) {
            return Err(bad("thresholds must lie between 0 and 1"));
        }
        if t.confirm > t.answer {
            return Err(bad(
                "the confirm threshold cannot be above the answer threshold",
            ));
        }
        if [m.fusion, m.fusion_voice, m.classifier]
            .iter()
            .any(|f| f.is_nan() || *f < 0.0)
        {
            return Err(bad("the fusion and classifier weights cannot be negative"));
        }
        if !(0.0..=1.0).contains(&m.out_of_scope.threshold) {
            return Err(bad("thresholds must lie between 0 and 1"));
        }
        Ok(ConfidenceModel {
            weights: m.weights.as_array(),
            out_of_scope: OutOfScopeModel {
                weights: m.out_of_scope.weights.as_array(),
                bias: m.out_of_scope.bias,
                threshold: m.out_of_scope.threshold,
            },
            bias: m.bias,
            fusion: m.fusion,
            fusion_voice: m.fusion_voice,
            classifier: m.classifier,
            thresholds: Thresholds {
                answer: t.answer,
                confirm: t.confirm,
            },
        })
    };
    Ok(Calibration {
        lexical: model(raw.lexical)?,
        semantic: model(raw.semantic)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_separates_confident_from_unsure() {
        let good = Features {
            log_score: 3.0,
            margin: 0.6,
            coverage: 0.9,
            log_terms: 1.5,
            semantic: 0.9,
            ..Features::default()
        };
        let bad = Features {
            log_score: 1.0,
            margin: 0.05,
            coverage: 0.3,
            log_terms: 1.5,
            voice: 1.0,
            semantic: 0.8,
            ..Features::default()
        };
        let samples: Vec<_> = (0..50).flat_map(|_| [(good, true), (bad, false)]).collect();
        let c = ConfidenceModel::fit(&samples);
        assert!(c.confidence(&good) > 0.9, "{}", c.confidence(&good));
        assert!(c.confidence(&bad) < 0.1, "{}", c.confidence(&bad));
    }

    #[test]
    fn out_of_scope_model_separates_few_out_of_scope_lines() {
        let in_scope = Features {
            semantic: 9.3,
            out_of_scope_similarity: 8.6,
            coverage: 0.8,
            ..Features::default()
        };
        let out = Features {
            semantic: 8.8,
            out_of_scope_similarity: 8.9,
            coverage: 0.2,
            unknown_words: 0.5,
            ..Features::default()
        };
        // Ten in-scope lines for each out-of-scope one: the classes are
        // weighted equally, so the rare class is still recognised.
        let samples: Vec<_> = (0..10)
            .flat_map(|_| std::iter::repeat_n((in_scope, false), 10).chain([(out, true)]))
            .collect();
        let m = OutOfScopeModel::fit(&samples);
        assert!(m.probability(&out) > 0.9, "{}", m.probability(&out));
        assert!(
            m.probability(&in_scope) < 0.1,
            "{}",
            m.probability(&in_scope)
        );
    }

    #[test]
    fn confidence_ignores_the_out_of_scope_features() {
        let a = Features {
            margin: 0.6,
            coverage: 0.9,
            ..Features::default()
        };
        let b = Features {
            margin: 0.1,
            coverage: 0.3,
            ..Features::default()
        };
        let samples: Vec<_> = (0..20).flat_map(|_| [(a, true), (b, false)]).collect();
        let c = ConfidenceModel::fit(&samples);
        for (k, used) in CONFIDENCE_FEATURES.iter().enumerate() {
            if !used {
                assert_eq!(c.weights[k], 0.0, "feature {k}");
            }
        }
        assert!(c.confidence(&a) > c.confidence(&b));
    }

    #[test]
    fn version_3_is_rejected_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        let text = Calibration::default()
            .to_yaml("old")
            .replace("version: 4", "version: 3");
        std::fs::write(&path, text).unwrap();
        let err = load_calibration(&path).unwrap_err().to_string();
        assert!(err.contains("version 4"), "{err}");
        assert!(err.contains("classifier"), "{err}");
    }

    #[test]
    fn yaml_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        let mut c = Calibration::default();
        c.semantic.out_of_scope.threshold = 0.42;
        c.semantic.out_of_scope.weights[9] = 1.5;
        c.semantic.out_of_scope.weights[13] = -0.75;
        c.semantic.classifier = 0.5;
        std::fs::write(&path, c.to_yaml("test")).unwrap();
        let back = load_calibration(&path).unwrap();
        assert!((back.semantic.classifier - 0.5).abs() < 1e-3);
        assert!((back.semantic.out_of_scope.weights[13] + 0.75).abs() < 1e-3);
        assert_eq!(back.semantic.thresholds, c.semantic.thresholds);
        assert!((back.semantic.out_of_scope.threshold - 0.42).abs() < 1e-3);
        assert!((back.semantic.out_of_scope.weights[9] - 1.5).abs() < 1e-3);
        assert!((back.lexical.bias - c.lexical.bias).abs() < 1e-3);
    }
}
