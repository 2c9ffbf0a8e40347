//! `downhill fit`: one fit of a CSV file, its report, plots and saved model.

use downhill::DataError;
use std::path::Path;

use downhill::data::npy::NpyData;
use downhill::data::parquet_source::ParquetData;
use downhill::data::source::DataSource;
use downhill::data::sparse::CsrData;
use downhill::data::svmlight::{read_svmlight, Indexing, SvmlightOptions};
use downhill::data::table::{EncodedColumn, Encoding, Format, Labels, Opened, Table, TableData};
use downhill::data::train_test_split;
use downhill::memory::default_budget;
use downhill::metrics::Scoring;
use downhill::plot::{self, Curve, ParameterPath};
use downhill::{
    reference, ClassWeight, Error, Fitted, GradientDescent, Loss, Model, Optimizer, Solver, StopReason,
    Variant,
};

use crate::args::{
    describe_stop, describe_table, described, explain, fit_with_progress, for_class_codes, for_classes, load,
    located, names, open_npy, table_options, warn_of_cells, watched_held_out, DataArgs, FitArgs,
    LearningRateArg, TrainArgs,
};
use crate::report::{self, number};

/// The most weights the report lists whole; of a wider model, the
/// [`COEFFICIENTS_SHOWN`] largest.
const COEFFICIENTS_LISTED: usize = 100;

/// The weights listed of a model wider than [`COEFFICIENTS_LISTED`].
const COEFFICIENTS_SHOWN: usize = 40;

/// `downhill fit`.
pub fn fit(args: &FitArgs) -> Result<(), String> {
    check_output_paths(args).map_err(|e| e.to_string())?;
    if matches!(Format::of(&args.data.data), Format::Svmlight | Format::Npz) {
        let unread = [
            (args.resume.is_some(), "--resume"),
            (args.test_size.is_some(), "--test-size"),
            (args.plot_path.is_some(), "--plot-path"),
            (args.validation_fraction.is_some(), "--validation-fraction"),
        ];
        if let Some((_, option)) = unread.iter().find(|(given, _)| *given) {
            return Err(format!(
                "{}: {option} is not yet read with sparse rows (svmlight or .npz); fit without it, or convert the file to a table (downhill convert)",
                args.data.data.display()
            ));
        }
    }
    if let Some(path) = &args.resume {
        return fit_resumed(args, path);
    }
    let mut descent = args
        .train
        .descent(args.lr)
        .track_parameters(args.plot_path.is_some());
    if let Some(fraction) = args.validation_fraction {
        descent = descent.validation_fraction(fraction);
        if let Some(tolerance) = args.train.held_out_tolerance() {
            descent = descent.tolerance(tolerance);
        }
    }
    if let Some(path) = &args.checkpoint {
        descent = descent.checkpoint(path, args.checkpoint_every);
    }
    // Every option is checked before the data is read.
    descent.validate().map_err(|e| e.to_string())?;
    if let Some(value) = args.test_size.filter(|&f| !(f > 0.0 && f < 1.0)) {
        return Err(downhill::Error::Data(DataError::InvalidTestFraction { value }).to_string());
    }
    // An .npy file, and a table file larger than the memory budget, stream
    // from the file unless a step needs their rows in memory (a held-out
    // split, the loss surface); a table within the budget is read whole
    // on the survey that chose so.
    let mut surveyed = None;
    if args.test_size.is_none() && args.plot_path.is_none() {
        match opened_file(&args.data, &args.train, false)? {
            Some(Read::Streamed(streamed)) => {
                streamed.describe();
                descent = match &streamed {
                    Streamed::Table(table) => for_classes(
                        &args.train,
                        descent.checkpoint_encoding(table.encoding().clone()),
                        table.encoding(),
                        table.rows(),
                        false,
                    )?,
                    Streamed::Npy(file) => for_class_codes(
                        &args.train,
                        descent,
                        || Ok(file.y().map_err(|e| e.to_string())?.to_vec()),
                        false,
                        true,
                    )?,
                    Streamed::Numbers(_) => descent,
                    Streamed::Sparse(file) => {
                        sparse_settings(&args.train, &args.data.data, descent, file, file.rows.rows())?
                    }
                };
                return fit_streamed(args, &descent, &streamed);
            }
            Some(Read::Whole(table)) => surveyed = Some(described(table)),
            None => {}
        }
    }
    let data = match surveyed {
        Some(table) => table,
        None => load(&args.data, args.train.model())?,
    };
    if args.train.model_arg.is_none() && args.train.loss.is_none() && only_zeros_and_ones(&data.y) {
        say!("note:         the target holds only 0 and 1; --model logistic fits a classifier");
    }
    let plotting = args.plot_path.is_some();
    // Checkpoints carry the table's encoding, so that they resume on it.
    let descent = descent.checkpoint_encoding(data.encoding.clone());
    let descent = match &data.encoding.labels {
        Some(_) => for_classes(&args.train, descent, &data.encoding, data.y.len(), plotting)?,
        None => for_class_codes(&args.train, descent, || Ok(data.y.to_vec()), plotting, true)?,
    };
    let explain = |e| {
        explain(
            e,
            &data.feature_names,
            &data.lines,
            &args.data.data,
            Some(&args.data.target),
        )
    };
    // With --test-size, the fit sees the training rows only.
    let split = args
        .test_size
        .map(|fraction| {
            train_test_split(
                data.x.view(),
                data.y.view(),
                fraction,
                args.train.seed,
                args.train.model() == Model::Logistic,
            )
        })
        .transpose()
        .map_err(|e| match e {
            // The class by its label, as the table writes it.
            Error::Data(DataError::ClassMissingFromSplit { class, .. }) if data.encoding.labels.is_some() => {
                format!("{e} (class {class} is {:?})", data.encoding.label(class))
            }
            e => e.to_string(),
        })?;
    let (x_fit, y_fit) = match &split {
        Some(split) => (split.x_train.view(), split.y_train.view()),
        None => (data.x.view(), data.y.view()),
    };
    // The training rows' weights, where the table has them.
    let weights_fit = data.weights.as_ref().map(|weights| match &split {
        Some(split) => {
            let mut held = vec![false; weights.len()];
            split.test_rows.iter().for_each(|&i| held[i] = true);
            weights
                .iter()
                .zip(held)
                .filter(|(_, held)| !held)
                .map(|(&w, _)| w)
                .collect::<downhill::ndarray::Array1<f32>>()
        }
        None => weights.clone(),
    });
    let (fitted, elapsed) = fit_with_progress(
        &descent,
        format!("fitting {} rows × {} features", x_fit.nrows(), x_fit.ncols()),
        |descent| match &weights_fit {
            Some(weights) => descent.fit_weighted(x_fit, y_fit, weights.view()),
            None => descent.fit(x_fit, y_fit),
        },
    )
    .map_err(explain)?;
    let labels = data.encoding.labels.as_ref();
    let scores = report::scores(&fitted, x_fit, y_fit, labels).map_err(explain)?;
    let test_scores = match &split {
        Some(split) => {
            Some(report::scores(&fitted, split.x_test.view(), split.y_test.view(), labels).map_err(explain)?)
        }
        None => None,
    };
    let described = Described {
        feature_names: &data.feature_names,
        rows: data.x.nrows(),
        features: data.x.ncols(),
        encoding: &data.encoding,
        scored: None,
    };
    let held_out = split
        .as_ref()
        .zip(test_scores)
        .map(|(s, t)| (s.test_rows.len(), t));
    report(args, &described, &fitted, elapsed, &scores, held_out, Some(&data))
}

