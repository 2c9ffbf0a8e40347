//! `downhill._core`: the library's fit and its fitted model for Python.
//! The estimators of the `downhill` package (python/downhill/) turn
//! scikit-learn's parameters into this crate's settings and call `fit`;
//! this module stays a thin, typed door: arrays in as NumPy views (float32,
//! no copy where C-contiguous), the interpreter lock released while the
//! engines run, the crate's errors out as Python exceptions of their kind.

use downhill::data::source::{DataSource, InMemory, Weighted};
use downhill::data::sparse::CsrData;
use downhill::data::table::{Encoding, TableOptions};
use downhill::data::table::{Opened, TableData};
use downhill::ndarray::{Array1, ArrayView1, ArrayView2};
use downhill::{
    Device, Error, Fitted, GradientDescent, GradientTest, Loss, Model, Optimizer, Penalty, Rule, Schedule,
    Shuffle, Solver, Variant,
};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::Duration;

/// How often a running fit looks for a Ctrl-C.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// The environment variable that sets the threads of every fit and
/// prediction where `n_jobs` does not.
const THREADS_VARIABLE: &str = "DOWNHILL_NUM_THREADS";

/// A pool of `threads` threads (where `None`: [`THREADS_VARIABLE`], else
/// one a core), kept for the calls after and built afresh in a process
/// made by `fork` (whose copy of the pool has no threads): the pool is
/// the process's own, named by its id.
fn pool(threads: Option<usize>) -> PyResult<Arc<rayon::ThreadPool>> {
    type Kept = Option<(u32, usize, Arc<rayon::ThreadPool>)>;
    static POOL: std::sync::Mutex<Kept> = std::sync::Mutex::new(None);
    let threads = pool_threads(threads)?;
    let process = std::process::id();
    let mut kept = POOL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((id, count, pool)) = kept.as_ref() {
        if *id == process && *count == threads {
            return Ok(Arc::clone(pool));
        }
    }
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| PyRuntimeError::new_err(format!("starting {threads} threads: {e}")))?,
    );
    // A parent's pool, copied by fork, is forgotten: dropping it would
    // signal threads this process does not have.
    if let Some((id, _, old)) = kept.replace((process, threads, Arc::clone(&pool))) {
        if id != process {
            std::mem::forget(old);
        }
    }
    Ok(pool)
}

/// The threads a pool is asked for: `threads`, else [`THREADS_VARIABLE`],
/// else 0 (one a core).
fn pool_threads(threads: Option<usize>) -> PyResult<usize> {
    Ok(match threads {
        Some(threads) => threads,
        None => match std::env::var(THREADS_VARIABLE) {
            Ok(text) => text.trim().parse().map_err(|_| {
                PyValueError::new_err(format!("{THREADS_VARIABLE}={text:?} is not a count of threads"))
            })?,
            Err(_) => 0,
        },
    })
}

