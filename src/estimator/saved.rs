//! Saved models: [`Fitted::save`] and [`Fitted::load`] through serde, in a
//! versioned JSON schema (docs/MODEL_FORMAT.md).

use crate::estimator::error::EstimatorError;
use std::path::Path;

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use crate::data::scaling::{Standardizer, TargetScaling};
use crate::engine::device::Device;
use crate::error::{Error, Result};
use crate::estimator::fitted::Fitted;
use crate::estimator::settings::GradientDescent;
use crate::train::curvature::Curvature;
use crate::train::history::{EpochRecord, History, StopReason};
use crate::train::state::TrainingState;

/// The most bytes a saved model may take: it is read whole into memory
/// before it is parsed, and a model of a million features takes some tens
/// of megabytes, so a larger file is another kind of file.
pub(crate) const MAX_MODEL_BYTES: u64 = 1 << 30;
use crate::data::table::Encoding;
use crate::math::model::Model;

/// The schema version [`Fitted::save`] writes and [`Fitted::load`] reads.
pub const SCHEMA_VERSION: u32 = 3;

/// The name of the format, written beside the version.
const FORMAT: &str = "downhill-model";

/// The standardization, as saved.
#[derive(Serialize, Deserialize)]
struct SavedStandardizer {
    mean: Vec<f32>,
    scale: Vec<f32>,
}

/// The target's scaling, as saved.
#[derive(Serialize, Deserialize)]
struct SavedTargetScaling {
    mean: f32,
    scale: f32,
}

/// The weights as saved: a list for a model of one margin, a list per
/// feature of its K weights for a multinomial model (added in version 3).
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum SavedWeights {
    OneMargin(Vec<f32>),
    PerClass(Vec<Vec<f32>>),
}

/// The bias as saved: a number, or a list of K for a multinomial model
/// (added in version 3).
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum SavedBias {
    OneMargin(f32),
    PerClass(Vec<f32>),
}

/// A fitted model as the JSON file holds it.
#[derive(Serialize, Deserialize)]
struct SavedModel {
    format: String,
    version: u32,
    model: Model,
    #[serde(rename = "features")]
    feature_names: Option<Vec<String>>,
    weights: SavedWeights,
    bias: SavedBias,
    standardization: Option<SavedStandardizer>,
    /// Added within version 1: files without it read as `null`.
    #[serde(default)]
    target_standardization: Option<SavedTargetScaling>,
    /// Added within version 1: the curvatures an automatic rate or momentum
    /// came from.
    #[serde(default)]
    curvature: Option<Curvature>,
    /// Added within version 1: how a table's columns became the features.
    #[serde(default)]
    encoding: Option<Encoding>,
    options: GradientDescent,
    stop_reason: StopReason,
    best_epoch: Option<usize>,
    device: Device,
    gradient_evaluations: u64,
    history: Vec<EpochRecord>,
    training_state: TrainingState,
}

impl Fitted {
    /// The model as JSON text in schema version [`SCHEMA_VERSION`].
    pub fn to_json(&self) -> Result<String> {
        let saved = SavedModel {
            format: FORMAT.into(),
            version: SCHEMA_VERSION,
            model: self.model,
            feature_names: self.feature_names.clone(),
            weights: match self.weights.ncols() {
                1 => SavedWeights::OneMargin(self.weights.column(0).to_vec()),
                _ => SavedWeights::PerClass(self.weights.rows().into_iter().map(|r| r.to_vec()).collect()),
            },
            bias: match self.biases.len() {
                1 => SavedBias::OneMargin(self.biases[0]),
                _ => SavedBias::PerClass(self.biases.to_vec()),
            },
            standardization: self.standardizer.as_ref().map(|s| SavedStandardizer {
                mean: s.mean().to_vec(),
                scale: s.scale().to_vec(),
            }),
            target_standardization: self.target_scaling.map(|t| SavedTargetScaling {
                mean: t.mean,
                scale: t.scale,
            }),
            curvature: self.curvature,
            encoding: self.encoding.clone(),
            options: self.settings.clone(),
            stop_reason: self.stop_reason,
            best_epoch: self.best_epoch,
            device: self.device,
            gradient_evaluations: self.gradient_evaluations,
            history: self.history.records.clone(),
            training_state: self.state.clone(),
        };
        serde_json::to_string_pretty(&saved).map_err(|e| {
            Error::Estimator(EstimatorError::MalformedModel {
                path: "(in memory)".into(),
                reason: e.to_string(),
            })
        })
    }