/// A file fitted from the file, block by block where it exceeds the
/// memory budget.
// One per fit, taken apart where it is made: its size costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Streamed {
    /// An `.npy` file.
    Npy(NpyData),
    /// A Parquet file of numbers (numeric and boolean columns, no empty
    /// cells), decoded straight into rows: a rank's share of a
    /// data-parallel fit, by whole row groups. A single process reads
    /// every table, Parquet included, through [`Streamed::Table`].
    #[cfg_attr(not(feature = "distributed"), allow(dead_code))]
    Numbers(ParquetData),
    /// A CSV or Parquet table, encoded as it is read (a table of number
    /// columns a decoded batch at a time).
    Table(TableData),
    /// An svmlight file's sparse rows, read whole (they are small).
    Sparse(SparseFile),
}

/// An svmlight file's rows, or a SciPy CSR matrix's (`.npz`) with its
/// targets' `.npy` file, ready to fit.
pub struct SparseFile {
    pub rows: CsrData,
    /// The features' names: their indices as the file writes them.
    pub names: Vec<String>,
    /// What --target calls the labels.
    pub target: String,
    /// The labels as classes, where a logistic model's labels were not
    /// class codes already (such as −1 and +1).
    pub labels: Option<Labels>,
}

impl SparseFile {
    /// The svmlight file of `data` (indices as --zero-based says), its
    /// labels as classes for a logistic `model`.
    pub fn open(data: &DataArgs, model: Model) -> Result<SparseFile, Error> {
        if data.features.is_some() || data.weight_column.is_some() {
            return Err(Error::Data(DataError::MalformedFile {
                path: data.data.display().to_string(),
                reason: "--features and --weight-column name CSV or Parquet columns; an svmlight file's features are its indices".into(),
            }));
        }
        let (rows, names) = match Format::of(&data.data) {
            // A SciPy matrix: its targets in the .npy file --target names,
            // its features x0, x1, … by their columns.
            Format::Npz => {
                // The targets: an .npy file, or an array of the archive
                // (`convert` writes them as `y`).
                let y = match data.target.ends_with(".npy") {
                    true => downhill::data::npy::read_targets(&data.target)?.to_vec(),
                    false => downhill::data::npz::read_npz_array(&data.data, &data.target)?,
                };
                let targets = y.len();
                let rows = downhill::data::npz::read_npz(&data.data, Some(y)).map_err(|e| match e {
                    Error::Data(DataError::SparseShape { expected, what, .. })
                        if what.starts_with("targets") =>
                    {
                        Error::Data(DataError::MalformedFile {
                            path: data.target.clone(),
                            reason: format!(
                                "{targets} targets for the {expected} rows of {}",
                                data.data.display()
                            ),
                        })
                    }
                    other => other,
                })?;
                let names = (0..rows.features()).map(|j| format!("x{j}")).collect();
                (rows, names)
            }
            _ => {
                let indexing = match data.zero_based {
                    true => Indexing::ZeroBased,
                    false => Indexing::Auto,
                };
                let read = read_svmlight(
                    &data.data,
                    SvmlightOptions {
                        indexing,
                        features: None,
                    },
                )?;
                let first = u32::from(read.indexing == Indexing::OneBased);
                let names = (0..read.rows.features() as u32)
                    .map(|j| (j + first).to_string())
                    .collect();
                (read.rows, names)
            }
        };
        let (rows, labels) = match model {
            Model::Logistic => classes_of_labels(rows)?,
            Model::Linear => (rows, None),
        };
        // An .npz file's targets are named by their file's stem, as an
        // .npy file's are.
        let target = match Format::of(&data.data) {
            Format::Npz => Path::new(&data.target)
                .file_stem()
                .map_or_else(|| data.target.clone(), |s| s.to_string_lossy().into_owned()),
            _ => data.target.clone(),
        };
        Ok(SparseFile {
            rows,
            names,
            target,
            labels,
        })
    }