/// Runs `work` on a pool of `threads` with the interpreter lock released,
/// on its own thread while this one looks for Python's signals every
/// [`SIGNAL_POLL`]: on a Ctrl-C, `stop` is raised (a fit stops at the end
/// of its epoch) and, once `work` has returned, the signal's exception
/// (`KeyboardInterrupt`) is raised in place of its result.
fn interruptible<T: Send>(
    py: Python<'_>,
    threads: Option<usize>,
    stop: &AtomicBool,
    work: impl FnOnce() -> T + Send,
) -> PyResult<T> {
    let pool = pool(threads)?;
    let mut signal = None;
    let value = py.detach(|| {
        std::thread::scope(|scope| {
            let (sender, receiver) = std::sync::mpsc::channel();
            let pool = &*pool;
            scope.spawn(move || {
                let _ = sender.send(pool.install(work));
            });
            loop {
                match receiver.recv_timeout(SIGNAL_POLL) {
                    Ok(value) => return Some(value),
                    Err(RecvTimeoutError::Timeout) if signal.is_none() => {
                        if let Err(error) = Python::attach(|py| py.check_signals()) {
                            stop.store(true, Ordering::Relaxed);
                            signal = Some(error);
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    // The work panicked: the scope passes the panic on.
                    Err(RecvTimeoutError::Disconnected) => return None,
                }
            }
        })
    });
    match (signal, value) {
        (Some(signal), _) => Err(signal),
        (None, Some(value)) => Ok(value),
        (None, None) => Err(PyRuntimeError::new_err("the fit's thread ended without a result")),
    }
}

/// The crate's error as the Python exception of its kind: the engines'
/// failures are `RuntimeError`s, files' `OSError`s, everything a caller
/// gave (data, settings) a `ValueError` naming the value.
fn python_error(error: Error) -> PyErr {
    let message = error.to_string();
    match error {
        Error::Engine(_) => PyRuntimeError::new_err(message),
        Error::Io { .. } => PyOSError::new_err(message),
        _ => PyValueError::new_err(message),
    }
}

/// A setting named by text that the crate parses.
fn parsed<T: std::str::FromStr<Err = Error>>(text: &str) -> PyResult<T> {
    text.parse().map_err(python_error)
}

/// The settings of one fit, as the estimators pass them (this crate's
/// units: the loss's own scale, the penalty of the mean loss).
#[derive(Debug, Clone)]
struct Settings {
    model: Model,
    loss: Option<Loss>,
    penalty: Penalty,
    optimizer: Optimizer,
    schedule: Schedule,
    variant: Variant,
    solver: Solver,
    shuffle: Shuffle,
    max_epochs: usize,
    tolerance: Option<f64>,
    patience: Option<usize>,
    validation_fraction: Option<f64>,
    average: Option<u64>,
    seed: u64,
    device: Device,
    standardize: bool,
    auto_learning_rate: bool,
    auto_momentum: bool,
    parameter_tolerance: Option<f64>,
    gradient_test: GradientTest,
}

impl Settings {
    fn descent(&self) -> GradientDescent {
        let mut descent = GradientDescent::new(self.model)
            .penalty(self.penalty)
            .optimizer(self.optimizer)
            .schedule(self.schedule)
            .variant(self.variant)
            .solver(self.solver)
            .shuffle(self.shuffle)
            .max_epochs(self.max_epochs)
            .seed(self.seed)
            .device(self.device)
            .standardize(self.standardize)
            .auto_learning_rate(self.auto_learning_rate)
            .auto_momentum(self.auto_momentum)
            .gradient_test(self.gradient_test);
        if let Some(tolerance) = self.parameter_tolerance {
            descent = descent.parameter_tolerance(tolerance);
        }
        if let Some(loss) = self.loss {
            descent = descent.loss(loss);
        }
        if let Some(tolerance) = self.tolerance {
            descent = descent.tolerance(tolerance);
        }
        if let Some(patience) = self.patience {
            descent = descent.patience(patience);
        }
        if let Some(fraction) = self.validation_fraction {
            descent = descent.validation_fraction(fraction);
        }
        if let Some(first_step) = self.average {
            descent = descent.average(first_step);
        }
        descent
    }
}

/// The settings from the estimators' keywords.
#[allow(clippy::too_many_arguments)]
#[pyfunction]
#[pyo3(signature = (
    *, model, classes=2, loss=None, epsilon=0.1, alpha=0.0, l1_ratio=0.0,
    optimizer="sgd", learning_rate=0.01, momentum=0.9, schedule="constant",
    batch_size=None, solver="gd", shuffle=true, max_epochs=100, tol=None,
    patience=None, validation_fraction=None, average=None, seed=0,
    device="cpu", standardize=false, auto_learning_rate=false, auto_momentum=false,
    parameter_tolerance=None, gradient_test="norm",
))]
fn settings(
    model: &str,
    classes: u32,
    loss: Option<&str>,
    epsilon: f32,
    alpha: f32,
    l1_ratio: f32,
    optimizer: &str,
    learning_rate: f32,
    momentum: f32,
    schedule: &str,
    batch_size: Option<usize>,
    solver: &str,
    shuffle: bool,
    max_epochs: usize,
    tol: Option<f64>,
    patience: Option<usize>,
    validation_fraction: Option<f64>,
    average: Option<u64>,
    seed: u64,
    device: &str,
    standardize: bool,
    auto_learning_rate: bool,
    auto_momentum: bool,
    parameter_tolerance: Option<f64>,
    gradient_test: &str,
) -> PyResult<FitSettings> {
    let gradient_test = match gradient_test {
        "norm" => GradientTest::Norm,
        "largest" => GradientTest::Largest,
        other => {
            return Err(PyValueError::new_err(format!(
                "gradient_test {other:?} is not one of norm, largest"
            )))
        }
    };
    let mut loss = loss
        .map(|name| Loss::from_name(name, epsilon))
        .transpose()
        .map_err(python_error)?;
    let model = match model {
        "multinomial" => {
            loss = Some(Loss::Multinomial { classes });
            Model::Logistic
        }
        other => parsed(other)?,
    };
    let optimizer: Optimizer = match parsed::<Rule>(optimizer)? {
        Rule::Sgd => Optimizer::sgd(learning_rate).into(),
        Rule::Momentum => Optimizer::momentum(learning_rate, momentum).into(),
        Rule::Nesterov => Optimizer::nesterov(learning_rate, momentum).into(),
        Rule::AdaGrad => Optimizer::adagrad(learning_rate).into(),
        Rule::RmsProp => Optimizer::rmsprop(learning_rate).into(),
        Rule::Adam => Optimizer::adam(learning_rate).into(),
    };
    let penalty = match l1_ratio {
        0.0 => Penalty::L2(alpha),
        1.0 => Penalty::L1(alpha),
        ratio => Penalty::ElasticNet {
            alpha,
            l1_ratio: ratio,
        },
    };
    Ok(FitSettings(Settings {
        model,
        loss,
        penalty,
        optimizer,
        schedule: parsed(schedule)?,
        variant: match batch_size {
            None => Variant::Full,
            Some(1) => Variant::Stochastic,
            Some(rows) => Variant::MiniBatch(rows),
        },
        solver: parsed(solver)?,
        shuffle: if shuffle { Shuffle::Rows } else { Shuffle::None },
        max_epochs,
        tolerance: tol,
        patience,
        validation_fraction,
        average,
        seed,
        device: parsed(device)?,
        standardize,
        auto_learning_rate,
        auto_momentum,
        parameter_tolerance,
        gradient_test,
    }))
}

