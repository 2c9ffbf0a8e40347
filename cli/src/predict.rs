//! `downhill predict`: a model saved by `fit --save` applied to a CSV file,
//! its columns matched by name and encoded as at fit time; the scores when
//! the file holds the target.

use std::path::Path;

use downhill::atomic_file::{check_output, AtomicFile};
use downhill::data::read_csv;
use downhill::data::source::DataSource;
use downhill::data::sparse::CsrData;
use downhill::data::table::{Format, Missing};
use downhill::ndarray::{Array1, Array2};
use downhill::{Error, Fitted, Model};

use crate::args::{explain, warn_of_cells, PredictArgs};
use crate::report;

/// The cells of the columns `names` of the data file, row by row.
fn read_columns(path: &Path, names: &[String]) -> Result<Vec<Vec<String>>, String> {
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    downhill::data::table::read_columns(path, &names).map_err(|e| format!("{}: {e}", path.display()))
}

/// A probability as the shortest text that reads back to it, in
/// scientific notation below 1e-4 (rather than two dozen zeros).
fn probability_text(p: f32) -> String {
    match p != 0.0 && p.abs() < 1e-4 {
        true => format!("{p:e}"),
        false => p.to_string(),
    }
}

/// `downhill predict`.
pub fn predict(args: &PredictArgs) -> Result<(), String> {
    if let Some(output) = &args.output {
        check_output(output, &[(&args.data, "--data"), (&args.model, "--model")])
            .map_err(|e| e.to_string())?;
    }
    let fitted = Fitted::load(&args.model).map_err(|e| e.to_string())?;
    let file = args.data.display().to_string();
    let npy = Format::of(&args.data) == Format::Npy;
    let svmlight = Format::of(&args.data) == Format::Svmlight;
    let npz = Format::of(&args.data) == Format::Npz;
    if (svmlight || npz) && args.keep.is_some() {
        return Err(format!(
            "{file}: --keep names CSV or Parquet columns; an svmlight or .npz file has none"
        ));
    }
    // Sparse rows, predicted from their stored entries, and an svmlight
    // file's labels for the scores.
    let mut sparse_rows: Option<CsrData> = None;
    let mut sparse_labels: Option<Vec<f32>> = None;
    // Rows left out under --missing drop (indices from 0, ascending):
    // from the matrix read, or as sparse rows were read.
    let mut dropped: Vec<usize> = Vec::new();
    let mut read_dropped: Vec<usize> = Vec::new();
    let (x, lines, names) = match fitted.encoding() {
        _ if svmlight => {
            let (rows, labels, names) = svmlight_rows(&args.data, &fitted)?;
            let lines = (1..=rows.rows()).collect();
            sparse_rows = Some(rows);
            sparse_labels = Some(labels);
            (Array2::zeros((0, names.len())), lines, names)
        }
        // A SciPy CSR matrix: its columns are the features in order (no
        // targets: no scores).
        _ if npz => {
            let rows = downhill::data::npz::read_npz(&args.data, None).map_err(|e| e.to_string())?;
            let (n, d) = (rows.rows(), rows.features());
            sparse_rows = Some(rows);
            (
                Array2::zeros((0, d)),
                (1..=n).collect(),
                (0..d).map(|j| format!("x{j}")).collect(),
            )
        }
        // An .npy file's columns are the features in order.
        _ if npy => {
            let x = downhill::data::npy::read_features(&args.data).map_err(|e| e.to_string())?;
            // The matrix a fit of `--target K` read, its target's column
            // K with the features x0, x1, … around it: the features'
            // columns. Any other shape is the model's to check.
            let left_out = fitted
                .encoding()
                .and_then(|e| e.target.as_deref())
                .and_then(|t| t.strip_prefix('x'))
                .and_then(|k| k.parse::<usize>().ok());
            // Every column, unless the features are exactly the others.
            let mut columns: Vec<usize> = (0..x.ncols()).collect();
            let mut names: Vec<String> = columns.iter().map(|j| format!("x{j}")).collect();
            if let (Some(k), Some(features)) = (left_out, fitted.feature_names()) {
                if k < x.ncols() && features.len() + 1 == x.ncols() {
                    let around: Vec<String> = names
                        .iter()
                        .enumerate()
                        .filter(|&(j, _)| j != k)
                        .map(|(_, n)| n.clone())
                        .collect();
                    if around == features {
                        columns.remove(k);
                        names = around;
                    }
                }
            }
            let x = match columns.len() == x.ncols() {
                true => x,
                false => x.select(downhill::ndarray::Axis(1), &columns),
            };
            let lines = (1..=x.nrows()).collect();
            (x, lines, names)
        }
        // A table whose one-hot columns are wide: read as sparse rows,
        // the rows with missing cells left out as they are read.
        Some(encoding) if encoding.reads_sparse() => {
            let drop_incomplete = args.missing == Missing::Drop;
            let (rows, counts, lines) =
                encoding
                    .apply_sparse(&args.data, drop_incomplete)
                    .map_err(|e| match e.file() {
                        Some(_) => e.to_string(),
                        None => format!("{file}: {e}"),
                    })?;
            let incomplete = &counts.rows_with_missing;
            match (args.missing, incomplete.first()) {
                (Missing::Error, Some(_)) => {
                    return Err(format!(
                        "{file}: {} rows have missing cells; predict --missing mean fills them with the means saved with the model, --missing drop leaves those rows out",
                        incomplete.len(),
                    ))
                }
                (Missing::Drop, Some(_)) => {
                    eprintln!(
                        "warning: {file}: {} rows with missing cells left out of the predictions (--missing drop)",
                        incomplete.len()
                    );
                    read_dropped = incomplete.clone();
                }
                _ => warn_of_cells(&file, &counts),
            }
            let d = rows.features();
            sparse_rows = Some(rows);
            (Array2::zeros((0, d)), lines, encoding.feature_names())
        }
        Some(encoding) => {
            // An error that names its file already is not prefixed twice.
            let (x, counts, lines) = encoding.apply(&args.data).map_err(|e| match e.file() {
                Some(_) => e.to_string(),
                None => format!("{file}: {e}"),
            })?;
            let incomplete = &counts.rows_with_missing;
            match (args.missing, incomplete.first()) {
                (Missing::Error, Some(&first)) => {
                    return Err(format!(
                        "{file}: {} rows have missing cells (the first on line {}); predict --missing mean fills them with the means saved with the model, --missing drop leaves those rows out",
                        incomplete.len(),
                        lines[first]
                    ))
                }
                (Missing::Drop, Some(_)) => {
                    eprintln!(
                        "warning: {file}: {} rows with missing cells left out of the predictions (--missing drop)",
                        incomplete.len()
                    );
                    dropped = incomplete.clone();
                }
                _ => warn_of_cells(&file, &counts),
            }
            (x, lines, encoding.feature_names())
        }
        None => {
            let features = fitted.feature_names().ok_or_else(|| {
                format!(
                    "{} names no feature columns to match in the CSV; save it with `downhill fit --save`",
                    args.model.display()
                )
            })?;
            let borrowed: Vec<&str> = features.iter().map(String::as_str).collect();
            let x = read_csv(&args.data, None, Some(&borrowed))
                .map_err(|e| e.to_string())?
                .x;
            let lines = (0..x.nrows()).map(|row| row + 2).collect();
            (x, lines, features.to_vec())
        }
    };
    // The rows predicted: all but those left out.
    let predicted: Vec<usize> = (0..x.nrows())
        .filter(|row| dropped.binary_search(row).is_err())
        .collect();
    let (x, lines) = match dropped.is_empty() {
        true => (x, lines),
        false => (
            x.select(downhill::ndarray::Axis(0), &predicted),
            predicted.iter().map(|&row| lines[row]).collect(),
        ),
    };
    let explain = |error| match error {
        Error::FeatureCountMismatch { .. } => format!("{file}: {error}"),
        error => explain(error, &names, &lines, &args.data, None),
    };
    let predictions = match &sparse_rows {
        Some(rows) => fitted.predict_source(rows).map_err(explain)?,
        None => fitted.predict(x.view()).map_err(explain)?,
    };
    // One column of class 1's probability for a binary model, one per
    // class for a multinomial one.
    let classes = fitted.intercepts().len();
    let probabilities = match (args.proba, fitted.model()) {
        (true, Model::Logistic) => {
            let all = match &sparse_rows {
                Some(rows) => fitted
                    .class_margins_of_source(rows)
                    .and_then(|margins| fitted.probabilities_of_margins(margins.view()))
                    .map_err(explain)?,
                None => fitted.class_probabilities(x.view()).map_err(explain)?,
            };
            Some(match classes {
                1 => all.slice(downhill::ndarray::s![.., 1..]).to_owned(),
                _ => all,
            })
        }
        (true, Model::Linear) => return Err("--proba needs a logistic model; this one is linear".into()),
        (false, _) => None,
    };
    let kept = match &args.keep {
        Some(columns) => Some(only_rows(
            read_columns(&args.data, columns)?,
            match read_dropped.is_empty() {
                true => &dropped,
                false => &read_dropped,
            },
        )),
        None => None,
    };
    let label = |class: f32| match (fitted.model(), fitted.encoding()) {
        (Model::Logistic, Some(encoding)) => encoding.label(class),
        _ => class.to_string(),
    };

    // A file is written whole or not at all: a kill or a full disk leaves
    // the file that was there.
    let mut file = args
        .output
        .as_ref()
        .map(AtomicFile::create)
        .transpose()
        .map_err(|e| e.to_string())?;
    let output: Box<dyn std::io::Write + '_> = match &mut file {
        Some(file) => Box::new(std::io::BufWriter::new(file.file())),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut writer = csv::Writer::from_writer(output);
    let fail = |e: csv::Error| format!("writing the predictions: {e}");
    let mut header: Vec<String> = args.keep.clone().unwrap_or_default();
    header.push("prediction".into());
    match (&probabilities, classes) {
        (Some(_), 1) => header.push(format!("probability {}", label(1.0))),
        (Some(_), _) => header.extend((0..classes).map(|k| format!("probability {}", label(k as f32)))),
        (None, _) => {}
    }
    writer.write_record(&header).map_err(fail)?;
    for (row, &value) in predictions.iter().enumerate() {
        let mut record: Vec<String> = kept.as_ref().map(|k| k[row].clone()).unwrap_or_default();
        record.push(label(value));
        if let Some(p) = &probabilities {
            record.extend(p.row(row).iter().map(|&p| probability_text(p)));
        }
        writer.write_record(&record).map_err(fail)?;
    }
    writer
        .flush()
        .map_err(|e| format!("writing the predictions: {e}"))?;
    drop(writer);
    if let Some(file) = file {
        file.commit().map_err(|e| e.to_string())?;
    }
    if let Some(path) = &args.output {
        eprintln!("wrote {} predictions to {}", predictions.len(), path.display());
    }
    match (sparse_rows, sparse_labels) {
        (Some(rows), Some(labels)) => print_svmlight_scores(args, &fitted, rows, &labels),
        // A table read as sparse rows, or an .npz (no target column).
        (Some(rows), None) => print_scores(args, &fitted, Rows::Sparse(&rows), &read_dropped),
        _ => print_scores(args, &fitted, Rows::Dense(&x), &dropped),
    }
}