    /// The labels' encoding, where the labels became classes.
    fn label_encoding(&self) -> Option<Encoding> {
        self.labels.as_ref().map(|labels| Encoding {
            columns: Vec::new(),
            labels: Some(labels.clone()),
            target: Some(self.target.clone()),
            hashing: None,
            text_columns: Vec::new(),
        })
    }
}

/// A logistic model's labels as class codes: labels 0, 1, …, K − 1 stay
/// as they are; others (−1 and +1, 1 and 2) become the codes of their
/// sorted values, which the saved encoding names.
fn classes_of_labels(rows: CsrData) -> Result<(CsrData, Option<Labels>), Error> {
    let y = rows.targets(0, rows.rows())?.into_owned();
    let mut values: Vec<f32> = y.clone();
    values.sort_by(f32::total_cmp);
    values.dedup();
    let codes = values.iter().enumerate().all(|(k, &v)| v == k as f32);
    if codes || values.len() > downhill::data::table::MAX_CLASSES {
        return Ok((rows, None));
    }
    let code = |v: f32| values.binary_search_by(|probe| probe.total_cmp(&v)).unwrap_or(0) as f32;
    let labels = Labels {
        classes: values.iter().map(|v| v.to_string()).collect(),
    };
    Ok((
        rows.with_targets(y.iter().map(|&v| code(v)).collect())?,
        Some(labels),
    ))
}

impl Streamed {
    pub fn source(&self) -> &dyn DataSource {
        match self {
            Streamed::Npy(file) => file,
            Streamed::Numbers(file) => file,
            Streamed::Table(file) => file,
            Streamed::Sparse(file) => &file.rows,
        }
    }

    /// Prints what reading a table left out, filled and mapped.
    pub fn describe(&self) {
        if let Streamed::Table(table) = self {
            self.describe_with(
                table.rows_dropped(),
                [table.cells_filled(), table.text_cells_blank()],
            );
        }
    }

    /// [`Streamed::describe`] with the rows left out and the cells filled
    /// counted elsewhere (over every rank's rows).
    pub fn describe_with(&self, rows_dropped: usize, filled: [usize; 2]) {
        if let Streamed::Table(table) = self {
            describe_table(table.dropped(), table.encoding(), rows_dropped, filled);
        }
    }

    /// `error` of a fit of this file (`path`), naming the row and the
    /// feature of a value that is not finite. Rows count from 0: a
    /// streamed table's kept rows are not its lines, and an `.npy` file
    /// or a Parquet file of numbers has no lines.
    pub fn explain(&self, error: Error, path: &Path) -> String {
        let file = path.display();
        let name = |column: usize| {
            self.feature_names()
                .ok()
                .and_then(|names| names.get(column).cloned())
                .unwrap_or_else(|| format!("x{column}"))
        };
        match error {
            Error::Data(DataError::NonFiniteFeature { row, column, value }) => format!(
                "{file}: row {row} (counted from 0), feature {:?}: {value} is not a finite number",
                name(column)
            ),
            Error::Data(DataError::NonFiniteTarget { row, value }) => {
                format!("{file}: row {row} (counted from 0): the target {value} is not a finite number")
            }
            other => other.to_string(),
        }
    }

    /// The features' names.
    pub fn feature_names(&self) -> Result<Vec<String>, String> {
        Ok(match self {
            Streamed::Npy(file) => file.feature_names().map_err(|e| e.to_string())?,
            Streamed::Numbers(file) => file.feature_names().to_vec(),
            Streamed::Table(file) => file.feature_names(),
            Streamed::Sparse(file) => file.names.clone(),
        })
    }

    /// The features' names and the encoding saved with the model. A file
    /// of numbers has no missing cells; the means that fill a missing cell
    /// at prediction time are the fit's standardization means, where it
    /// standardized.
    pub fn described(&self, fitted: &Fitted) -> Result<(Vec<String>, Encoding), String> {
        let means: Option<Vec<f32>> = fitted.standardizer().map(|s| s.mean().to_vec());
        let names = self.feature_names()?;
        let numbers = |target: String| {
            let encoding = numeric_encoding(&names, means.as_deref(), Some(target));
            (names.clone(), encoding)
        };
        Ok(match self {
            Streamed::Npy(file) => numbers(file.target_name()),
            Streamed::Numbers(file) => numbers(file.target_name().to_string()),
            Streamed::Table(file) => (names.clone(), file.encoding().clone()),
            Streamed::Sparse(file) => {
                let (names, mut encoding) = numbers(file.target.clone());
                encoding.labels = file.labels.clone();
                (names, encoding)
            }
        })
    }
}

