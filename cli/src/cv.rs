//! `downhill cv`: the penalty's strength chosen by k-fold cross-validation
//! (the library's `GradientDescent::cross_validate`), the table of scores,
//! and the final model saved.

use downhill::data::table::Table;
use downhill::{Choice, Folds, Model, Penalty};

use crate::args::{explain, for_class_codes, for_classes, load, CvArgs};
use crate::report::number;

/// `downhill cv`.
pub fn cv(args: &CvArgs) -> Result<(), String> {
    if args.data.weight_column.is_some() {
        return Err("--weight-column is not read by cv yet; cross-validate unweighted rows".into());
    }
    if let Some(path) = &args.save {
        downhill::atomic_file::check_output(path, &[(&args.data.data, "--data")])
            .map_err(|e| e.to_string())?;
    }
    let model = args.train.model();
    let data = load(&args.data, model)?;
    let explain = |e| {
        explain(
            e,
            &data.feature_names,
            &data.lines,
            &args.data.data,
            Some(&args.data.target),
        )
    };
    let descent = args.train.descent(args.lr);
    let descent = match &data.encoding.labels {
        Some(_) => for_classes(&args.train, descent, &data.encoding, data.y.len(), false)?,
        None => for_class_codes(&args.train, descent, || Ok(data.y.to_vec()), false, true)?,
    };
    let penalty = args.train.penalty();
    let strengths = strengths(&args.alphas, &data, model, penalty, args.train.scaled())?;
    let folds = match model {
        Model::Logistic => Folds::stratified(data.y.view(), args.folds, args.train.seed),
        Model::Linear => Folds::new(data.y.len(), args.folds, args.train.seed),
    }
    .map_err(|e| e.to_string())?;
    let choice = match args.one_standard_error {
        true => Choice::OneStandardError,
        false => Choice::BestMean,
    };
    let scoring = match model {
        Model::Logistic => "accuracy",
        Model::Linear => "minus the mean squared error",
    };
    say!(
        "{} strengths of the {} penalty, {} folds ({}), scored by {scoring} on each held-out fold",
        strengths.len(),
        penalty_name(penalty),
        folds.count(),
        match model {
            Model::Logistic => "stratified by class",
            Model::Linear => "shuffled",
        }
    );
    let found = descent
        .cross_validate(data.x.view(), data.y.view(), &strengths, &folds, None, choice)
        .map_err(explain)?;
    let errors = found.standard_errors();
    say!("{:>14}  {:>14}  {:>14}", "alpha", "mean score", "standard error");
    for (k, &alpha) in found.strengths.iter().enumerate() {
        say!(
            "{:>14}  {:>14}  {:>14}{}",
            number(f64::from(alpha)),
            number(found.mean_scores[k]),
            number(errors[k]),
            if k == found.chosen { "  ← chosen" } else { "" }
        );
    }
    say!(
        "chosen alpha: {} ({}), refitted on all {} rows",
        number(f64::from(found.strength())),
        match choice {
            Choice::BestMean => "the best mean score",
            Choice::OneStandardError => "the strongest within a standard error of the best mean score",
        },
        data.y.len()
    );
    if let Some(path) = &args.save {
        found
            .fitted
            .clone()
            .with_encoding(data.encoding.clone())
            .and_then(|named| named.save(path))
            .map_err(|e| e.to_string())?;
        say!("saved:        {}", path.display());
    }
    Ok(())
}

fn penalty_name(penalty: Penalty) -> &'static str {
    match penalty {
        Penalty::L2(_) => "L2",
        Penalty::L1(_) => "L1",
        Penalty::ElasticNet { .. } => "elastic-net",
    }
}

/// The strengths `--alphas` names: a comma-separated list, or `auto:N`,
/// N strengths from the data's as scikit-learn's `LassoCV` takes them: the
/// largest, α_max, at which the L1 part leaves every weight at 0 (the
/// largest |Σᵢ (xᵢⱼ − x̄ⱼ)(yᵢ − ȳ)| / n over the features, standardized
/// where the fit standardizes, times the loss's factor 2 for the squared
/// error, over the L1 share), then a geometric grid down to α_max / 1000.
/// An L2 penalty, which leaves no weight at 0, takes the same grid.
fn strengths(
    text: &str,
    data: &Table,
    model: Model,
    penalty: Penalty,
    scaled: bool,
) -> Result<Vec<f32>, String> {
    let text = text.trim();
    if let Some(count) = text.strip_prefix("auto:") {
        let count: usize = count
            .trim()
            .parse()
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| format!("--alphas {text:?}: auto:N takes a count of at least 1"))?;
        let (x, y) = (&data.x, &data.y);
        let n = y.len() as f64;
        let y_mean = y.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let mut largest = 0.0f64;
        for column in x.columns() {
            let mean = column.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            let spread = (column.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n).sqrt();
            let scale = if scaled && spread > 0.0 { spread } else { 1.0 };
            let covariance: f64 = column
                .iter()
                .zip(y)
                .map(|(&v, &t)| (f64::from(v) - mean) / scale * (f64::from(t) - y_mean))
                .sum();
            largest = largest.max(covariance.abs() / n);
        }
        let factor = match model {
            Model::Linear => 2.0,
            Model::Logistic => 1.0,
        };
        let l1_share = match penalty {
            Penalty::L1(_) => 1.0,
            Penalty::ElasticNet { l1_ratio, .. } if l1_ratio > 0.0 => f64::from(l1_ratio),
            _ => 1.0,
        };
        let top = factor * largest / l1_share;
        if !(top.is_finite() && top > 0.0) {
            return Err(
                "--alphas auto: the targets do not vary with any feature (α_max is 0); give the strengths"
                    .into(),
            );
        }
        return Ok((0..count)
            .map(|k| {
                let fraction = if count == 1 {
                    0.0
                } else {
                    k as f64 / (count - 1) as f64
                };
                (top * 1e-3f64.powf(fraction)) as f32
            })
            .collect());
    }
    text.split(',')
        .map(|part| {
            part.trim().parse::<f32>().map_err(|_| {
                format!("--alphas: {part:?} is not a number (a comma-separated list, or auto:N)")
            })
        })
        .collect()
}
