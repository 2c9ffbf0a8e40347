//! The saved model (`fit --save`) and `downhill predict`.

use std::path::Path;

use downhill::data::{read_csv, CsvData};
use downhill::{sigmoid, Fitted, Model};
use serde::{Deserialize, Serialize};

use crate::options::{FitArgs, PredictArgs};

/// A fitted model as JSON: the parameters in the units of the CSV (also
/// after --standardize), the options that produced them, the history.
#[derive(Serialize, Deserialize, Debug)]
pub struct SavedModel {
    pub format: String,
    pub model: String,
    pub target: String,
    pub features: Vec<String>,
    pub weights: Vec<f32>,
    pub bias: f32,
    pub options: SavedOptions,
    pub stop_reason: String,
    pub device: String,
    pub history: Vec<SavedEpoch>,
}

#[derive(Serialize, Deserialize, Debug)]
pub struct SavedOptions {
    pub variant: String,
    pub optimizer: String,
    pub lr: f32,
    pub schedule: String,
    pub l2: f32,
    pub epochs: usize,
    pub tol: Option<f64>,
    pub patience: usize,
    pub standardize: bool,
    pub seed: u64,
    pub device: String,
}

#[derive(Serialize, Deserialize, Debug)]
pub struct SavedEpoch {
    pub epoch: usize,
    pub loss: f64,
    pub learning_rate: f64,
}

const FORMAT: &str = "downhill-model-1";

impl SavedModel {
    pub fn new(args: &FitArgs, data: &CsvData, fitted: &Fitted) -> SavedModel {
        let train = &args.train;
        SavedModel {
            format: FORMAT.into(),
            model: fitted.model().name().into(),
            target: args.data.target.clone(),
            features: data.feature_names.clone(),
            weights: fitted.weights().to_vec(),
            bias: fitted.bias(),
            options: SavedOptions {
                variant: train.variant_name(),
                optimizer: train.optimizer.clone(),
                lr: args.lr,
                schedule: format!("{:?}", train.schedule()),
                l2: train.l2,
                epochs: train.epochs,
                tol: train.tol,
                patience: train.patience,
                standardize: train.standardize,
                seed: train.seed,
                device: train.device.clone(),
            },
            stop_reason: format!("{:?}", fitted.stop_reason()),
            device: fitted.device().name().into(),
            history: fitted
                .history()
                .records()
                .iter()
                .map(|r| SavedEpoch {
                    epoch: r.epoch,
                    loss: r.loss,
                    learning_rate: r.learning_rate,
                })
                .collect(),
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    pub fn load(path: &Path) -> Result<SavedModel, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let saved: SavedModel = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{} is not a model saved by downhill fit --save: {e}",
                path.display()
            )
        })?;
        if saved.format != FORMAT {
            return Err(format!(
                "{} has format {:?}, expected {FORMAT:?}",
                path.display(),
                saved.format
            ));
        }
        if saved.weights.len() != saved.features.len() {
            return Err(format!(
                "{} has {} weights for {} features",
                path.display(),
                saved.weights.len(),
                saved.features.len()
            ));
        }
        Ok(saved)
    }
}

/// `downhill predict`.
pub fn predict(args: &PredictArgs) -> Result<(), String> {
    let saved = SavedModel::load(&args.model)?;
    let model = match saved.model.as_str() {
        "linear" => Model::Linear,
        "logistic" => Model::Logistic,
        other => return Err(format!("{}: unknown model {other:?}", args.model.display())),
    };
    let data = read_csv(&args.data, None, Some(&saved.features)).map_err(|e| e.to_string())?;
    let weights = ndarray::Array1::from(saved.weights.clone());
    let margins = data.x.dot(&weights) + saved.bias;
    if let Some((row, _)) = margins.iter().enumerate().find(|(_, z)| !z.is_finite()) {
        return Err(format!(
            "line {} of {}: a feature is not a finite number",
            row + 2,
            args.data.display()
        ));
    }
    let output: Box<dyn std::io::Write> = match &args.output {
        Some(path) => Box::new(
            std::fs::File::create(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut writer = csv::Writer::from_writer(output);
    let fail = |e: csv::Error| format!("writing the predictions: {e}");
    match model {
        Model::Linear => {
            writer.write_record(["prediction"]).map_err(fail)?;
            for z in &margins {
                writer.write_record([z.to_string()]).map_err(fail)?;
            }
        }
        Model::Logistic => {
            writer.write_record(["prediction", "probability"]).map_err(fail)?;
            for &z in &margins {
                let class = if z > 0.0 { "1" } else { "0" };
                writer
                    .write_record([class.to_string(), sigmoid(z).to_string()])
                    .map_err(fail)?;
            }
        }
    }
    writer
        .flush()
        .map_err(|e| format!("writing the predictions: {e}"))?;
    if let Some(path) = &args.output {
        eprintln!("wrote {} predictions to {}", margins.len(), path.display());
    }
    Ok(())
}