/// The file of `data` as a stream, where it is one (every file where
/// `always`): see [`opened_file`]. The ranks of a data-parallel fit read
/// their files so.
#[cfg(feature = "distributed")]
pub fn streamed_file(data: &DataArgs, train: &TrainArgs, always: bool) -> Result<Option<Streamed>, String> {
    Ok(match opened_file(data, train, always)? {
        Some(Read::Streamed(streamed)) => Some(streamed),
        // Read whole only where the rows fit, which `always` rules out.
        Some(Read::Whole(_)) | None => None,
    })
}

/// A data file as `fit` reads it.
pub enum Read {
    /// Fitted from the file, block by block where it exceeds the budget.
    Streamed(Streamed),
    /// A table read whole, on the survey that chose to.
    Whole(Table),
}

/// The file of `data` as `fit` reads it (streamed, every file where
/// `always`): every `.npy` file streams; every table, CSV or Parquet, is
/// surveyed once, and the library reads it whole where its encoded rows
/// fit the budget, else leaves it to stream ([`TableData::read_within`]).
pub fn opened_file(data: &DataArgs, train: &TrainArgs, always: bool) -> Result<Option<Read>, String> {
    let features = names(&data.features);
    let budget = train.memory_budget.unwrap_or_else(default_budget);
    let open_table = || {
        let table = TableData::open(
            &data.data,
            &data.target,
            features.as_deref(),
            &table_options(data, train.model()),
        )
        .map_err(|e| located(data, e))?;
        if always && !table.reads_sparse() {
            table.check_width(budget).map_err(|e| located(data, e))?;
            return Ok(Some(Read::Streamed(Streamed::Table(table))));
        }
        Ok(Some(
            match table.read_within(budget).map_err(|e| located(data, e))? {
                Opened::Whole(table) => Read::Whole(table),
                // Sparse rows are fitted from the table as it holds them.
                Opened::Streamed(table) | Opened::Sparse(table) => Read::Streamed(Streamed::Table(table)),
            },
        ))
    };
    match Format::of(&data.data) {
        Format::Npy if data.weight_column.is_some() => Err(format!(
            "{}: --weight-column names a CSV or Parquet column; an .npy file's columns are all features",
            data.data.display()
        )),
        Format::Npy => Ok(Some(Read::Streamed(Streamed::Npy(
            open_npy(data).map_err(|e| e.to_string())?,
        )))),
        Format::Svmlight | Format::Npz => Ok(Some(Read::Streamed(Streamed::Sparse(
            SparseFile::open(data, train.model()).map_err(|e| e.to_string())?,
        )))),
        Format::Csv => open_table(),
        // One path for every table: the library chooses between reading
        // it whole and streaming it, from the survey that opening it took.
        Format::Parquet => open_table(),
    }
}

/// A file fitted from the file: read block by block where it exceeds the
/// memory budget, its scores summed block by block too.
fn fit_streamed(args: &FitArgs, descent: &GradientDescent, streamed: &Streamed) -> Result<(), String> {
    let file = streamed.source();
    let (rows, features) = (file.rows(), file.features());
    let (fitted, elapsed) = fit_with_progress(
        descent,
        format!("fitting {rows} rows × {features} features"),
        |descent| descent.fit_source(file),
    )
    .map_err(|e| streamed.explain(e, &args.data.data))?;
    let (feature_names, encoding) = streamed.described(&fitted)?;
    let scores = report::scores_of_source(&fitted, file, encoding.labels.as_ref(), Scoring::local())
        .map_err(|e| e.to_string())?;
    let described = Described {
        feature_names: &feature_names,
        rows,
        features,
        encoding: &encoding,
        scored: None,
    };
    report(args, &described, &fitted, elapsed, &scores, None, None)
}

/// The settings of a fit of the sparse rows of `file` (of `rows` rows, over
/// every rank where ranks share them): unstandardized unless asked, as
/// scikit-learn fits sparse data (said so); the checkpoint's encoding (the
/// features' names, the labels' classes); the classes of its labels.
pub fn sparse_settings(
    train: &TrainArgs,
    path: &Path,
    descent: GradientDescent,
    file: &SparseFile,
    rows: usize,
) -> Result<GradientDescent, String> {
    let descent = match !train.standardize && train.scaled() {
        true => {
            eprintln!(
                "note: the sparse rows of {} are fitted unstandardized, as scikit-learn fits sparse data; --standardize standardizes them (the CPU engine keeps them sparse)",
                path.display()
            );
            descent.standardize(false).standardize_target(false)
        }
        false => descent,
    };
    // A checkpoint keeps the features' names and the labels' classes, as
    // the saved model does.
    let mut encoding = numeric_encoding(&file.names, None, Some(file.target.clone()));
    encoding.labels = file.labels.clone();
    let descent = descent.checkpoint_encoding(encoding);
    match file.label_encoding() {
        Some(encoding) => for_classes(train, descent, &encoding, rows, false),
        None => for_class_codes(
            train,
            descent,
            || {
                Ok(file
                    .rows
                    .targets(0, file.rows.rows())
                    .map_err(|e| e.to_string())?
                    .to_vec())
            },
            false,
            true,
        ),
    }
}

/// The flag of `fit`'s option of id `id`: `--lr` for `lr`; `None` for
/// the id of a group of options.
fn flag_of(id: &str) -> Option<String> {
    let command = <FitArgs as clap::Args>::augment_args(clap::Command::new("fit"));
    let flag = command
        .get_arguments()
        .find(|arg| arg.get_id() == id)
        .and_then(|arg| arg.get_long())
        .map(|long| format!("--{long}"));
    flag
}

