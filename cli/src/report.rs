//! How the program writes numbers and scores.

use downhill::data::source::DataSource;
use downhill::data::table::Labels;
use downhill::metrics::{self, Scoring};
use downhill::ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use downhill::{Error, Fitted, Model};

/// The widest column that names are padded to in a report: a longer name
/// (a header cell of 65,536 characters is a valid CSV) stretches its own
/// line instead of every line, and a width beyond what `format!` takes
/// (u16) would panic.
pub const MAX_NAME_WIDTH: usize = 64;

/// The first failure to write to standard output, kept for `main` to
/// report as an error (exit 1).
static STDOUT_FAILURE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Writes `line` and a newline to standard output, as `println!` does but
/// without its panic when the write fails (`> /dev/full`, a full disk):
/// the first failure is kept for [`stdout_failure`] and later lines are
/// dropped. A closed pipe never reaches here: SIGPIPE ends the program
/// quietly first (`end_quietly_on_closed_pipe` in main.rs), for every
/// command alike.
pub fn say(line: std::fmt::Arguments) {
    use std::io::Write;
    if STDOUT_FAILURE.get().is_some() {
        return;
    }
    let mut text = std::fmt::format(line);
    text.push('\n');
    if let Err(e) = std::io::stdout().lock().write_all(text.as_bytes()) {
        let _ = STDOUT_FAILURE.set(format!("cannot write the report to standard output: {e}"));
    }
}

/// The first failure to write to standard output since the program
/// started, after flushing what is still buffered.
pub fn stdout_failure() -> Option<String> {
    use std::io::Write;
    if let (None, Err(e)) = (STDOUT_FAILURE.get(), std::io::stdout().lock().flush()) {
        let _ = STDOUT_FAILURE.set(format!("cannot write the report to standard output: {e}"));
    }
    STDOUT_FAILURE.get().cloned()
}

/// Six significant digits, in scientific notation below 1e-4 and from 1e6
/// (as C's and Python's `%.6g`), trailing zeros dropped.
pub fn number(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    if value == 0.0 {
        return "0".into();
    }
    // The exponent after rounding to six digits decides the notation.
    let text = format!("{value:.5e}");
    let (mantissa, power) = text.split_once('e').expect("{:e} writes an exponent");
    let power: i32 = power.parse().expect("{:e} writes an integer exponent");
    if !(-4..6).contains(&power) {
        return format!(
            "{}e{}{:02}",
            trim_zeros(mantissa),
            if power < 0 { '-' } else { '+' },
            power.abs()
        );
    }
    let decimals = (5 - power) as usize;
    trim_zeros(&format!("{value:.decimals$}")).to_string()
}

