//! `downhill cv`: the penalty's strength chosen by k-fold cross-validation
//! (the library's `GradientDescent::cross_validate`), the table of scores,
//! and the final model saved.

use downhill::data::table::Table;
use downhill::{Choice, CvOptions, Folds, GradientDescent, Model, Penalty, MOST_STRENGTHS};

use crate::args::{explain, for_table, load, CvArgs};
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
    let strengths = strengths(&args.alphas, &data, &descent)?;
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
        .cross_validate(
            data.x.view(),
            data.y.view(),
            &strengths,
            &folds,
            CvOptions {
                choice,
                ..CvOptions::default()
            },
        )
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

/// The strengths `--alphas` names: a comma-separated list, or `auto:N`,
/// N strengths from the data's largest useful one down to a thousandth of
/// it, as scikit-learn's `LassoCV` takes them
/// ([`downhill::GradientDescent::strengths_from_data`], with `descent`'s
/// loss, penalty and standardization).
fn strengths(text: &str, data: &Table, descent: &GradientDescent) -> Result<Vec<f32>, String> {
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
    descent
        .strengths_from_data(data.x.view(), data.y.view(), count, 1e-3)
        .map_err(|e| format!("--alphas auto: {e}"))
}