/// An svmlight file's rows, its labels, and the features' names.
type SvmlightRows = (CsrData, Vec<f32>, Vec<String>);

/// The rows of the svmlight file `path` as `fitted`'s
/// features, its labels, and the features' names. A model fitted to an
/// svmlight file names its features by their indices as that file wrote
/// them: from 0 or from 1, as this file is read; any other model reads
/// it as scikit-learn would (from 0 where any index is 0).
fn svmlight_rows(path: &Path, fitted: &Fitted) -> Result<SvmlightRows, String> {
    use downhill::data::svmlight::{read_svmlight, Indexing, SvmlightOptions};
    let features = fitted.weights().len();
    let names = fitted.feature_names().map(<[String]>::to_vec);
    let indexing = match names.as_ref().and_then(|n| n.first()).map(String::as_str) {
        Some("0") => Indexing::ZeroBased,
        Some("1") => Indexing::OneBased,
        _ => Indexing::Auto,
    };
    let read = read_svmlight(
        path,
        SvmlightOptions {
            indexing,
            features: Some(features),
        },
    )
    .map_err(|e| e.to_string())?;
    let rows = read.rows;
    let labels = rows
        .targets(0, rows.rows())
        .map_err(|e| e.to_string())?
        .into_owned();
    let names = names.unwrap_or_else(|| (0..features).map(|j| format!("x{j}")).collect());
    Ok((rows, labels, names))
}