/// Whether the files the fit writes (`--plot`, `--plot-path`, `--save`,
/// `--checkpoint`) can be written, and are not its `--data`: checked
/// before the fit, so that a path that cannot take one fails before the
/// work, not after it.
pub fn check_output_paths(args: &FitArgs) -> Result<(), Error> {
    let outputs = [&args.plot, &args.plot_path, &args.save, &args.checkpoint];
    for path in outputs.into_iter().flatten() {
        downhill::atomic_file::check_output(path, &[(&args.data.data, "--data")])?;
    }
    [&args.plot, &args.plot_path]
        .into_iter()
        .flatten()
        .try_for_each(|path| plot::check_path(path).map(|_| ()))
}

/// What `fit --resume` refuses (options it cannot honour), and a warning
/// naming the options it does not read, which the saved fit's own
/// settings replace (a command run again with `--resume` added still
/// runs, but not silently).
pub fn check_resume_options(args: &FitArgs) -> Result<Option<String>, String> {
    if args.data.weight_column.is_some() {
        return Err(
            "--weight-column is not read by fit --resume; resume without it, or fit afresh with it".into(),
        );
    }
    if args.checkpoint.is_some() {
        return Err(
            "--checkpoint is written by a fresh fit; fit --resume continues for --epochs and saves with --save".into(),
        );
    }
    // The saved fit goes on with its own settings: any other option would
    // be silently ignored.
    const CONTINUED: [&str; 7] = ["resume", "data", "target", "epochs", "save", "plot", "log_scale"];
    let ignored: Vec<String> = args
        .given
        .iter()
        .filter(|id| !CONTINUED.contains(&id.as_str()))
        .filter_map(|id| flag_of(id))
        .collect();
    Ok((!ignored.is_empty()).then(|| {
        format!(
            "warning: fit --resume continues the saved fit with its own settings; {} not applied (it reads --data, --target, --epochs, --save, --plot and --log-scale; fit afresh to change the others)",
            ignored.join(", ")
        )
    }))
}

/// `fit --resume model.json`: the saved fit continued over the rows of
/// `--data`, encoded as the saved model's columns were.
fn fit_resumed(args: &FitArgs, path: &Path) -> Result<(), String> {
    if let Some(warning) = check_resume_options(args)? {
        eprintln!("{warning}");
    }
    let fitted = Fitted::load(path).map_err(|e| e.to_string())?;
    let data = &args.data.data;
    let shown = data.display().to_string();
    // The model continues on the target it was fitted to.
    let saved_target = fitted.encoding().and_then(|e| e.target.as_deref());
    if let Some(saved) = saved_target.filter(|&t| Format::of(data) != Format::Npy && t != args.data.target) {
        return Err(format!(
            "{} was fitted to the target {saved:?}; --target {:?} would continue it on another: give --target {saved:?}, or fit afresh",
            path.display(),
            args.data.target
        ));
    }
    let (x, y, feature_names, encoding) = match (Format::of(data), fitted.encoding()) {
        (Format::Npy, saved) => {
            let file = open_npy(&args.data).map_err(|e| e.to_string())?;
            let names = file.feature_names().map_err(|e| e.to_string())?;
            // The saved encoding (its means, its target) stays with the
            // model, where its features are the file's columns.
            if let Some(encoding) = saved {
                if encoding.feature_names() != names {
                    return Err(format!(
                        "{} was fitted to the features {}; the columns of {shown} are {}",
                        path.display(),
                        encoding.feature_names().join(", "),
                        names.join(", ")
                    ));
                }
            }
            let (x, y) = (file.x().map_err(|e| e.to_string())?, file.y().map_err(|e| e.to_string())?);
            (x.into_owned(), y.into_owned(), names, saved.cloned())
        }
        (_, Some(encoding)) if encoding.reads_sparse() => {
            return Err(format!(
                "{}'s table was read as sparse rows (its one-hot or hashed columns make it {} features wide), which a resumed fit does not yet read; fit afresh",
                path.display(),
                encoding.width()
            ))
        }
        (_, Some(encoding)) => {
            let (x, counts, lines) = encoding.apply(data).map_err(|e| format!("{shown}: {e}"))?;
            warn_of_cells(&shown, &counts);
            let target = encoding.target.clone().unwrap_or_else(|| args.data.target.clone());
            let cells = downhill::data::table::read_columns(data, &[target.as_str()]).map_err(|e| format!("{shown}: {e}"))?;
            let y = cells
                .iter()
                .zip(&lines)
                .map(|(row, line)| {
                    encoding.target_value(&row[0]).ok_or_else(|| {
                        format!(
                            "line {line} of {shown}: target {target:?} is {:?}, which the model cannot read (missing, or not one of its labels)",
                            row[0]
                        )
                    })
                })
                .collect::<Result<Vec<f32>, String>>()?;
            (x, y.into(), encoding.feature_names(), Some(encoding.clone()))
        }
        (_, None) => {
            return Err(format!(
                "{} holds no table encoding to read {shown} with; continue it on an .npy file, or refit from the table",
                path.display()
            ))
        }
    };
    let epochs = args.train.epochs.unwrap_or(1);
    let (next, elapsed) = fit_with_progress(
        fitted.settings(),
        format!("continuing on {} rows × {} features", x.nrows(), x.ncols()),
        |_| fitted.partial_fit(x.view(), y.view(), epochs),
    )
    .map_err(|e| e.to_string())?;
    let encoding = encoding.unwrap_or_else(|| numeric_encoding(&feature_names, None, None));
    let scores =
        report::scores(&next, x.view(), y.view(), encoding.labels.as_ref()).map_err(|e| e.to_string())?;
    let described = Described {
        feature_names: &feature_names,
        rows: x.nrows(),
        features: x.ncols(),
        encoding: &encoding,
        scored: None,
    };
    report(args, &described, &next, elapsed, &scores, None, None)
}

