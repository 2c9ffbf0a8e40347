//! `downhill cv`: the penalty's strength chosen by k-fold cross-validation
//! (the library's `GradientDescent::cross_validate`), the table of scores,
//! and the final model saved.

use downhill::data::table::Table;
use downhill::{Choice, Folds, Loss, Model, Penalty};

use crate::args::{explain, for_table, load, CvArgs, TrainArgs};
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
    let descent = for_table(&args.train, args.train.descent(args.lr), &data)?;
    let penalty = args.train.penalty();
    let strengths = strengths(&args.alphas, &data, &args.train)?;
    // A class of fewer rows than folds leaves some fold's training rows
    // without it, or some held-out fold without it.
    if let Some(labels) = &data.encoding.labels {
        for k in 0..labels.count() {
            let rows = data.y.iter().filter(|&&v| v as usize == k).count();
            if rows < args.folds {
                return Err(format!(
                    "the class {:?} has {rows} rows, fewer than the {} folds: use at most {rows} folds",
                    labels.label(k as f32).unwrap_or("?"),
                    args.folds
                ));
            }
        }
    }
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
        let diverged = !found.mean_scores[k].is_finite();
        say!(
            "{:>14}  {:>14}  {:>14}{}",
            number(f64::from(alpha)),
            if diverged {
                "diverged".to_string()
            } else {
                number(found.mean_scores[k])
            },
            if diverged {
                "-".to_string()
            } else {
                number(errors[k])
            },
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

/// The most strengths `--alphas auto:N` makes.
const MOST_STRENGTHS: usize = 1000;

/// The strengths `--alphas` names: a comma-separated list, or `auto:N`,
/// N strengths from the data's as scikit-learn's `LassoCV` takes them: the
/// largest, α_max, at which the L1 part leaves every weight at 0 (the
/// largest |Σᵢ (xᵢⱼ − x̄ⱼ)(yᵢₖ − ȳₖ)| / n over the features and, for the
/// multinomial, the classes' indicators, with the columns, and a linear
/// model's target, standardized where the fit standardizes them, times the
/// loss's slope factor: 2 for the squared error, 1 for the logistic loss;
/// over the L1 share), then a geometric grid down to α_max / 1000. An L2
/// penalty, which leaves no weight at 0, takes the same grid.
fn strengths(text: &str, data: &Table, train: &TrainArgs) -> Result<Vec<f32>, String> {
    let text = text.trim();
    let Some(count) = text.strip_prefix("auto:") else {
        return text
            .split(',')
            .map(|part| {
                part.trim().parse::<f32>().map_err(|_| {
                    format!("--alphas: {part:?} is not a number (a comma-separated list, or auto:N)")
                })
            })
            .collect();
    };
    let count: usize = count
        .trim()
        .parse()
        .ok()
        .filter(|&n| (1..=MOST_STRENGTHS).contains(&n))
        .ok_or_else(|| format!("--alphas {text:?}: auto:N takes a count from 1 to {MOST_STRENGTHS}"))?;
    let factor = match train.loss() {
        Loss::Squared => 2.0,
        Loss::Log => 1.0,
        other => {
            return Err(format!(
                "--alphas auto: the grid is the squared error's and the logistic loss's, not the {} loss's; give the strengths",
                other.name()
            ))
        }
    };
    let (x, y) = (&data.x, &data.y);
    let n = y.len() as f64;
    let scaled = train.scaled();
    // The targets as the fit sees them: one column, or each class's
    // indicator for more than two classes.
    let classes = data.encoding.labels.as_ref().map_or(0, |labels| labels.count());
    let targets: Vec<Vec<f64>> = match classes {
        0..=2 => {
            let values: Vec<f64> = y.iter().map(|&v| f64::from(v)).collect();
            let mean = values.iter().sum::<f64>() / n;
            let spread = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
            let target_scale = match scaled && train.model() == Model::Linear && spread > 0.0 {
                true => spread,
                false => 1.0,
            };
            vec![values.iter().map(|v| (v - mean) / target_scale).collect()]
        }
        _ => (0..classes)
            .map(|k| {
                let indicator: Vec<f64> = y.iter().map(|&v| f64::from(u8::from(v as usize == k))).collect();
                let mean = indicator.iter().sum::<f64>() / n;
                indicator.iter().map(|v| v - mean).collect()
            })
            .collect(),
    };
    let mut largest = 0.0f64;
    for column in x.columns() {
        let mean = column.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let spread = (column.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n).sqrt();
        let scale = if scaled && spread > 0.0 { spread } else { 1.0 };
        for target in &targets {
            let covariance: f64 = column
                .iter()
                .zip(target)
                .map(|(&v, &t)| (f64::from(v) - mean) / scale * t)
                .sum();
            largest = largest.max(covariance.abs() / n);
        }
    }
    let l1_share = match train.penalty() {
        Penalty::ElasticNet { l1_ratio, .. } if l1_ratio > 0.0 => f64::from(l1_ratio),
        _ => 1.0,
    };
    let top = factor * largest / l1_share;
    if !(top.is_finite() && top > 0.0) {
        return Err(
            "--alphas auto: the targets do not vary with any feature (α_max is 0); give the strengths".into(),
        );
    }
    Ok((0..count)
        .map(|k| {
            let fraction = if count == 1 {
                0.0
            } else {
                k as f64 / (count - 1) as f64
            };
            (top * 1e-3f64.powf(fraction)) as f32
        })
        .collect())
}