/// The scores of the predictions of an svmlight file's rows against its
/// labels (read as the model's classes, where it saved their labels).
fn print_svmlight_scores(
    args: &PredictArgs,
    fitted: &Fitted,
    rows: CsrData,
    labels: &[f32],
) -> Result<(), String> {
    let encoding = fitted.encoding();
    let classes = encoding.and_then(|e| e.labels.as_ref());
    let y: Option<Vec<f32>> = match (classes, encoding) {
        (Some(_), Some(encoding)) => labels
            .iter()
            .map(|v| encoding.target_value(&v.to_string()))
            .collect(),
        _ => Some(labels.to_vec()),
    };
    let Some(y) = y else {
        eprintln!(
            "warning: {} holds labels the model never saw; no scores",
            args.data.display()
        );
        return Ok(());
    };
    let count = y.len();
    let rows = rows.with_targets(y).map_err(|e| e.to_string())?;
    let scores = report::scores_of_source(fitted, &rows, classes, downhill::metrics::Scoring::local())
        .map_err(|e| e.to_string())?;
    eprintln!("scores on the {count} rows of {}:", args.data.display());
    for (name, value) in scores {
        eprintln!("  {:<14}{value}", format!("{name}:"));
    }
    Ok(())
}

/// `rows` without those at the indices `dropped` (ascending).
fn only_rows<T>(rows: Vec<T>, dropped: &[usize]) -> Vec<T> {
    rows.into_iter()
        .enumerate()
        .filter(|(row, _)| dropped.binary_search(row).is_err())
        .map(|(_, cells)| cells)
        .collect()
}

