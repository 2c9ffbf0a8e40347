//! `downhill cv`: the penalty's strength chosen by k-fold cross-validation
//! (the library's `GradientDescent::cross_validate`), the table of scores,
//! and the final model saved.

use downhill::data::source::{DataSource, InMemory};
use downhill::data::table::{Encoding, Labels, Table};
use downhill::{
    Choice, CrossValidation, CvOptions, CvScoring, Error, Fitted, Folds, GradientDescent, Model, Penalty,
    MOST_STRENGTHS,
};

use crate::args::{explain, for_class_codes, for_classes, for_table, load, CvArgs, ScoringArg};
use crate::fit::{opened_file, sparse_settings, Read, Streamed};
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
    let descent = args.train.descent(args.lr);
    // A table within the memory budget is read whole on the survey that
    // chose so; a larger one, and an .npy file, are cross-validated from
    // the file, a fold's rows at a time; sparse rows (svmlight, .npz)
    // stay sparse, each fold's entries copied out.
    match opened_file(&args.data, &args.train, false)? {
        Some(Read::Streamed(streamed)) => {
            streamed.describe();
            let source = streamed.source();
            say!(
                "rows:         {} × {} features, {}",
                source.rows(),
                source.features(),
                match &streamed {
                    Streamed::Sparse(_) => "sparse: each fold's entries kept sparse",
                    _ => "read from the file a fold at a time",
                }
            );
            let descent = match &streamed {
                Streamed::Table(table) => {
                    for_classes(&args.train, descent, table.encoding(), table.rows(), false)?
                }
                Streamed::Sparse(file) => {
                    sparse_settings(&args.train, &args.data.data, descent, file, source.rows())?
                }
                _ => for_class_codes(&args.train, descent, || targets(streamed.source()), false, true)?,
            };
            let rows = Rows {
                source: streamed.source(),
                labels: match &streamed {
                    Streamed::Table(table) => table.encoding().labels.as_ref(),
                    Streamed::Sparse(file) => file.labels.as_ref(),
                    _ => None,
                },
                explain: &|e| streamed.explain(e, &args.data.data),
                encoding: &|fitted| Ok(streamed.described(fitted)?.1),
            };
            cross_validate(args, &descent, &rows)
        }
        Some(Read::Whole(table)) => cv_table(args, descent, crate::args::described(table)),
        None => cv_table(args, descent, load(&args.data, args.train.model())?),
    }
}

/// `downhill cv` of a table read whole.
fn cv_table(args: &CvArgs, descent: GradientDescent, data: Table) -> Result<(), String> {
    let descent = for_table(&args.train, descent, &data)?;
    let source = InMemory::new(data.x.view(), data.y.view()).map_err(|e| e.to_string())?;
    let rows = Rows {
        source: &source,
        labels: data.encoding.labels.as_ref(),
        explain: &|e| {
            explain(
                e,
                &data.feature_names,
                &data.lines,
                &args.data.data,
                Some(&args.data.target),
            )
        },
        encoding: &|_| Ok(data.encoding.clone()),
    };
    cross_validate(args, &descent, &rows)
}

/// The rows cross-validated, how their errors read, and the encoding a
/// model of them is saved with.
struct Rows<'a> {
    source: &'a dyn DataSource,
    /// The labels' names, where the targets are labels.
    labels: Option<&'a Labels>,
    explain: &'a dyn Fn(Error) -> String,
    encoding: &'a dyn Fn(&Fitted) -> Result<Encoding, String>,
}

