//! `downhill predict`: a model saved by `fit --save` applied to a CSV file,
//! its columns matched by name.

use downhill::data::read_csv;
use downhill::{Fitted, Model};

use crate::args::{explain, PredictArgs};

/// `downhill predict`.
pub fn predict(args: &PredictArgs) -> Result<(), String> {
    let fitted = Fitted::load(&args.model).map_err(|e| e.to_string())?;
    let features = fitted.feature_names().ok_or_else(|| {
        format!(
            "{} names no feature columns to match in the CSV; save it with `downhill fit --save`",
            args.model.display()
        )
    })?;
    let features: Vec<&str> = features.iter().map(String::as_str).collect();
    let data = read_csv(&args.data, None, Some(&features)).map_err(|e| e.to_string())?;
    let explain = |error| explain(error, &data, &args.data, None);
    let predictions = fitted.predict(data.x.view()).map_err(explain)?;
    let output: Box<dyn std::io::Write> = match &args.output {
        Some(path) => Box::new(
            std::fs::File::create(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut writer = csv::Writer::from_writer(output);
    let fail = |e: csv::Error| format!("writing the predictions: {e}");
    match fitted.model() {
        Model::Linear => {
            writer.write_record(["prediction"]).map_err(fail)?;
            for z in &predictions {
                writer.write_record([z.to_string()]).map_err(fail)?;
            }
        }
        Model::Logistic => {
            let probabilities = fitted.predict_proba(data.x.view()).map_err(explain)?;
            writer.write_record(["prediction", "probability"]).map_err(fail)?;
            for (class, p) in predictions.iter().zip(&probabilities) {
                writer
                    .write_record([class.to_string(), p.to_string()])
                    .map_err(fail)?;
            }
        }
    }
    writer
        .flush()
        .map_err(|e| format!("writing the predictions: {e}"))?;
    if let Some(path) = &args.output {
        eprintln!("wrote {} predictions to {}", predictions.len(), path.display());
    }
    Ok(())
}