/// The encoding of columns of plain numbers named `names`: nothing to
/// encode, and a missing cell at prediction time filled with `means` (the
/// fit's standardization means, where it standardized; else 0).
pub fn numeric_encoding(names: &[String], means: Option<&[f32]>, target: Option<String>) -> Encoding {
    Encoding {
        columns: names
            .iter()
            .enumerate()
            .map(|(j, name)| EncodedColumn::Numeric {
                name: name.clone(),
                mean: means.map_or(0.0, |means| means[j]),
            })
            .collect(),
        labels: None,
        target,
        hashing: None,
        text_columns: Vec::new(),
    }
}

/// What the report says of the data, however it was read.
pub struct Described<'a> {
    pub feature_names: &'a [String],
    pub rows: usize,
    pub features: usize,
    pub encoding: &'a Encoding,
    /// Which rows the scores are of, where not all (a rank's shard).
    pub scored: Option<String>,
}

/// Prints the fit's report, draws its plots, saves it, and turns a
/// divergence into an error. `held_out` holds the held-out rows' count and
/// scores; `data` the rows, for the loss surface.
pub fn report(
    args: &FitArgs,
    data: &Described,
    fitted: &Fitted,
    elapsed: std::time::Duration,
    scores: &[(String, String)],
    held_out: Option<(usize, Vec<(String, String)>)>,
    table: Option<&Table>,
) -> Result<(), String> {
    let train = &args.train;
    let rate = fitted.settings().optimizer_settings().learning_rate();
    let model = match fitted.settings().loss_settings() {
        Loss::Multinomial { classes } => format!("multinomial logistic ({classes} classes)"),
        Loss::Poisson => "Poisson (log link)".to_string(),
        _ => fitted.model().to_string(),
    };
    say!(
        "{model} regression of {:?} on {} rows × {} features of {}",
        args.data.target,
        data.rows,
        data.features,
        args.data.data.display()
    );
    say!("stopped:      {}", describe_stop(fitted));
    if let (Some(fraction), true) = (args.validation_fraction, watched_held_out(fitted)) {
        say!(
            "early stop:   on the loss of {} % of the rows, held out (seed {}); the fit saw the others",
            number(100.0 * fraction),
            args.train.seed
        );
    }
    let lbfgs = matches!(fitted.settings().solver_settings(), Solver::Lbfgs { .. });
    say!(
        "{}{} ({} gradient evaluations)",
        if lbfgs { "iterations:   " } else { "epochs:       " },
        fitted.history().len(),
        fitted.gradient_evaluations()
    );
    say!(
        "final loss:   {}{}; {}",
        number(fitted.history().final_loss().unwrap_or(f64::NAN)),
        loss_scale(fitted),
        whose_loss(fitted, args.train.variant)
    );
    // Wide enough for the longest name (a class's label).
    let width = scores
        .iter()
        .map(|(name, _)| name.chars().count() + 2)
        .fold(14, usize::max)
        .min(report::MAX_NAME_WIDTH);
    match &held_out {
        Some((held_rows, test_scores)) => {
            say!(
                "held out:     {} of {} rows (seed {}{})",
                held_rows,
                data.rows,
                args.train.seed,
                if args.train.model() == Model::Logistic {
                    ", stratified"
                } else {
                    ""
                }
            );
            for ((name, train), (_, test)) in scores.iter().zip(test_scores) {
                say!("{:<width$}train {train:<12} test {test}", format!("{name}:"));
            }
        }
        _ => {
            if let Some(scored) = &data.scored {
                say!("scored on:    {scored}");
            }
            for (name, value) in scores {
                say!("{:<width$}{value}", format!("{name}:"));
            }
        }
    }
    if separated_without_penalty(fitted, scores) {
        say!(
            "note:         the fit separates the classes: without a penalty the weights grow with every epoch; --l2 (scikit-learn's default is 1e-4) settles them, and --solver lbfgs then reaches that optimum in a few passes"
        );
    }
    if let Some(column) = &args.data.weight_column {
        say!("weights:      column {column:?} (a weighted mean of the rows' losses)");
    }
    if let Some(first_step) = fitted.settings().average_settings() {
        say!("averaged:     the mean of the parameters after every step from step {first_step}");
    }
    match fitted.settings().class_weight_settings() {
        Some(ClassWeight::Balanced) => say!(
            "class weights: balanced (n / ({} · count) per label)",
            fitted.classes().unwrap_or(2)
        ),
        Some(ClassWeight::Given { negative, positive }) => {
            say!("class weights: label 0 × {negative}, label 1 × {positive}")
        }
        None => {}
    }
    match fitted.settings().solver_settings() {
        Solver::Lbfgs { memory } => say!("solver:       L-BFGS, memory {memory}"),
        Solver::GradientDescent => {
            say!("learning rate: {}", describe_rate(fitted, args.lr));
            if let Some(momentum) = describe_momentum(fitted) {
                say!("momentum:     {momentum}");
            }
        }
    }
    say!(
        "time:         {:.3} s on {}{}",
        elapsed.as_secs_f64(),
        fitted.device(),
        software_note(fitted)
    );
    say!("coefficients (units of the CSV):");
    let width = data
        .feature_names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(6, report::MAX_NAME_WIDTH);
    // One column per margin: the classes' labels head a multinomial's.
    let coefficients = fitted.coefficients();
    if coefficients.ncols() > 1 {
        let heads: Vec<String> = (0..coefficients.ncols())
            .map(|k| data.encoding.label(k as f32))
            .collect();
        say!(
            "  {:<width$}  {}",
            "",
            heads
                .iter()
                .map(|h| format!("{h:>12}"))
                .collect::<Vec<_>>()
                .join("  ")
        );
    }
    let row = |values: &mut dyn Iterator<Item = f32>| {
        values
            .map(|v| format!("{:>12}", number(f64::from(v))))
            .collect::<Vec<_>>()
            .join("  ")
    };
    say!(
        "  {:<width$}  {}",
        "(bias)",
        row(&mut fitted.intercepts().iter().copied())
    );
    // A wide model's list would bury the report: its largest weights.
    let mut shown: Vec<usize> = (0..coefficients.nrows()).collect();
    if shown.len() > COEFFICIENTS_LISTED {
        let size = |j: usize| coefficients.row(j).iter().fold(0.0f32, |m, w| m.max(w.abs()));
        shown.select_nth_unstable_by(COEFFICIENTS_SHOWN - 1, |&a, &b| {
            size(b).total_cmp(&size(a)).then(a.cmp(&b))
        });
        shown.truncate(COEFFICIENTS_SHOWN);
        shown.sort_unstable();
    }
    for &j in &shown {
        let name = &data.feature_names[j];
        say!(
            "  {name:<width$}  {}",
            row(&mut coefficients.row(j).iter().copied())
        );
    }
    if shown.len() < coefficients.nrows() {
        say!(
            "  … the {} largest of {} weights shown, in the features' order (--save keeps them all)",
            shown.len(),
            coefficients.nrows()
        );
    }
    if fitted.settings().penalty_settings().l1_strength() > 0.0 {
        let zeros = coefficients.iter().filter(|&&w| w == 0.0).count();
        say!(
            "zeros:        {zeros} of {} weights are exactly 0 (the L1 penalty)",
            coefficients.len()
        );
    }

    if let Some(path) = &args.plot {
        let curve = Curve {
            label: format!(
                "{} {} lr {}",
                train.variant,
                train.optimizer,
                number(f64::from(rate))
            ),
            losses: fitted.history().losses(),
        };
        // A loss that spans more than two decades reads only on a log scale.
        let losses = fitted.history().losses();
        let finite = losses.iter().filter(|l| l.is_finite() && **l > 0.0);
        let (low, high) = finite.fold((f64::INFINITY, 0.0f64), |(lo, hi), &l| (lo.min(l), hi.max(l)));
        let log = train.log_scale || high > 100.0 * low;
        plot::loss_curves(path, "loss per epoch", &[curve], log).map_err(|e| e.to_string())?;
        say!("loss curve:   {}", path.display());
    }
    if let (Some(path), Some(table)) = (&args.plot_path, table) {
        plot_path(args, table, fitted, path)?;
        say!("loss surface: {}", path.display());
    }
    // A diverged fit is never saved: the file keeps the model it held.
    if let StopReason::Diverged { epoch } = fitted.stop_reason() {
        let rate = fitted
            .history()
            .records()
            .get(epoch - 1)
            .map_or(f64::from(rate), |r| r.learning_rate);
        return Err(format!(
            "the fit diverged at epoch {epoch} with learning rate {}; try a smaller --lr{}, or compare rates with downhill sweep{}",
            number(rate),
            if train.scaled() { "" } else { ", dropping --no-standardize" },
            match &args.save {
                Some(path) => format!(" ({} not written)", path.display()),
                None => String::new(),
            }
        ));
    }
    if let Some(path) = &args.save {
        fitted
            .clone()
            .with_encoding(data.encoding.clone())
            .and_then(|named| named.save(path))
            .map_err(|e| e.to_string())?;
        say!("saved:        {}", path.display());
    }
    Ok(())
}