/// Every target of `source`, read a block at a time.
pub(crate) fn targets(source: &dyn DataSource) -> Result<Vec<f32>, String> {
    let rows = source.rows();
    let mut y = Vec::with_capacity(rows);
    for start in (0..rows).step_by(1 << 16) {
        y.extend_from_slice(
            &source
                .targets(start, (1 << 16).min(rows - start))
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(y)
}

/// The cross-validation of `rows` by `descent`: the folds, the strengths,
/// the table of scores, the choice, the model saved.
fn cross_validate(args: &CvArgs, descent: &GradientDescent, rows: &Rows) -> Result<(), String> {
    let source = rows.source;
    let strengths = strengths(&args.alphas, source, descent)?;
    let y = targets(source)?;
    let folds = folds(args, &y, rows.labels)?;
    let options = plan(args, &strengths, &folds, true);
    let found = descent
        .cross_validate_source(source, &strengths, &folds, options)
        .map_err(rows.explain)?;
    report(args, &found, y.len(), rows.encoding)
}

/// The folds of rows with targets `y`: stratified by class for a
/// classifier, whose every class must have a row in every fold (`labels`
/// name the classes), else shuffled; by `--seed`.
pub(crate) fn folds(args: &CvArgs, y: &[f32], labels: Option<&Labels>) -> Result<Folds, String> {
    let model = args.train.model();
    // A class of fewer rows than folds leaves some fold's training rows
    // without it, or some held-out fold without it.
    if model == Model::Logistic {
        let mut counts = std::collections::BTreeMap::new();
        for &label in y {
            *counts.entry(label as usize).or_insert(0usize) += 1;
        }
        if let Some((&k, &count)) = counts.iter().find(|(_, &count)| count < args.folds) {
            let class = match labels.and_then(|labels| labels.label(k as f32)) {
                Some(label) => format!("{label:?}"),
                None => k.to_string(),
            };
            return Err(format!(
                "the class {class} has {count} rows, fewer than the {} folds: use at most {count} folds",
                args.folds
            ));
        }
    }
    match model {
        Model::Logistic => Folds::stratified(
            downhill::ndarray::ArrayView1::from(y),
            args.folds,
            args.train.seed,
        ),
        Model::Linear => Folds::new(y.len(), args.folds, args.train.seed),
    }
    .map_err(|e| e.to_string())
}

/// The options of the cross-validation `args` ask for, and where `say`,
/// its plan said: the strengths, the folds and the scoring.
pub(crate) fn plan(args: &CvArgs, strengths: &[f32], folds: &Folds, say: bool) -> CvOptions {
    let model = args.train.model();
    let scoring = args.scoring.map(ScoringArg::scoring);
    let options = CvOptions {
        scoring,
        choice: choice(args),
        ..CvOptions::default()
    };
    if !say {
        return options;
    }
    say!(
        "{} strengths of the {} penalty, {} folds ({}), scored by {} on each held-out fold",
        strengths.len(),
        penalty_name(args.train.penalty()),
        folds.count(),
        match model {
            Model::Logistic => "stratified by class",
            Model::Linear => "shuffled",
        },
        scoring_name(scoring.unwrap_or(match model {
            Model::Logistic => CvScoring::Accuracy,
            Model::Linear => CvScoring::NegMeanSquaredError,
        }))
    );
    options
}

fn choice(args: &CvArgs) -> Choice {
    match args.one_standard_error {
        true => Choice::OneStandardError,
        false => Choice::BestMean,
    }
}

/// The table of scores, the choice, and the model refitted on all `rows`
/// rows saved with the encoding `encoding` gives it.
pub(crate) fn report(
    args: &CvArgs,
    found: &CrossValidation,
    rows: usize,
    encoding: &dyn Fn(&Fitted) -> Result<Encoding, String>,
) -> Result<(), String> {
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
        match choice(args) {
            Choice::BestMean => "the best mean score",
            Choice::OneStandardError => "the strongest within a standard error of the best mean score",
        },
        rows
    );
    if let Some(path) = &args.save {
        let encoding = encoding(&found.fitted)?;
        found
            .fitted
            .clone()
            .with_encoding(encoding)
            .and_then(|named| named.save(path))
            .map_err(|e| e.to_string())?;
        say!("saved:        {}", path.display());
    }
    Ok(())
}

/// How the scores read in the table's heading.
fn scoring_name(scoring: CvScoring) -> &'static str {
    match scoring {
        CvScoring::Accuracy => "accuracy",
        CvScoring::NegLogLoss => "minus the mean log-loss",
        CvScoring::RocAuc => "the area under the ROC curve",
        CvScoring::R2 => "R²",
        CvScoring::NegMeanSquaredError => "minus the mean squared error",
    }
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
/// ([`downhill::GradientDescent::strengths_from_source`], with
/// `descent`'s loss, penalty and standardization).
pub(crate) fn strengths(
    text: &str,
    source: &dyn DataSource,
    descent: &GradientDescent,
) -> Result<Vec<f32>, String> {
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
        .strengths_from_source(source, count, 1e-3)
        .map_err(|e| format!("--alphas auto: {e}"))
}