/// The settings of a fit, checked.
#[pyclass(module = "downhill._core", frozen)]
#[derive(Debug, Clone)]
struct FitSettings(Settings);

#[pymethods]
impl FitSettings {
    fn __repr__(&self) -> String {
        format!("{:?}", self.0)
    }
}

/// `descent`'s fit of rows `x`, `y`, weighted by `weights` where given.
fn fit_dense(
    descent: &GradientDescent,
    x: ArrayView2<'_, f32>,
    y: ArrayView1<'_, f32>,
    weights: Option<ArrayView1<'_, f32>>,
) -> downhill::Result<Fitted> {
    match weights {
        Some(weights) => descent.fit_weighted(x, y, weights),
        None => descent.fit(x, y),
    }
}

/// `descent`'s fit of sparse rows `rows`, weighted by `weights` where
/// given.
fn fit_sparse(
    descent: &GradientDescent,
    rows: &CsrData,
    weights: Option<Vec<f32>>,
) -> downhill::Result<Fitted> {
    match weights {
        Some(weights) => Weighted::new(rows, weights).and_then(|weighted| descent.fit_source(&weighted)),
        None => descent.fit_source(rows),
    }
}

/// `settings`' fit, stopped by `stop`, starting from `start` (resumed: its
/// parameters, optimizer state and history) or from the parameters `warm`
/// (the weights, then the bias, of a model of one margin: scikit-learn's
/// `warm_start`), where given.
fn descent_from(
    settings: &FitSettings,
    stop: &Arc<AtomicBool>,
    start: Option<&FittedModel>,
    warm: Option<PyReadonlyArray1<'_, f32>>,
) -> GradientDescent {
    let mut descent = settings.0.descent().stop_when(Arc::clone(stop));
    if let Some(start) = start {
        descent = descent.resume(&start.fitted);
    }
    if let Some(warm) = warm {
        let warm = warm.as_array();
        if let Some((&bias, weights)) = warm.as_slice().and_then(<[f32]>::split_last) {
            descent = descent.warm_start(weights.to_vec(), bias);
        }
    }
    descent
}

