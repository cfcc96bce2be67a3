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

/// Fitted weights and thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    pub weights: [f32; 5],
    pub bias: f32,
    pub thresholds: Thresholds,
}

impl Default for Calibration {
    /// A conservative hand-set model, used only until one is fitted.
    fn default() -> Self {
        Calibration {
            weights: [1.0, 2.0, 2.0, -0.5, 0.0],
            bias: -3.0,
            thresholds: Thresholds {
                answer: 0.7,
                confirm: 0.4,
            },
        }
    }
}

const FEATURE_NAMES: [&str; 5] = ["log_score", "margin", "coverage", "log_terms", "voice"];

impl Calibration {
    /// The calibrated probability that the best candidate is right.
    pub fn confidence(&self, f: &Features) -> f32 {
        let z: f32 = self
            .weights
            .iter()
            .zip(f.as_array())
            .map(|(w, x)| w * x)
            .sum::<f32>()
            + self.bias;
        1.0 / (1.0 + (-z).exp())
    }

    /// Fits the logistic weights to (features, best candidate was right).
    pub fn fit(samples: &[(Features, bool)]) -> Calibration {
        let mut w = [0.0f64; 5];
        let mut b = 0.0f64;
        let n = samples.len().max(1) as f64;
        let rate = 0.5;
        let l2 = 1e-3;
        for _ in 0..4000 {
            let mut gw = [0.0f64; 5];
            let mut gb = 0.0f64;
            for (f, y) in samples {
                let x = f.as_array().map(f64::from);
                let z: f64 = w.iter().zip(&x).map(|(w, x)| w * x).sum::<f64>() + b;
                let p = 1.0 / (1.0 + (-z).exp());
                let err = p - f64::from(u8::from(*y));
                for k in 0..5 {
                    gw[k] += err * x[k];
                }
                gb += err;
            }
            for k in 0..5 {
                w[k] -= rate * (gw[k] / n + l2 * w[k]);
            }
            b -= rate * gb / n;
        }
        Calibration {
            weights: w.map(|v| v as f32),
            bias: b as f32,
            thresholds: Calibration::default().thresholds,
        }
    }

    /// The text of `calibration.yaml` for this calibration.
    pub fn to_yaml(&self, comment: &str) -> String {
        let mut out = String::new();
        for line in comment.lines() {
            out.push_str(&format!("# {line}\n"));
        }
        out.push_str("version: 1\nweights:\n");
        for (name, w) in FEATURE_NAMES.iter().zip(self.weights) {
            out.push_str(&format!("  {name}: {w:.4}\n"));
        }
        out.push_str(&format!(
            "bias: {:.4}\nthresholds:\n  answer: {:.3}\n  confirm: {:.3}\n",
            self.bias, self.thresholds.answer, self.thresholds.confirm
        ));
        out
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalibration {
    version: u32,
    weights: RawWeights,
    bias: f32,
    thresholds: RawThresholds,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeights {
    log_score: f32,
    margin: f32,
    coverage: f32,
    log_terms: f32,
    voice: f32,
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
    let t = &raw.thresholds;
    let problem = if raw.version != 1 {
        Some("only version 1 is supported")
    } else if !(0.0..=1.0).contains(&t.answer) || !(0.0..=1.0).contains(&t.confirm) {
        Some("thresholds must lie between 0 and 1")
    } else if t.confirm > t.answer {
        Some("the confirm threshold cannot be above the answer threshold")
    } else {
        None
    };
    if let Some(message) = problem {
        return Err(KnowledgeError::Invalid(vec![Problem {
            location: Location {
                file: path.to_path_buf(),
                line: 1,
                column: 1,
            },
            code: "bad-calibration",
            message: message.into(),
        }]));
    }
    let w = raw.weights;
    Ok(Calibration {
        weights: [w.log_score, w.margin, w.coverage, w.log_terms, w.voice],
        bias: raw.bias,
        thresholds: Thresholds {
            answer: t.answer,
            confirm: t.confirm,
        },
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
            voice: 0.0,
        };
        let bad = Features {
            log_score: 1.0,
            margin: 0.05,
            coverage: 0.3,
            log_terms: 1.5,
            voice: 1.0,
        };
        let samples: Vec<_> = (0..50).flat_map(|_| [(good, true), (bad, false)]).collect();
        let c = Calibration::fit(&samples);
        assert!(c.confidence(&good) > 0.9, "{}", c.confidence(&good));
        assert!(c.confidence(&bad) < 0.1, "{}", c.confidence(&bad));
    }

    #[test]
    fn yaml_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        let c = Calibration::default();
        std::fs::write(&path, c.to_yaml("test")).unwrap();
        let back = load_calibration(&path).unwrap();
        assert_eq!(back.thresholds, c.thresholds);
        assert!((back.bias - c.bias).abs() < 1e-3);
    }
}