/// The scores of the predictions where the file holds the target column.
/// The rows predicted, as they were read.
enum Rows<'a> {
    Dense(&'a downhill::ndarray::Array2<f32>),
    Sparse(&'a CsrData),
}

fn print_scores(args: &PredictArgs, fitted: &Fitted, x: Rows<'_>, dropped: &[usize]) -> Result<(), String> {
    let Some(encoding) = fitted.encoding() else {
        return Ok(());
    };
    let Some(target) = &encoding.target else {
        return Ok(());
    };
    let Ok(cells) = read_columns(&args.data, std::slice::from_ref(target)) else {
        return Ok(());
    };
    let cells = only_rows(cells, dropped);
    let known: Vec<(usize, f32)> = cells
        .iter()
        .enumerate()
        .filter_map(|(row, cell)| encoding.target_value(&cell[0]).map(|y| (row, y)))
        .collect();
    // Targets the model cannot read (a label it never saw) are left out of
    // the scores, and said so; empty cells are simply unknown.
    let unreadable: Vec<&str> = cells
        .iter()
        .map(|cell| cell[0].as_str())
        .filter(|cell| !cell.trim().is_empty() && encoding.target_value(cell).is_none())
        .collect();
    if let Some(first) = unreadable.first() {
        eprintln!(
            "warning: {} rows of {} have a target {target:?} the model cannot read (such as {first:?}, not one of its labels); the scores leave them out",
            unreadable.len(),
            args.data.display()
        );
    }
    if known.is_empty() {
        return Ok(());
    }
    let rows: Vec<usize> = known.iter().map(|&(row, _)| row).collect();
    let y: Array1<f32> = known.iter().map(|&(_, y)| y).collect();
    let scores = match x {
        Rows::Dense(x) => {
            let x = x.select(downhill::ndarray::Axis(0), &rows);
            report::scores(fitted, x.view(), y.view(), encoding.labels.as_ref())
        }
        Rows::Sparse(all) => {
            // The rows whose target is known, as sparse rows with it.
            let csr = all.csr();
            let (mut indptr, mut indices, mut values) = (vec![0], Vec::new(), Vec::new());
            for &row in &rows {
                let (row_indices, row_values) = csr.row(row);
                indices.extend_from_slice(row_indices);
                values.extend_from_slice(row_values);
                indptr.push(indices.len());
            }
            CsrData::new(csr.features, indptr, indices, values, y.to_vec()).and_then(|known| {
                report::scores_of_source(
                    fitted,
                    &known,
                    encoding.labels.as_ref(),
                    downhill::metrics::Scoring::local(),
                )
            })
        }
    }
    .map_err(|e| e.to_string())?;
    eprintln!(
        "scores on the {} rows of {} whose target {target:?} is known:",
        rows.len(),
        args.data.display()
    );
    let width = scores
        .iter()
        .map(|(name, _)| name.chars().count() + 2)
        .fold(12, usize::max)
        .min(report::MAX_NAME_WIDTH);
    for (name, value) in scores {
        eprintln!("  {:<width$}{value}", format!("{name}:"));
    }
    Ok(())
}