    /// Writes the model to `path` as JSON (see [`Fitted::to_json`]), whole
    /// or not at all ([`crate::atomic_file`]).
    ///
    /// ```
    /// use downhill::{Fitted, GradientDescent};
    /// use ndarray::array;
    /// let x = array![[1.0f32], [2.0], [3.0]];
    /// let y = array![3.0f32, 5.0, 7.0];
    /// let fitted = GradientDescent::linear().max_epochs(10).fit(x.view(), y.view())?;
    /// let path = std::env::temp_dir().join("downhill_save_doc.json");
    /// fitted.save(&path)?;
    /// let loaded = Fitted::load(&path)?;
    /// assert_eq!(loaded.predict(x.view())?, fitted.predict(x.view())?);
    /// # Ok::<(), downhill::Error>(())
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let json = self.to_json()?;
        // A reader (or a fit interrupted mid-write) never sees half a model.
        crate::atomic_file::write_atomically(path, |file| {
            use std::io::Write;
            file.write_all(json.as_bytes())
        })
    }

    /// Reads a model written by [`Fitted::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Fitted> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        // The file is read whole: nothing but a regular file of a bounded
        // size (/dev/zero would fill memory).
        if let Some(bytes) = crate::data::input_file::regular_file_size(path)? {
            if bytes > MAX_MODEL_BYTES {
                return Err(Error::Estimator(EstimatorError::ModelFileTooLarge {
                    path: shown,
                    bytes,
                    limit: MAX_MODEL_BYTES,
                }));
            }
        }
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        Fitted::from_json(&text, &shown)
    }

    /// Reads a model from JSON text; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Fitted> {
        let malformed = |reason: String| {
            Error::Estimator(EstimatorError::MalformedModel {
                path: origin.to_string(),
                reason,
            })
        };
        // The version is read first, so that a file of another version is
        // named as such rather than as a file with odd fields.
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
        if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(malformed(format!("no \"format\": \"{FORMAT}\" field")));
        }
        match value.get("version") {
            // Version 1 lacks the loss and the L1 strength, which read as
            // the model's default loss and none.
            Some(version)
                if version
                    .as_u64()
                    .is_some_and(|v| (1..=u64::from(SCHEMA_VERSION)).contains(&v)) => {}
            Some(version) => {
                return Err(Error::Estimator(EstimatorError::UnknownSchemaVersion {
                    path: origin.to_string(),
                    found: version.to_string(),
                    supported: SCHEMA_VERSION,
                }))
            }
            None => return Err(malformed("no \"version\" field".into())),
        }
        let saved: SavedModel = serde_json::from_value(value).map_err(|e| malformed(e.to_string()))?;
        let margins = saved.options.loss_settings().margins();
        let (weights, biases) = match (saved.weights, saved.bias, margins) {
            (SavedWeights::OneMargin(weights), SavedBias::OneMargin(bias), 1) => {
                let features = weights.len();
                (
                    Array2::from_shape_vec((features, 1), weights).expect("one column"),
                    Array1::from(vec![bias]),
                )
            }
            (SavedWeights::PerClass(rows), SavedBias::PerClass(biases), k) if k > 1 => {
                if let Some(j) = rows.iter().position(|r| r.len() != k) {
                    return Err(malformed(format!(
                        "a model of {k} classes, but feature {j} has {} weights",
                        rows[j].len()
                    )));
                }
                if biases.len() != k {
                    return Err(malformed(format!(
                        "a model of {k} classes, but {} biases",
                        biases.len()
                    )));
                }
                let features = rows.len();
                (
                    Array2::from_shape_vec((features, k), rows.concat()).expect("features × classes"),
                    Array1::from(biases),
                )
            }
            (_, _, k) => {
                return Err(malformed(format!(
                    "the weights and the bias do not have the shape of a model of {k} margins per row"
                )))
            }
        };
        let features = weights.nrows();
        let state = &saved.training_state;
        let parameters = (features + 1) * margins;
        let lengths = [
            (
                "feature names",
                saved.feature_names.as_ref().map(Vec::len),
                features,
            ),
            (
                "standardization means",
                saved.standardization.as_ref().map(|s| s.mean.len()),
                features,
            ),
            (
                "standardization scales",
                saved.standardization.as_ref().map(|s| s.scale.len()),
                features,
            ),
            (
                "training-state parameters",
                Some(state.parameters.len()),
                parameters,
            ),
            (
                "best parameters",
                state.stop_rules.best_parameters.as_ref().map(Vec::len),
                parameters,
            ),
        ];
        for (what, found, expected) in lengths {
            if found.is_some_and(|found| found != expected) {
                return Err(malformed(format!(
                    "{features} weights, but {} {what}",
                    found.unwrap_or_default()
                )));
            }
        }
        for (what, moment) in [
            ("first moments", &state.optimizer.first_moment),
            ("second moments", &state.optimizer.second_moment),
        ] {
            if !(moment.is_empty() || moment.len() == parameters) {
                return Err(malformed(format!(
                    "{features} weights, but {} {what}",
                    moment.len()
                )));
            }
        }
        if let Some(encoding) = &saved.encoding {
            encoding
                .check()
                .map_err(|reason| malformed(format!("the encoding: {reason}")))?;
            let width = encoding.width();
            if width != features {
                return Err(malformed(format!(
                    "{features} weights, but the encoding makes {width} features"
                )));
            }
        }
        if let Some((i, _)) = weights.iter().enumerate().find(|(_, w)| !w.is_finite()) {
            return Err(malformed(format!("weights[{i}] is not a finite number")));
        }
        if let Some(bias) = biases.iter().find(|b| !b.is_finite()) {
            return Err(malformed(format!("the bias is {bias}, not a finite number")));
        }
        if saved.options.model() != saved.model {
            return Err(malformed(format!(
                "the model is {} but the options are for {}",
                saved.model,
                saved.options.model()
            )));
        }
        let standardizer = saved
            .standardization
            .map(|s| Standardizer::from_parts(Array1::from(s.mean), Array1::from(s.scale)))
            .transpose()
            .map_err(|e| malformed(e.to_string()))?;
        let target_scaling = match saved.target_standardization {
            None => None,
            Some(SavedTargetScaling { mean, scale })
                if mean.is_finite() && scale.is_finite() && scale > 0.0 =>
            {
                Some(TargetScaling { mean, scale })
            }
            Some(_) => {
                return Err(malformed(
                    "the target standardization needs a finite mean and a positive scale".into(),
                ))
            }
        };
        Ok(Fitted {
            model: saved.model,
            weights,
            biases,
            history: History {
                records: saved.history,
                parameters: Vec::new(),
            },
            stop_reason: saved.stop_reason,
            best_epoch: saved.best_epoch,
            gradient_evaluations: saved.gradient_evaluations,
            // Not saved: what the engine did belongs to the run, not the model.
            work: crate::engine::WorkCounts::default(),
            device: saved.device,
            standardizer,
            target_scaling,
            curvature: saved.curvature,
            encoding: saved.encoding,
            feature_names: saved.feature_names,
            settings: saved.options,
            state: saved.training_state,
        })
    }
}