/// Fits `x` (rows × features, float32) to `y` (float32: values, or labels
/// 0 … K − 1), each row weighted by `sample_weight` where given; from
/// a start ([`descent_from`]) where given; on `threads` threads. A Ctrl-C
/// stops it at the end of an epoch and raises `KeyboardInterrupt`.
#[allow(clippy::too_many_arguments)]
#[pyfunction]
#[pyo3(signature = (settings, x, y, sample_weight=None, start=None, threads=None, warm=None))]
fn fit(
    py: Python<'_>,
    settings: &FitSettings,
    x: PyReadonlyArray2<'_, f32>,
    y: PyReadonlyArray1<'_, f32>,
    sample_weight: Option<PyReadonlyArray1<'_, f32>>,
    start: Option<&FittedModel>,
    threads: Option<usize>,
    warm: Option<PyReadonlyArray1<'_, f32>>,
) -> PyResult<FittedModel> {
    let stop = Arc::new(AtomicBool::new(false));
    let descent = descent_from(settings, &stop, start, warm);
    let (x, y) = (x.as_array(), y.as_array());
    let weights = sample_weight.as_ref().map(|w| w.as_array());
    let fitted =
        interruptible(py, threads, &stop, || fit_dense(&descent, x, y, weights))?.map_err(python_error)?;
    Ok(FittedModel { fitted })
}

/// SciPy CSR arrays (`indptr`, `indices`, `data`, sorted within rows) of
/// rows of `features` features, with targets `y` (zeros where they are
/// only to be predicted), checked by [`CsrData::new`].
fn csr_rows(
    features: usize,
    indptr: PyReadonlyArray1<'_, i64>,
    indices: PyReadonlyArray1<'_, i32>,
    values: PyReadonlyArray1<'_, f32>,
    y: Vec<f32>,
) -> PyResult<CsrData> {
    let indptr = indptr
        .as_array()
        .iter()
        .map(|&p| usize::try_from(p))
        .collect::<Result<Vec<usize>, _>>()
        .map_err(|_| PyValueError::new_err("a sparse matrix's indptr holds a negative offset"))?;
    let indices = indices
        .as_array()
        .iter()
        .map(|&j| u32::try_from(j))
        .collect::<Result<Vec<u32>, _>>()
        .map_err(|_| PyValueError::new_err("a sparse matrix's indices hold a negative feature"))?;
    CsrData::new(features, indptr, indices, values.as_array().to_vec(), y).map_err(python_error)
}

/// Sparse rows to predict, given as SciPy's CSR arrays ([`csr_rows`],
/// their targets 0).
fn unlabelled_csr_rows(
    features: usize,
    indptr: PyReadonlyArray1<'_, i64>,
    indices: PyReadonlyArray1<'_, i32>,
    values: PyReadonlyArray1<'_, f32>,
) -> PyResult<CsrData> {
    let rows = indptr.len()?.saturating_sub(1);
    csr_rows(features, indptr, indices, values, vec![0.0; rows])
}

/// [`fit`] of sparse rows given as SciPy's CSR arrays (`csr_rows`): the
/// engines read their stored entries alone.
#[allow(clippy::too_many_arguments)]
#[pyfunction]
#[pyo3(signature = (settings, features, indptr, indices, values, y, sample_weight=None, start=None, threads=None, warm=None))]
fn fit_csr(
    py: Python<'_>,
    settings: &FitSettings,
    features: usize,
    indptr: PyReadonlyArray1<'_, i64>,
    indices: PyReadonlyArray1<'_, i32>,
    values: PyReadonlyArray1<'_, f32>,
    y: PyReadonlyArray1<'_, f32>,
    sample_weight: Option<PyReadonlyArray1<'_, f32>>,
    start: Option<&FittedModel>,
    threads: Option<usize>,
    warm: Option<PyReadonlyArray1<'_, f32>>,
) -> PyResult<FittedModel> {
    let rows = csr_rows(features, indptr, indices, values, y.as_array().to_vec())?;
    let weights = sample_weight.map(|w| w.as_array().to_vec());
    let stop = Arc::new(AtomicBool::new(false));
    let descent = descent_from(settings, &stop, start, warm);
    let fitted =
        interruptible(py, threads, &stop, || fit_sparse(&descent, &rows, weights))?.map_err(python_error)?;
    Ok(FittedModel { fitted })
}

/// What [`fit_table`] hands back: the model, and the columns the table's
/// encoding left out with the reason for each.
type TableFit = (FittedModel, Vec<(String, String)>);