fn trim_zeros(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

/// The scores of `fitted` on rows `x` with targets `y`, as (name, value)
/// lines: R², MSE, RMSE and MAE for the linear model; accuracy, log-loss
/// (where the loss gives probabilities), precision, recall, F1, ROC AUC
/// (of the margins) and the confusion matrix for the logistic one (class
/// 1 positive); for a multinomial one, accuracy, log-loss, macro F1 and
/// each class's precision, recall, F1 and rows, named by `labels` where
/// the target held them.
pub fn scores(
    fitted: &Fitted,
    x: ArrayView2<f32>,
    y: ArrayView1<f32>,
    labels: Option<&Labels>,
) -> Result<Vec<(String, String)>, Error> {
    let predicted = fitted.predict(x)?;
    let margins = fitted.class_margins(x)?;
    scores_of(
        fitted,
        y,
        predicted.view(),
        margins.view(),
        labels,
        Scoring::local(),
    )
}

/// The scores of the rows of `source`, predicted block by block. Over
/// ranks (`scoring`), every rank passes its own rows and gets the scores
/// of all of them, but for the ROC AUC, which rank 0 scores on its rows.
pub fn scores_of_source(
    fitted: &Fitted,
    source: &dyn DataSource,
    labels: Option<&Labels>,
    scoring: Scoring,
) -> Result<Vec<(String, String)>, Error> {
    let (n, d) = (source.rows(), source.features());
    // Rows a block: at most 64 MiB of them dense.
    let rows_a_block = ((64 << 20) / (4 * d.max(1))).clamp(1, 1 << 16);
    let read = || -> Result<_, Error> {
        if source.sparse().is_some() {
            // Sparse rows: their stored entries alone.
            let margins = fitted.class_margins_of_source(source)?;
            let predicted = fitted.predict_source(source)?.to_vec();
            return Ok((source.targets(0, n)?.into_owned(), predicted, margins));
        }
        let (mut y, mut predicted, mut margins) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for start in (0..n).step_by(rows_a_block) {
            let block = source.block(start, rows_a_block.min(n - start))?;
            let x = ArrayView2::from_shape((block.rows(), d), &block.x)
                .expect("a block holds rows × features values");
            y.extend_from_slice(&block.y);
            predicted.extend(fitted.predict(x)?);
            margins.extend(fitted.class_margins(x)?.iter().copied());
        }
        let margins = Array2::from_shape_vec((n, fitted.intercepts().len()), margins)
            .expect("a margin per row and class");
        Ok((y, predicted, margins))
    };
    // A rank that cannot read its rows fails every rank before they sum.
    let (y, predicted, margins) = scoring.agree(read())?;
    let (y, predicted) = (Array1::from(y), Array1::from(predicted));
    scores_of(
        fitted,
        y.view(),
        predicted.view(),
        margins.view(),
        labels,
        scoring,
    )
}

/// The scores of predictions `predicted`, with the `margins` they came
/// from (a column per margin), of targets `y`.
fn scores_of(
    fitted: &Fitted,
    y: ArrayView1<f32>,
    predicted: ArrayView1<f32>,
    margins: ArrayView2<f32>,
    labels: Option<&Labels>,
    scoring: Scoring,
) -> Result<Vec<(String, String)>, Error> {
    let p = predicted;
    let line = |name: &str, value: String| (name.to_string(), value);
    Ok(match (fitted.model(), margins.ncols()) {
        (Model::Linear, _) => vec![
            line("R²", number(scoring.r2(y, p)?)),
            line("MSE", number(scoring.mse(y, p)?)),
            line("RMSE", number(scoring.rmse(y, p)?)),
            line("MAE", number(scoring.mae(y, p)?)),
        ],
        (Model::Logistic, 1) => {
            let margins = margins.column(0);
            let counts = scoring.confusion_matrix(y, p)?;
            // The ROC curve ranks the rows against each other, which a sum
            // over ranks cannot do: over ranks, rank 0 scores its own rows
            // (the other ranks do not report). Margins rank the rows as
            // the probabilities do, and exist for every loss.
            let auc_name = match scoring.rank() {
                None => "ROC AUC",
                Some(_) => "ROC AUC (rank 0's rows)",
            };
            let loss = fitted.settings().loss_settings();
            let mut lines = vec![line("accuracy", number(counts.accuracy()))];
            if loss.prediction(0.0f32).is_some() {
                let probability = margins.mapv(|z| loss.prediction(z).unwrap_or(z));
                lines.push(line("log-loss", number(scoring.log_loss(y, probability.view())?)));
            }
            // After the sums, so that rank 0 failing here leaves no rank
            // waiting.
            let auc = match (scoring.rank(), metrics::roc_auc(y, margins)) {
                (Some(rank), _) if rank > 0 => String::new(),
                (_, Ok(auc)) => number(auc),
                (_, Err(Error::SingleClass { label })) => format!("undefined (every label is {label})"),
                // Over ranks, rank 0 alone would fail: the others have
                // ended well.
                (Some(_), Err(other)) => format!("undefined ({other})"),
                (None, Err(other)) => return Err(other),
            };
            lines.extend([
                line("precision", number(counts.precision())),
                line("recall", number(counts.recall())),
                line("F1", number(counts.f1())),
                line(auc_name, auc),
                line(
                    "confusion",
                    format!(
                        "TP {} FP {} TN {} FN {}",
                        counts.true_positives,
                        counts.false_positives,
                        counts.true_negatives,
                        counts.false_negatives
                    ),
                ),
            ]);
            lines
        }
        (Model::Logistic, classes) => {
            let probabilities = fitted.probabilities_of_margins(margins)?;
            let per_class = scoring.per_class(y, p, classes)?;
            let mut lines = vec![
                line("accuracy", number(scoring.accuracy(y, p)?)),
                line(
                    "log-loss",
                    number(scoring.cross_entropy(y, probabilities.view())?),
                ),
                line("macro F1", number(metrics::macro_f1(&per_class))),
            ];
            // Every class, so that the lines of two parts (train and
            // held out) pair up; one absent from both rows and predictions
            // shows its 0 rows, and does not count in the macro F1.
            for (k, scores) in per_class.iter().enumerate() {
                let label = labels
                    .and_then(|labels| labels.label(k as f32))
                    .map_or_else(|| format!("class {k}"), str::to_string);
                lines.push((
                    format!("  {label}"),
                    format!(
                        "precision {} recall {} F1 {} ({} rows)",
                        number(scores.precision),
                        number(scores.recall),
                        number(scores.f1),
                        scores.support
                    ),
                ));
            }
            lines
        }
    })
}

#[cfg(test)]
mod tests {
    use super::number;

    #[test]
    fn six_significant_digits_as_percent_g() {
        // The values Python's format(v, ".6g") gives.
        for (value, expected) in [
            (0.0, "0"),
            (1.0, "1"),
            (0.517748422, "0.517748"),
            (2859.699449, "2859.7"),
            (123456.7, "123457"),
            (1234567.0, "1.23457e+06"),
            (0.000020123, "2.0123e-05"),
            (-0.000000123, "-1.23e-07"),
            (0.0001, "0.0001"),
            (-333.33609, "-333.336"),
            (50981530248.68778, "5.09815e+10"),
            (999999.5, "1e+06"),
            (0.000099999999, "0.0001"),
        ] {
            assert_eq!(number(value), expected, "{value}");
        }
    }
}