/// Which parameters the final loss was taken at, and which the scores
/// below it are of: they differ, so a report that sets them side by side
/// says so.
fn whose_loss(fitted: &Fitted, variant: Variant) -> String {
    let epochs = fitted.history().len();
    let taken = match (fitted.settings().solver_settings(), variant) {
        (Solver::Lbfgs { .. }, _) => format!("at iteration {epochs}'s parameters"),
        (_, Variant::Full) => format!("epoch {epochs}'s, at the parameters before its step"),
        _ => format!("the mean of epoch {epochs}'s batch losses, as its steps ran"),
    };
    match fitted.best_epoch() {
        Some(best) => format!("{taken}; the scores are of epoch {best}'s parameters"),
        None => format!("{taken}; the scores are of the final parameters"),
    }
}

/// On which scale the fit's loss was taken.
fn loss_scale(fitted: &Fitted) -> &'static str {
    match (fitted.standardizer().is_some(), fitted.target_scaling().is_some()) {
        (true, true) => " (on standardized features and target)",
        (true, false) => " (on standardized features)",
        (false, true) => " (on a standardized target)",
        (false, false) => "",
    }
}

/// The rate the fit ran with, and where it came from.
fn describe_rate(fitted: &Fitted, asked: LearningRateArg) -> String {
    let rate = number(f64::from(fitted.settings().optimizer_settings().learning_rate()));
    let optimizer = fitted.settings().optimizer_settings();
    match (asked, fitted.curvature(), optimizer) {
        // The adaptive rules' automatic rates are fixed: their steps scale
        // themselves.
        (
            LearningRateArg::Auto,
            Some(_),
            Optimizer::AdaGrad(_) | Optimizer::RmsProp(_) | Optimizer::Adam(_),
        ) => {
            format!(
                "{rate} (auto: the fixed rate for {}, whose steps scale themselves)",
                optimizer.name()
            )
        }
        (LearningRateArg::Auto, Some(curvature), _) => {
            format!(
                "{rate} (auto, from the loss's largest curvature {})",
                number(curvature.largest)
            )
        }
        _ => rate,
    }
}