/// [`fit`] of a table file (CSV or Parquet, the pandas or polars frame the
/// package wrote) through the library's table encoding, as the `downhill`
/// program reads one: numbers as numbers, text columns one-hot (up to
/// `max_categories` values; `text_columns`, the frame's columns of text,
/// read as text whatever they hold, only an empty cell missing), `target`
/// the target (class codes where the model is logistic), `weight_column`
/// the sample weights; read whole or streamed within the memory budget.
/// The encoding is kept with the model.
#[allow(clippy::too_many_arguments)]
#[pyfunction]
#[pyo3(signature = (settings, path, target, text_columns, weight_column=None, max_categories=50, start=None, threads=None, warm=None))]
fn fit_table(
    py: Python<'_>,
    settings: &FitSettings,
    path: std::path::PathBuf,
    target: &str,
    text_columns: Vec<String>,
    weight_column: Option<String>,
    max_categories: usize,
    start: Option<&FittedModel>,
    threads: Option<usize>,
    warm: Option<PyReadonlyArray1<'_, f32>>,
) -> PyResult<TableFit> {
    let options = TableOptions {
        max_categories,
        labels: settings.0.model == Model::Logistic,
        weight_column,
        text_columns,
        ..TableOptions::default()
    };
    let stop = Arc::new(AtomicBool::new(false));
    let descent = descent_from(settings, &stop, start, warm);
    let fitted = interruptible(py, threads, &stop, || -> downhill::Result<_> {
        let table = TableData::open(&path, target, None, &options)?;
        let dropped = table.dropped().to_vec();
        let (fitted, encoding) = match table.read_within(downhill::memory::default_budget())? {
            Opened::Whole(table) => {
                let fitted = match &table.weights {
                    Some(weights) => descent.fit_weighted(table.x.view(), table.y.view(), weights.view())?,
                    None => descent.fit(table.x.view(), table.y.view())?,
                };
                (fitted, table.encoding)
            }
            Opened::Streamed(table) | Opened::Sparse(table) => {
                (descent.fit_source(&table)?, table.encoding().clone())
            }
        };
        Ok((fitted.with_encoding(encoding)?, dropped))
    })?
    .map_err(python_error)?;
    let (fitted, dropped) = fitted;
    let dropped = dropped
        .into_iter()
        .map(|d| (d.column, d.reason.to_string()))
        .collect();
    Ok((FittedModel { fitted }, dropped))
}

/// A frame's missing cells, which the encoding would fill with means or
/// zeros: refused, as a fit refuses them, naming the first row.
fn refuse_missing(counts: &downhill::data::table::ApplyCounts) -> PyResult<()> {
    match counts.rows_with_missing.first() {
        Some(&row) => Err(PyValueError::new_err(format!(
            "{} rows have a missing cell (the first: row {row}); the model was fitted without missing cells",
            counts.rows_with_missing.len()
        ))),
        None => Ok(()),
    }
}

/// What [`cross_validate`] hands back: the score of each fold (rows) at
/// each strength (columns), the index of the strength chosen, and the
/// model refitted at it on every row.
type CrossValidated<'py> = (Bound<'py, numpy::PyArray2<f64>>, usize, FittedModel);

/// The library's cross-validation of the penalty's strength
/// (`GradientDescent::cross_validate`): `strengths` in the library's
/// units, `folds` the fold that holds out each row, `scoring` one of
/// `accuracy`, `neg_log_loss`, `roc_auc`, `r2`, `neg_mean_squared_error`;
/// the best mean score chosen, or the strongest within a standard error
/// of it; each fold's strengths fitted as a warm-started path.
#[allow(clippy::too_many_arguments)]
#[pyfunction]
#[pyo3(signature = (settings, x, y, strengths, folds, scoring, one_standard_error=false, threads=None))]
fn cross_validate<'py>(
    py: Python<'py>,
    settings: &FitSettings,
    x: PyReadonlyArray2<'py, f32>,
    y: PyReadonlyArray1<'py, f32>,
    strengths: Vec<f32>,
    folds: Vec<usize>,
    scoring: &str,
    one_standard_error: bool,
    threads: Option<usize>,
) -> PyResult<CrossValidated<'py>> {
    let rows = InMemory::new(x.as_array(), y.as_array()).map_err(python_error)?;
    cross_validate_rows(
        py,
        settings,
        &rows,
        strengths,
        folds,
        scoring,
        one_standard_error,
        threads,
    )
}

/// [`cross_validate`] of sparse rows given as SciPy's CSR arrays
/// ([`csr_rows`]): each fold's rows stay sparse.
#[allow(clippy::too_many_arguments)]
#[pyfunction]
#[pyo3(signature = (settings, features, indptr, indices, values, y, strengths, folds, scoring, one_standard_error=false, threads=None))]
fn cross_validate_csr<'py>(
    py: Python<'py>,
    settings: &FitSettings,
    features: usize,
    indptr: PyReadonlyArray1<'_, i64>,
    indices: PyReadonlyArray1<'_, i32>,
    values: PyReadonlyArray1<'_, f32>,
    y: PyReadonlyArray1<'_, f32>,
    strengths: Vec<f32>,
    folds: Vec<usize>,
    scoring: &str,
    one_standard_error: bool,
    threads: Option<usize>,
) -> PyResult<CrossValidated<'py>> {
    let rows = csr_rows(features, indptr, indices, values, y.as_array().to_vec())?;
    cross_validate_rows(
        py,
        settings,
        &rows,
        strengths,
        folds,
        scoring,
        one_standard_error,
        threads,
    )
}

/// [`cross_validate`] of any rows.
#[allow(clippy::too_many_arguments)]
fn cross_validate_rows<'py>(
    py: Python<'py>,
    settings: &FitSettings,
    rows: &dyn DataSource,
    strengths: Vec<f32>,
    folds: Vec<usize>,
    scoring: &str,
    one_standard_error: bool,
    threads: Option<usize>,
) -> PyResult<CrossValidated<'py>> {
    let scoring = match scoring {
        "accuracy" => downhill::CvScoring::Accuracy,
        "neg_log_loss" => downhill::CvScoring::NegLogLoss,
        "roc_auc" => downhill::CvScoring::RocAuc,
        "r2" => downhill::CvScoring::R2,
        "neg_mean_squared_error" => downhill::CvScoring::NegMeanSquaredError,
        other => {
            return Err(PyValueError::new_err(format!(
                "scoring {other:?} is not one of accuracy, neg_log_loss, roc_auc, r2, neg_mean_squared_error"
            )))
        }
    };
    let choice = match one_standard_error {
        true => downhill::Choice::OneStandardError,
        false => downhill::Choice::BestMean,
    };
    let folds = downhill::Folds::from_assignment(folds).map_err(python_error)?;
    let stop = Arc::new(AtomicBool::new(false));
    let descent = settings.0.descent().stop_when(Arc::clone(&stop));
    let found = interruptible(py, threads, &stop, || {
        let options = downhill::CvOptions {
            scoring: Some(scoring),
            choice,
            ..downhill::CvOptions::default()
        };
        descent.cross_validate_source(rows, &strengths, &folds, options)
    })?
    .map_err(python_error)?;
    Ok((
        found.scores.into_pyarray(py),
        found.chosen,
        FittedModel { fitted: found.fitted },
    ))
}

/// A fitted model: its parameters, its history, its predictions.
#[pyclass(module = "downhill._core", frozen)]
struct FittedModel {
    fitted: Fitted,
}

impl FittedModel {
    /// The table encoding the model was fitted with.
    fn encoding(&self) -> PyResult<&Encoding> {
        self.fitted.encoding().ok_or_else(|| {
            PyValueError::new_err("the model was not fitted from a table (a frame with text columns)")
        })
    }

    /// `work` on the rows of the table file `path`, encoded as the model's
    /// table was (missing cells refused, [`refuse_missing`]).
    fn on_table<T: Send>(
        &self,
        py: Python<'_>,
        path: &std::path::Path,
        work: impl FnOnce(&Fitted, ArrayView2<'_, f32>) -> downhill::Result<T> + Send,
    ) -> PyResult<T> {
        let encoding = self.encoding()?;
        let (value, counts) = self.detached(py, |fitted| {
            let (x, counts, _) = encoding.apply(path)?;
            Ok((work(fitted, x.view())?, counts))
        })?;
        refuse_missing(&counts)?;
        Ok(value)
    }

    /// `work` on the model with the interpreter lock released, on a pool
    /// of the default threads.
    fn detached<T: Send>(
        &self,
        py: Python<'_>,
        work: impl FnOnce(&Fitted) -> downhill::Result<T> + Send,
    ) -> PyResult<T> {
        let pool = pool(None)?;
        py.detach(|| pool.install(|| work(&self.fitted)))
            .map_err(python_error)
    }
}

#[pymethods]
impl FittedModel {
    /// The weights, features × margins.
    #[getter]
    fn coefficients<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f32>> {
        self.fitted.coefficients().to_owned().into_pyarray(py)
    }