/// Whether every target is 0 or 1, both present: a class label that the
/// default linear model would fit as a number.
fn only_zeros_and_ones(y: &downhill::ndarray::Array1<f32>) -> bool {
    y.iter().all(|&v| v == 0.0 || v == 1.0) && y.iter().any(|&v| v == 0.0) && y.iter().any(|&v| v == 1.0)
}

/// Whether a log-loss fit (binary or multinomial) without a penalty ran
/// to the epoch limit with every training row right (no false positive or
/// negative in its `scores`' confusion counts, or an accuracy of 1): on
/// separable classes the log loss has no minimum, and the weights grow for
/// ever.
fn separated_without_penalty(fitted: &Fitted, scores: &[(String, String)]) -> bool {
    let unpenalized = fitted.settings().penalty_settings() == downhill::Penalty::L2(0.0);
    let all_right = scores.iter().any(|(name, value)| {
        (name == "confusion" && value.contains(" FP 0 ") && value.ends_with(" FN 0"))
            || (name == "accuracy" && value == "1")
    });
    matches!(
        fitted.settings().loss_settings(),
        Loss::Log | Loss::Multinomial { .. }
    ) && unpenalized
        && all_right
        && fitted.stop_reason() == StopReason::MaxEpochs
}

/// The momentum factor the fit ran with, where its rule has one, and where
/// it came from.
fn describe_momentum(fitted: &Fitted) -> Option<String> {
    let Optimizer::Momentum(momentum) = fitted.settings().optimizer_settings() else {
        return None;
    };
    let beta = number(f64::from(momentum.beta));
    let rate_given = !fitted.settings().learning_rate_from_data();
    Some(
        match (fitted.settings().momentum_from_data(), fitted.curvature()) {
            (true, Some(curvature)) if rate_given => format!(
                "{beta} (auto, for the learning rate given and the curvatures from {} to {})",
                number(curvature.largest / curvature.condition_number()),
                number(curvature.largest)
            ),
            // (L / (L / cap) may round just below the cap.)
            (true, Some(curvature)) if curvature.condition_number() >= downhill::Curvature::MAX_CONDITION * (1.0 - 1e-9) => format!(
                "{beta} (auto, for the condition number {}, the most it is set for: the curvatures span more{})",
                number(downhill::Curvature::MAX_CONDITION),
                match fitted.standardizer() {
                    Some(_) => "",
                    None => "; standardizing the features would bring them closer",
                }
            ),
            (true, Some(curvature)) => format!(
                "{beta} (auto, from the curvature's condition number {})",
                number(curvature.condition_number())
            ),
            _ => beta,
        },
    )
}

/// Says when a GPU fit ran on a software adapter, whose speed is the CPU's.
fn software_note(fitted: &Fitted) -> String {
    if fitted.device() != downhill::Device::Gpu {
        return String::new();
    }
    match downhill::GpuContext::shared() {
        Ok(context) if context.adapter().is_software() => format!(
            " — {}, a software adapter: the CPU runs the shaders, so this checks results, not GPU speed (--device cpu is faster here)",
            context.adapter().name
        ),
        _ => String::new(),
    }
}

/// The loss surface with this run's path and, beside it, those of the
/// full-batch and stochastic variants with the same settings.
fn plot_path(args: &FitArgs, data: &Table, fitted: &Fitted, path: &Path) -> Result<(), String> {
    if fitted.model() != Model::Linear || data.x.ncols() != 1 {
        return Err(format!(
            "--plot-path draws the loss over (w, b) of a linear model with one feature; this fit has {} features",
            data.x.ncols()
        ));
    }
    let points = |f: &Fitted| -> Vec<(f64, f64)> {
        let start = std::iter::once((0.0, 0.0));
        start
            .chain(
                f.history()
                    .parameters()
                    .iter()
                    .map(|(w, b)| (f64::from(w[0]), f64::from(*b))),
            )
            .collect()
    };
    let mut paths = vec![ParameterPath {
        label: format!("this run ({})", args.train.variant),
        points: points(fitted),
    }];
    for (name, variant) in [("full batch", Variant::Full), ("stochastic", Variant::Stochastic)] {
        if variant == args.train.variant {
            continue;
        }
        let other = args
            .train
            .descent(args.lr)
            .variant(variant)
            .track_parameters(true)
            .fit(data.x.view(), data.y.view())
            .map_err(|e| e.to_string())?;
        paths.push(ParameterPath {
            label: name.into(),
            points: points(&other),
        });
    }
    let (w, b) = reference::least_squares(data.x.view(), data.y.view(), 0.0).map_err(|e| e.to_string())?;
    plot::loss_surface(path, data.x.column(0), data.y.view(), &paths, (w[0], b)).map_err(|e| e.to_string())
}