    /// The biases, one a margin.
    #[getter]
    fn intercepts<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        self.fitted.intercepts().to_owned().into_pyarray(py)
    }

    /// The loss of each epoch (or L-BFGS iteration), the penalty included.
    #[getter]
    fn losses(&self) -> Vec<f64> {
        self.fitted.history().losses()
    }

    /// Why the fit stopped, in words.
    #[getter]
    fn stop_reason(&self) -> String {
        self.fitted.stop_reason().to_string()
    }

    /// Why the fit stopped, as a word: `converged`, `stopped_improving`,
    /// `max_epochs`, `diverged`, `rounding_limit`, `interrupted` or
    /// `checkpoint`.
    #[getter]
    fn stop_kind(&self) -> &'static str {
        use downhill::StopReason::*;
        match self.fitted.stop_reason() {
            Converged { .. } => "converged",
            StoppedImproving { .. } => "stopped_improving",
            MaxEpochs => "max_epochs",
            Diverged { .. } => "diverged",
            RoundingLimit { .. } => "rounding_limit",
            Interrupted { .. } => "interrupted",
            Checkpoint { .. } => "checkpoint",
        }
    }

    /// Whether the fit converged (by its tolerance, or to the rounding of
    /// its sums) rather than running out of epochs, diverging or being
    /// interrupted.
    #[getter]
    fn converged(&self) -> bool {
        matches!(
            self.fitted.stop_reason(),
            downhill::StopReason::Converged { .. } | downhill::StopReason::RoundingLimit { .. }
        )
    }

    /// Updates of the parameters taken.
    #[getter]
    fn steps(&self) -> u64 {
        self.fitted.training_state().optimizer_state().steps
    }

    /// The device the fit ran on.
    #[getter]
    fn device(&self) -> String {
        self.fitted.device().name().to_string()
    }

    /// Each row's margins (rows × margins).
    fn decision_function<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f32>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let x = x.as_array();
        Ok(self
            .detached(py, |fitted| fitted.class_margins(x))?
            .into_pyarray(py))
    }

    /// Each row's probability of each class (rows × classes; two columns
    /// for a binary model).
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f32>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let x = x.as_array();
        Ok(self
            .detached(py, |fitted| fitted.class_probabilities(x))?
            .into_pyarray(py))
    }

    /// Each row's prediction: a value, a count's mean, or a label.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f32>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let x = x.as_array();
        let predictions: Array1<f32> = self.detached(py, |fitted| fitted.predict(x))?;
        Ok(predictions.into_pyarray(py))
    }

    /// Each sparse row's margins (rows × margins), from SciPy's CSR arrays.
    fn decision_function_csr<'py>(
        &self,
        py: Python<'py>,
        features: usize,
        indptr: PyReadonlyArray1<'py, i64>,
        indices: PyReadonlyArray1<'py, i32>,
        values: PyReadonlyArray1<'py, f32>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let rows = unlabelled_csr_rows(features, indptr, indices, values)?;
        Ok(self
            .detached(py, |fitted| fitted.class_margins_of_source(&rows))?
            .into_pyarray(py))
    }

    /// Each sparse row's prediction, from SciPy's CSR arrays.
    fn predict_csr<'py>(
        &self,
        py: Python<'py>,
        features: usize,
        indptr: PyReadonlyArray1<'py, i64>,
        indices: PyReadonlyArray1<'py, i32>,
        values: PyReadonlyArray1<'py, f32>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let rows = unlabelled_csr_rows(features, indptr, indices, values)?;
        Ok(self
            .detached(py, |fitted| fitted.predict_source(&rows))?
            .into_pyarray(py))
    }

    /// Each sparse row's probability of each class, from SciPy's CSR
    /// arrays.
    fn predict_proba_csr<'py>(
        &self,
        py: Python<'py>,
        features: usize,
        indptr: PyReadonlyArray1<'py, i64>,
        indices: PyReadonlyArray1<'py, i32>,
        values: PyReadonlyArray1<'py, f32>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let rows = unlabelled_csr_rows(features, indptr, indices, values)?;
        let probabilities = self.detached(py, |fitted| {
            let margins = fitted.class_margins_of_source(&rows)?;
            fitted.probabilities_of_margins(margins.view())
        })?;
        Ok(probabilities.into_pyarray(py))
    }

    /// One more epoch (or `epochs`) over `x` and `y` from where the fit
    /// stopped, its optimizer state carried over, on `threads` threads; a
    /// Ctrl-C stops it as it does [`fit`].
    #[pyo3(signature = (x, y, epochs=1, threads=None, sample_weight=None))]
    fn partial_fit(
        &self,
        py: Python<'_>,
        x: PyReadonlyArray2<'_, f32>,
        y: PyReadonlyArray1<'_, f32>,
        epochs: usize,
        threads: Option<usize>,
        sample_weight: Option<PyReadonlyArray1<'_, f32>>,
    ) -> PyResult<FittedModel> {
        let stop = Arc::new(AtomicBool::new(false));
        let descent = self.fitted.continuation(epochs).stop_when(Arc::clone(&stop));
        let (x, y) = (x.as_array(), y.as_array());
        let weights = sample_weight.as_ref().map(|w| w.as_array());
        let fitted = interruptible(py, threads, &stop, || fit_dense(&descent, x, y, weights))?
            .map_err(python_error)?;
        Ok(FittedModel { fitted })
    }

    /// Each row's margins of the table file `path`, encoded as the model's
    /// table was.
    fn decision_function_table<'py>(
        &self,
        py: Python<'py>,
        path: std::path::PathBuf,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        Ok(self
            .on_table(py, &path, |fitted, x| fitted.class_margins(x))?
            .into_pyarray(py))
    }

    /// Each row's prediction of the table file `path`.
    fn predict_table<'py>(
        &self,
        py: Python<'py>,
        path: std::path::PathBuf,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        Ok(self
            .on_table(py, &path, |fitted, x| fitted.predict(x))?
            .into_pyarray(py))
    }

    /// Each row's probability of each class, of the table file `path`.
    fn predict_proba_table<'py>(
        &self,
        py: Python<'py>,
        path: std::path::PathBuf,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        Ok(self
            .on_table(py, &path, |fitted, x| fitted.class_probabilities(x))?
            .into_pyarray(py))
    }

    /// The names of the features the model was fitted on (a table's
    /// encoded columns: `city=Paris` for a one-hot value), where it has
    /// them.
    #[getter]
    fn feature_names(&self) -> Option<Vec<String>> {
        self.fitted.feature_names().map(<[String]>::to_vec)
    }

    /// [`FittedModel::partial_fit`] of sparse rows given as SciPy's CSR
    /// arrays.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (features, indptr, indices, values, y, epochs=1, threads=None, sample_weight=None))]
    fn partial_fit_csr(
        &self,
        py: Python<'_>,
        features: usize,
        indptr: PyReadonlyArray1<'_, i64>,
        indices: PyReadonlyArray1<'_, i32>,
        values: PyReadonlyArray1<'_, f32>,
        y: PyReadonlyArray1<'_, f32>,
        epochs: usize,
        threads: Option<usize>,
        sample_weight: Option<PyReadonlyArray1<'_, f32>>,
    ) -> PyResult<FittedModel> {
        let rows = csr_rows(features, indptr, indices, values, y.as_array().to_vec())?;
        let weights = sample_weight.map(|w| w.as_array().to_vec());
        let stop = Arc::new(AtomicBool::new(false));
        let descent = self.fitted.continuation(epochs).stop_when(Arc::clone(&stop));
        let fitted = interruptible(py, threads, &stop, || fit_sparse(&descent, &rows, weights))?
            .map_err(python_error)?;
        Ok(FittedModel { fitted })
    }

    /// The saved model's JSON (pickling goes through it).
    fn to_json(&self) -> PyResult<String> {
        self.fitted.to_json().map_err(python_error)
    }

    /// The model saved as `text` by [`FittedModel::to_json`].
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<FittedModel> {
        let fitted = Fitted::from_json(text, "a pickled model").map_err(python_error)?;
        Ok(FittedModel { fitted })
    }
}

/// The module `downhill._core`.
#[pymodule]
fn _core(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(settings, module)?)?;
    module.add_function(wrap_pyfunction!(fit, module)?)?;
    module.add_function(wrap_pyfunction!(fit_csr, module)?)?;
    module.add_function(wrap_pyfunction!(fit_table, module)?)?;
    module.add_function(wrap_pyfunction!(cross_validate, module)?)?;
    module.add_function(wrap_pyfunction!(cross_validate_csr, module)?)?;
    module.add_class::<FitSettings>()?;
    module.add_class::<FittedModel>()?;
    Ok(())
}
