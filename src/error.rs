//! The one error type of the crate.

use thiserror::Error;

/// Everything that can go wrong on user input or on a device.
///
/// Each kind of bad input has its own variant, and each variant carries the
/// offending value so that the message names it.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum Error {
    /// X and y disagree on the number of rows.
    #[error("X has {x_rows} rows but y has {y_len} values")]
    ShapeMismatch {
        /// Rows of X.
        x_rows: usize,
        /// Length of y.
        y_len: usize,
    },
    /// A predicted label that is neither 0 nor 1, or a score that is not a
    /// finite number.
    #[error("prediction[{row}] is {value}; expected a label 0 or 1 or a finite score")]
    InvalidPrediction {
        /// Position of the value.
        row: usize,
        /// The value itself.
        value: f32,
    },
    /// A score that needs both classes got labels of one class only.
    #[error("every label is {label}; the score needs both classes")]
    SingleClass {
        /// The one label present.
        label: f32,
    },
    /// A metric was given targets and predictions of different lengths.
    #[error("y_true has {y_true} values but the predictions have {y_pred}")]
    LengthMismatch {
        /// Length of the targets.
        y_true: usize,
        /// Length of the predictions.
        y_pred: usize,
    },
    /// A matrix or vector has a different number of features than expected.
    #[error("expected {expected} features, got {found}")]
    FeatureCountMismatch {
        /// Features the model or the other inputs have.
        expected: usize,
        /// Features that were given.
        found: usize,
    },
    /// X has no rows or no columns.
    #[error("the data is empty: {rows} rows and {features} features")]
    EmptyData {
        /// Rows of X.
        rows: usize,
        /// Columns of X.
        features: usize,
    },
    /// More rows than the row indices of the engines (u32) can address.
    #[error("{rows} rows is more than the {max} rows one fit can take", max = u32::MAX)]
    TooManyRows {
        /// Rows of X.
        rows: usize,
    },
    /// A value of X is NaN or infinite.
    #[error("X[{row}, {column}] is {value}, not a finite number")]
    NonFiniteFeature {
        /// Row of the value.
        row: usize,
        /// Column of the value.
        column: usize,
        /// The value itself.
        value: f32,
    },
    /// A value of y is NaN or infinite.
    #[error("y[{row}] is {value}, not a finite number")]
    NonFiniteTarget {
        /// Row of the value.
        row: usize,
        /// The value itself.
        value: f32,
    },
    /// A label of the logistic model is neither 0 nor 1.
    #[error("y[{row}] is {value}; logistic regression needs labels 0 or 1")]
    InvalidLabel {
        /// Row of the label.
        row: usize,
        /// The label itself.
        value: f32,
    },
    /// A label of the multinomial model is not one of its classes.
    #[error("y[{row}] is {value}; a multinomial model of {classes} classes needs labels 0, 1, …, {}", classes - 1)]
    InvalidClass {
        /// Row of the label.
        row: usize,
        /// The label itself.
        value: f32,
        /// The model's classes.
        classes: usize,
    },
    /// A multinomial loss over fewer than two classes, or more than a
    /// table can name (`table::MAX_CLASSES`).
    #[error("a multinomial model needs 2 to {limit} classes, got {classes}")]
    InvalidClassCount {
        /// The classes asked for.
        classes: u32,
        /// The most there may be.
        limit: usize,
    },
    /// A method that gives one value per row asked of a model with one
    /// margin per class.
    #[error("{method} works with one margin per row, but this model has {classes} classes (a margin each): use {instead}")]
    PerClass {
        /// The method asked for.
        method: &'static str,
        /// The model's classes.
        classes: usize,
        /// The method that answers per class.
        instead: &'static str,
    },
    /// More classes than the GPU kernels hold a row's margins for.
    #[error("the GPU engine fits at most {limit} classes, this model has {classes}; use the CPU engine")]
    TooManyClassesForGpu {
        /// The model's classes.
        classes: usize,
        /// The most the kernels hold.
        limit: usize,
    },
    /// `Variant::MiniBatch(0)`.
    #[error("the batch size must be at least 1, got 0")]
    ZeroBatchSize,
    /// `Solver::Lbfgs { memory: 0 }`.
    #[error("L-BFGS's memory must be at least 1 step, got 0")]
    ZeroLbfgsMemory,
    /// A full-batch solver asked for with mini-batches.
    #[error("the {solver} solver runs on the full batch; the variant is {variant}")]
    SolverOfVariant {
        /// The solver.
        solver: &'static str,
        /// The variant asked for, as the command line spells it.
        variant: String,
    },
    /// A quasi-Newton solver asked for with a loss whose slope jumps.
    #[error("the {solver} solver needs a smooth loss; the {loss} loss has a kink (use gradient descent)")]
    SolverOfLoss {
        /// The solver.
        solver: &'static str,
        /// The loss's name.
        loss: &'static str,
    },
    /// A quasi-Newton solver asked for with an L1 penalty, which has no
    /// gradient at 0.
    #[error("the {solver} solver needs a smooth penalty; the L1 strength is {l1} (use gradient descent, or an L2 penalty)")]
    SolverOfPenalty {
        /// The solver.
        solver: &'static str,
        /// The L1 strength asked for.
        l1: f32,
    },
    /// Averaging from step 0: steps count from 1.
    #[error("averaging starts at a step from 1 (1: every step), got 0")]
    ZeroAverageStart,
    /// A data-parallel fit asked of what does not yet combine its ranks'
    /// sums.
    #[error("data-parallel training: {reason}")]
    Distributed {
        /// What stands in the way.
        reason: String,
    },
    /// A rank of a data-parallel fit failed before the fit could go on:
    /// every rank returns this, naming the first rank that failed.
    /// Rows named in `cause` count from the start of that rank's shard.
    #[error("rank {rank} failed: {cause}")]
    RankFailed {
        /// The rank that failed.
        rank: usize,
        /// Its error.
        cause: String,
    },
    /// A rank's table file has other columns than another rank's.
    #[error("rank {rank}'s table has the columns {columns}; rank 0's has {expected}")]
    ShardColumns {
        /// The rank whose columns differ.
        rank: usize,
        /// Its columns.
        columns: String,
        /// Rank 0's (or this rank's) columns.
        expected: String,
    },
    /// Every rank of a data-parallel fit failed alike (reading the one
    /// file they share, say): the cause, as one process would say it.
    #[error("{cause}")]
    EveryRankFailed {
        /// The error every rank met.
        cause: String,
    },
    /// A rank of a data-parallel fit holds no rows.
    #[error(
        "its shard holds no rows: run fewer ranks than there are rows, and give every rank's own file a row"
    )]
    EmptyShard,
    /// A range of rows beyond a source's.
    #[error("rows {start}..{end} asked of a source of {rows} rows")]
    RowRange {
        /// The range's first row.
        start: usize,
        /// One past its last row.
        end: usize,
        /// The source's rows.
        rows: usize,
    },
    /// A checkpoint every 0 epochs.
    #[error("a checkpoint is written every N epochs, N at least 1; got 0")]
    ZeroCheckpointInterval,
    /// Averaged parameters asked of a solver that takes no SGD steps.
    #[error("the {solver} solver does not average its iterates; averaging is for gradient descent")]
    AverageOfSolver {
        /// The solver.
        solver: &'static str,
    },
    /// The solver library failed in a way that is not the data's.
    #[error("the solver failed: {reason}")]
    Solver {
        /// What it said.
        reason: String,
    },
    /// Mini-batches over a source larger than the memory budget with a row
    /// order that scatters each block's rows.
    #[error(
        "the {rows} rows exceed the memory budget (--memory-budget, or --gpu-memory-budget on the GPU) and are read in blocks of {budget_rows}: mini-batches over them need an order that keeps blocks together (Shuffle::Blocks, --shuffle blocks:N, or Shuffle::None)"
    )]
    StreamingNeedsBlocks {
        /// Rows of the source.
        rows: usize,
        /// Rows per block the budget allows.
        budget_rows: usize,
    },
    /// Shuffle blocks larger than the blocks a streamed source's budget
    /// allows.
    #[error(
        "shuffle blocks of {rows} rows are larger than the {budget_rows} rows a streamed block may hold within the memory budget; use --shuffle blocks:N with N at most {budget_rows} (Shuffle::Blocks), or a larger budget"
    )]
    ShuffleBlocksBeyondBudget {
        /// Rows per shuffle block asked for.
        rows: usize,
        /// Rows per block the budget allows.
        budget_rows: usize,
    },
    /// A mini-batch longer than the blocks a source is streamed in.
    #[error(
        "a batch of {batch} rows is longer than the streamed blocks of {block_rows} rows; use larger shuffle blocks (--shuffle blocks:N) or a smaller batch"
    )]
    BatchBeyondBlock {
        /// Rows per batch.
        batch: usize,
        /// Rows per streamed block.
        block_rows: usize,
    },
    /// A setting that needs the rows in memory, asked of a fit on a source.
    #[error("{setting} needs the rows in memory: use GradientDescent::fit, or leave it out")]
    NotWithSource {
        /// The setting.
        setting: &'static str,
    },
    /// `Shuffle::Blocks { rows: 0 }`.
    #[error("shuffle blocks must hold at least one row")]
    ZeroBlockRows,
    /// A learning rate that is zero, negative, NaN or infinite.
    #[error("the learning rate must be finite and positive, got {value}")]
    InvalidLearningRate {
        /// The learning rate given.
        value: f32,
    },
    /// A negative or non-finite penalty strength.
    #[error("the {part} penalty must be finite and at least 0, got {value}")]
    InvalidPenalty {
        /// Which part: "L2" or "L1".
        part: &'static str,
        /// The strength given.
        value: f32,
    },
    /// An elastic net's L1 ratio outside [0, 1].
    #[error("the elastic net's l1_ratio must lie in [0, 1], got {value}")]
    InvalidL1Ratio {
        /// The ratio given.
        value: f32,
    },
    /// `standardize_target(true)` for a model whose target is a label.
    #[error(
        "standardize_target scales a linear model's target; a logistic model's target is a label 0 or 1"
    )]
    TargetScalingOfLabels,
    /// `auto_momentum(true)` with an optimizer that has no momentum.
    #[error("a momentum from the data needs the momentum or nesterov optimizer, not {rule}")]
    MomentumOfRule {
        /// The optimizer's name.
        rule: String,
    },
    /// A data file that ends before the data its header announces.
    #[error("{path}: the file is cut short ({reason})")]
    TruncatedFile {
        /// The file.
        path: String,
        /// What is missing.
        reason: String,
    },
    /// An `.npy` file of a kind not read: its dtype, order or dimensions.
    #[error("{path}: {found}")]
    UnsupportedNpy {
        /// The file.
        path: String,
        /// What the file holds, and what is read.
        found: String,
    },
    /// A Parquet column of a type that is neither a number, text nor a
    /// boolean.
    #[error("{path}: column {column:?} holds {data_type}; numbers, text and booleans are read")]
    UnsupportedColumnType {
        /// The file.
        path: String,
        /// The column.
        column: String,
        /// Its type.
        data_type: String,
    },
    /// A Parquet column streamed as numbers that holds another type (text,
    /// categories).
    #[error(
        "{path}: column {column:?} holds {data_type}; a Parquet file streamed block by block needs numbers or booleans: `downhill convert` encodes text columns once (one-hot)"
    )]
    TextInStreamedColumn {
        /// The file.
        path: String,
        /// The column.
        column: String,
        /// Its type.
        data_type: String,
    },
    /// An empty cell (a null) in a Parquet column streamed as numbers.
    #[error(
        "{path}: column {column:?} is empty at row {row}; a Parquet file streamed block by block needs every cell: `downhill convert --missing mean` (or drop) fills or leaves them out once"
    )]
    NullInStreamedColumn {
        /// The file.
        path: String,
        /// The column.
        column: String,
        /// The row, counted from 1.
        row: usize,
    },
    /// A data file whose contents do not parse.
    #[error("{path}: {reason}")]
    MalformedFile {
        /// The file.
        path: String,
        /// What the reader said.
        reason: String,
    },
    /// A target column index beyond a matrix's columns.
    #[error("{path}: target column {index} is beyond its {columns} columns (they count from 0)")]
    TargetColumnOutOfRange {
        /// The file.
        path: String,
        /// The index given.
        index: usize,
        /// The matrix's columns.
        columns: usize,
    },
    /// A data file whose extension names no format read.
    #[error("{path}: unknown data format; .csv, .parquet and .npy are read")]
    UnknownFormat {
        /// The file.
        path: String,
    },
    /// The automatic learning rate found no positive curvature (the data's
    /// columns are all zero, or overflow).
    #[error("the automatic learning rate needs a positive curvature of the loss; the estimate is {value}")]
    NoCurvature {
        /// The estimate.
        value: f64,
    },
    /// A sample weight that is negative, NaN or infinite.
    #[error("sample weight of row {row} is {value}; weights must be finite and at least 0")]
    InvalidWeight {
        /// The row (from 0).
        row: usize,
        /// The weight.
        value: f32,
    },
    /// Sample weights that are all 0: no row counts.
    #[error("every sample weight is 0; at least one row must weigh more")]
    ZeroWeights,
    /// Sample weights for another number of rows.
    #[error("{weights} sample weights for {rows} rows")]
    WeightCountMismatch {
        /// Rows in the data.
        rows: usize,
        /// Weights given.
        weights: usize,
    },
    /// A class weight that is negative or not finite, or both class weights
    /// 0.
    #[error("class weight {weight} for label {label}: labels are 0 and 1, weights finite and at least 0")]
    InvalidClassWeight {
        /// The label given.
        label: f32,
        /// Its weight.
        weight: f32,
    },
    /// Class weights asked of a model without classes.
    #[error("class weights weigh the logistic model's labels; this model is {model}")]
    ClassWeightOfModel {
        /// The model asked for.
        model: &'static str,
    },
    /// A held-out fraction outside (0, 1).
    #[error("the test fraction must lie strictly between 0 and 1, got {value}")]
    InvalidTestFraction {
        /// The fraction given.
        value: f64,
    },
    /// A validation fraction (held out for early stopping) outside (0, 1).
    #[error("the validation fraction must lie strictly between 0 and 1, got {value}")]
    InvalidValidationFraction {
        /// The fraction given.
        value: f64,
    },
    /// A positive class named where the target is read as numbers, not as
    /// a classifier's labels.
    #[error("the positive class {value:?} names a label of a classifier's target, but this target is read as numbers: the logistic model reads labels")]
    PositiveClassOfNumbers {
        /// The positive class given.
        value: String,
    },
    /// The column of sample weights named as the target.
    #[error("column {column:?} is the target; it cannot also hold the sample weights")]
    TargetAsWeights {
        /// The column.
        column: String,
    },
    /// `max_epochs(0)`.
    #[error("max_epochs must be at least 1, got 0")]
    ZeroEpochs,
    /// A negative or non-finite early-stopping tolerance.
    #[error("the tolerance must be finite and at least 0, got {value}")]
    InvalidTolerance {
        /// The tolerance given.
        value: f64,
    },
    /// A divergence factor that is not above 1 (or is NaN).
    #[error("the divergence factor must be greater than 1, got {value}")]
    InvalidDivergenceFactor {
        /// The factor given.
        value: f64,
    },
    /// A factor of the learning rate's cuts outside (0, 1)
    /// ([`crate::GradientDescent::rate_cuts`]).
    #[error("the factor of the learning rate's cuts must lie between 0 and 1 (exclusive), got {value}")]
    InvalidRateCut {
        /// The factor given.
        value: f64,
    },
    /// `patience(0)`.
    #[error("patience must be at least 1 epoch, got 0")]
    ZeroPatience,
    /// An optimizer constant outside its range (a beta outside [0, 1), a
    /// non-positive epsilon, ...).
    #[error("optimizer constant {name} = {value} is outside {expected}")]
    InvalidOptimizerConstant {
        /// Name of the constant, as in PyTorch.
        name: &'static str,
        /// The value given.
        value: f32,
        /// The range it must lie in.
        expected: &'static str,
    },
    /// A schedule parameter outside its range.
    #[error("schedule parameter {name} = {value} is outside {expected}")]
    InvalidScheduleParameter {
        /// Name of the parameter.
        name: &'static str,
        /// The value given.
        value: f64,
        /// The range it must lie in.
        expected: &'static str,
    },
    /// Warm-start or predicted parameters that are NaN or infinite.
    #[error("parameter {name} is {value}, not a finite number")]
    NonFiniteParameter {
        /// Which parameter: `weights[i]` or `bias`.
        name: String,
        /// The value itself.
        value: f32,
    },
    /// A loss of the other model (a classification loss for the linear
    /// model, a regression loss for the logistic one).
    #[error("the {loss} loss fits a {fits} model; this one is {model}")]
    LossOfModel {
        /// The loss's name.
        loss: &'static str,
        /// The model it fits.
        fits: &'static str,
        /// The model asked for.
        model: &'static str,
    },
    /// A Huber loss's ε that is not positive, or an ε-insensitive loss's
    /// that is negative, or either not finite.
    #[error("the loss's epsilon must be finite, above 0 for huber and at least 0 for the epsilon-insensitive losses, got {value}")]
    InvalidEpsilon {
        /// The ε given.
        value: f32,
    },
    /// A negative target under the Poisson loss.
    #[error("row {row}: target {value} is negative; the Poisson loss fits counts or rates of at least 0")]
    NegativePoissonTarget {
        /// The row, from 0.
        row: usize,
        /// The target.
        value: f32,
    },
    /// A standardized target under a loss that reads the target's own
    /// scale (Poisson's counts).
    #[error("standardize_target cannot apply to the {loss} loss, which reads targets of at least 0 in their own units")]
    TargetScalingOfLoss {
        /// The loss's name.
        loss: &'static str,
    },
    /// Probabilities asked of a loss that gives none (the hinges).
    #[error(
        "the {loss} loss gives classes, not probabilities; fit with log or modified_huber for predict_proba"
    )]
    NoProbability {
        /// The loss's name.
        loss: &'static str,
    },
    /// Class probabilities were asked of a linear model.
    #[error("predict_proba needs a logistic model; this one is linear")]
    NotLogistic,
    /// A data or model file that is not a regular file (a named pipe, a
    /// character device such as /dev/zero or /dev/stdin on a terminal, a
    /// directory, a socket): readers open such files more than once and
    /// seek in them, and a stream would hang them or never end.
    #[error(
        "{path} is a {kind}, not a regular file: {}",
        match *kind {
            "directory" => "name a file in it",
            _ => "data and model files are read more than once and must be regular (seekable) files; write the stream to a file first (such as `cat … > data.csv`)",
        }
    )]
    NotARegularFile {
        /// The path given.
        path: String,
        /// What it is: "pipe (FIFO)", "character device", "directory", ...
        kind: &'static str,
    },
    /// A saved model larger than any model this crate writes: it would be
    /// read whole into memory.
    #[error("{path} holds {bytes} bytes, more than the {limit} bytes a saved model may take; is it a model saved by downhill?")]
    ModelFileTooLarge {
        /// The file.
        path: String,
        /// Its size.
        bytes: u64,
        /// The most a model file may hold.
        limit: u64,
    },
    /// A shape whose values, or bytes, overflow the machine's address
    /// space (`usize`).
    #[error("{rows} rows × {features} features is more values than this machine can address")]
    ShapeOverflow {
        /// Rows asked for.
        rows: usize,
        /// Features asked for.
        features: usize,
    },
    /// Data that would be built in memory beyond the memory budget.
    #[error(
        "{rows} rows × {features} features of float32 take {} GB, more than the memory budget of {} GB (half the machine's memory); ask for fewer rows or features",
        gigabytes(*bytes),
        gigabytes(*budget)
    )]
    BeyondMemoryBudget {
        /// Rows asked for.
        rows: usize,
        /// Features asked for.
        features: usize,
        /// The bytes they take.
        bytes: u64,
        /// The memory budget, in bytes.
        budget: u64,
    },
    /// A fitted coefficient that is infinite or NaN once expressed in the
    /// data's own units: the features' scales lie beyond what float32
    /// holds (un-standardizing divides by their spread).
    #[error(
        "the fitted {} is {value} in the data's units: it overflows float32 because {}",
        coefficient_name(*feature, *margin, *margins),
        overflow_hint(*standardized)
    )]
    CoefficientOverflow {
        /// The feature (column of X) of the weight; `None` for the bias.
        feature: Option<usize>,
        /// The margin (class of a multinomial model; 0 otherwise).
        margin: usize,
        /// The margins of the model.
        margins: usize,
        /// The value in the data's units.
        value: f32,
        /// Whether the fit standardized the features.
        standardized: bool,
    },
    /// A stratified split that leaves a class out of one of its parts.
    #[error(
        "the split of {rows} rows into {train_rows} for training and {test_rows} held out leaves class {class} (rows of it: {class_rows}) out of the {part} part; every class must be in both: change the test size, or add rows of that class"
    )]
    ClassMissingFromSplit {
        /// The class (label code) left out.
        class: f32,
        /// Its rows in the data.
        class_rows: usize,
        /// "training" or "held-out".
        part: &'static str,
        /// Rows in all.
        rows: usize,
        /// Rows for training.
        train_rows: usize,
        /// Rows held out.
        test_rows: usize,
    },
    /// A file could not be opened or read.
    #[error("cannot read {path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// What the system said.
        reason: String,
    },
    /// A file could not be written (it is left as it was, or absent:
    /// [`crate::atomic_file`]).
    #[error("cannot write {path}: {reason}")]
    Write {
        /// The file.
        path: String,
        /// What the system said.
        reason: String,
    },
    /// An output file that is also one of the run's inputs: writing it
    /// would destroy the input.
    #[error("{path} is the {input} file; write to another file")]
    OutputIsInput {
        /// The file.
        path: String,
        /// Which input it is (the option that names it).
        input: String,
    },
    /// A CSV file without a header row or without data rows.
    #[error("{path} has no {missing}")]
    EmptyFile {
        /// The file.
        path: String,
        /// `header row` or `data rows`.
        missing: &'static str,
    },
    /// A column named by the user is not in the CSV header.
    #[error("no column {name:?}; the columns are {available}")]
    MissingColumn {
        /// The name asked for.
        name: String,
        /// The header's names, comma-separated.
        available: String,
    },
    /// A cell of a numeric column that is not a number.
    #[error(
        "line {line}, column {column:?}: {value:?} is not a number{}",
        decimal_comma(value)
    )]
    NonNumericCell {
        /// 1-based line of the file (the header is line 1).
        line: usize,
        /// The column's name.
        column: String,
        /// The cell as written.
        value: String,
    },
    /// A text column named among the features with more distinct values
    /// than the cap on categories (a column not named is left out
    /// instead).
    #[error(
        "column {column:?}, named among the features, holds text with {} distinct values, more than the cap of {cap} categories (line {line}: {value:?}){}",
        crate::data::table::cell::distinct_count(*values, *cap),
        written_with_separators(value)
    )]
    TooManyCategories {
        /// The column's name.
        column: String,
        /// Its distinct values (counted up to a bound).
        values: usize,
        /// The cap.
        cap: usize,
        /// The file line of its first cell that is not a number.
        line: usize,
        /// That cell as written.
        value: String,
    },
    /// A table whose one-hot encoded text columns alone take more than the
    /// memory budget as a dense matrix.
    #[error(
        "one-hot encoding makes a {rows} × {width} float32 matrix of {:.2} GB, beyond the memory budget of {:.2} GB (--memory-budget); the widest text column is {column:?} with {values} values: lower the cap on categories (--max-categories) or leave the column out (--features)",
        *bytes as f64 / 1e9,
        *budget as f64 / 1e9
    )]
    OneHotBeyondBudget {
        /// The text column with the most values.
        column: String,
        /// Its values (features).
        values: usize,
        /// The table's rows.
        rows: usize,
        /// Its features, once encoded.
        width: usize,
        /// The bytes of the matrix.
        bytes: u64,
        /// The memory budget in bytes.
        budget: u64,
    },
    /// A table whose feature columns were all left out.
    #[error("no feature column is left: {dropped}")]
    NoFeatureLeft {
        /// Each column left out, with why.
        dropped: String,
    },
    /// A regression's target cell that is not a number.
    #[error("line {line}: the target {column:?} holds {value:?}, not a number{}; a regression's target is numbers, and a classifier reads labels (--model logistic, GradientDescent::logistic)", decimal_comma(value))]
    TextTarget {
        /// 1-based line of the file (the header is line 1).
        line: usize,
        /// The target column's name.
        column: String,
        /// The cell as written.
        value: String,
    },
    /// A CSV row with more or fewer cells than the header.
    #[error("line {line} has {found} cells but the header has {expected}")]
    RaggedRow {
        /// 1-based line of the file.
        line: usize,
        /// Cells in the header.
        expected: usize,
        /// Cells in the row.
        found: usize,
    },
    /// The target column named among the features.
    #[error("column {column:?} is the target; it cannot also be a feature")]
    TargetAsFeature {
        /// The column.
        column: String,
    },
    /// The sample weights' column named among the features (or as the
    /// target).
    #[error("column {column:?} holds the sample weights; it cannot also be a feature")]
    WeightAsFeature {
        /// The column.
        column: String,
    },
    /// A column whose name the table's header holds twice.
    #[error("the header names two columns {column:?} (columns {first} and {second}); rename one")]
    RepeatedColumn {
        /// The name.
        column: String,
        /// The first column of that name, counted from 1.
        first: usize,
        /// The second.
        second: usize,
    },
    /// A feature column named twice.
    #[error("column {column:?} is named twice among the features")]
    RepeatedFeature {
        /// The column.
        column: String,
    },
    /// A target read as class labels with fewer than two distinct values.
    #[error(
        "line {line}: target {column:?} has {count} distinct values ({values}); class labels need at least two (0 or 1, or labels such as Yes/No)"
    )]
    TooFewClasses {
        /// The target column.
        column: String,
        /// Its values (none or one), comma-separated.
        values: String,
        /// How many distinct values it has.
        count: usize,
        /// The file line of the first row of its value (of the first row,
        /// where it has none).
        line: usize,
    },
    /// A target read as class labels with more distinct values than are
    /// counted.
    #[error(
        "target {column:?} has more than {limit} distinct values, more than can be class labels (a numeric target is read as numbers)"
    )]
    TooManyClasses {
        /// The target column.
        column: String,
        /// The most classes a target may have.
        limit: usize,
    },
    /// A positive class named for a target of more than two classes.
    #[error(
        "the positive class {value:?} was named, but the target has {count} classes; a positive class picks the class read as 1 of two"
    )]
    PositiveClassOfClasses {
        /// The class named.
        value: String,
        /// The target's classes.
        count: usize,
    },
    /// A target cell that is not one of the labels the table's encoding
    /// learnt (a file changed since it was first read).
    #[error("line {line}: target {column:?} is {value:?}, not one of the labels first read from the file ({labels})")]
    UnknownLabel {
        /// The file line.
        line: usize,
        /// The target column.
        column: String,
        /// The cell.
        value: String,
        /// Up to ten of the labels, comma-separated.
        labels: String,
    },
    /// A positive class that is not one of the target's values.
    #[error("the positive class {value:?} is not among the target's values ({values})")]
    UnknownPositiveClass {
        /// The class asked for.
        value: String,
        /// The target's values.
        values: String,
    },
    /// Rows whose only missing cell is the target, under the policy that
    /// refuses missing cells.
    #[error("{} no value in the target {column:?} (the first on line {first_line}) and no other missing cell; a target is never filled: --missing drop or --missing mean leaves those rows out", match rows { 1 => "1 row has".to_string(), _ => format!("{rows} rows have") })]
    MissingTargets {
        /// Rows without a target.
        rows: usize,
        /// The target column.
        column: String,
        /// The file line of the first such row.
        first_line: usize,
    },
    /// Several problems of one table, found by one survey of it.
    #[error("{} problems with the table:\n{}", problems.len(), problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    TableProblems {
        /// Each problem, as it would be reported alone.
        problems: Vec<Error>,
    },
    /// Missing cells under the policy that refuses them.
    #[error("{} missing values (columns: {columns}; the first on line {first_line}); choose --missing drop to leave those rows out or --missing mean to fill numbers with the column's mean (and encode text as none of its values)", match rows { 1 => "1 row has".to_string(), _ => format!("{rows} rows have") })]
    MissingValues {
        /// Rows with a missing cell.
        rows: usize,
        /// The columns with missing cells, comma-separated.
        columns: String,
        /// The file line of the first such row.
        first_line: usize,
    },
    /// A plot could not be drawn or written.
    #[error("cannot draw {path}: {reason}")]
    Plot {
        /// The file asked for.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A name of a setting that means nothing here (a device, a variant,
    /// a model, an optimizer, a schedule).
    #[error("unknown {what} {name:?}; expected {expected}")]
    UnknownName {
        /// The kind of setting.
        what: &'static str,
        /// The name given.
        name: String,
        /// What is understood.
        expected: &'static str,
    },
    /// A fit cannot resume from the given one (another model, other
    /// features, another optimizer, standardization on one side only).
    #[error("cannot resume: {reason}")]
    ResumeMismatch {
        /// What differs.
        reason: String,
    },
    /// A saved model of a schema version this build does not read.
    #[error("{path} is a downhill model of schema version {found}; this build reads version {supported}")]
    UnknownSchemaVersion {
        /// The file.
        path: String,
        /// The version in the file.
        found: String,
        /// The version this build reads.
        supported: u32,
    },
    /// A saved model that cannot be read: not JSON, cut short, or missing
    /// or inconsistent fields.
    #[error("{path} is not a model saved by downhill: {reason}")]
    MalformedModel {
        /// The file.
        path: String,
        /// What is wrong, as the JSON reader or the check said.
        reason: String,
    },
    /// A GPU was asked for and cannot be used.
    #[error("no GPU can be used: {reason}")]
    GpuUnavailable {
        /// What was tried and why it failed.
        reason: String,
    },
    /// The GPU failed while running: out of memory, a lost device, a wait
    /// that timed out, a buffer that could not be mapped, or data too large
    /// for the adapter's limits.
    #[error("the GPU failed: {reason}")]
    GpuFailure {
        /// What failed, as the device reported it.
        reason: String,
    },
}

/// The result type of the crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The file the error names in its message, where it names one.
    pub fn file(&self) -> Option<&str> {
        match self {
            Error::TruncatedFile { path, .. }
            | Error::UnsupportedNpy { path, .. }
            | Error::UnsupportedColumnType { path, .. }
            | Error::TextInStreamedColumn { path, .. }
            | Error::NullInStreamedColumn { path, .. }
            | Error::MalformedFile { path, .. }
            | Error::TargetColumnOutOfRange { path, .. }
            | Error::UnknownFormat { path }
            | Error::Io { path, .. }
            | Error::Write { path, .. }
            | Error::OutputIsInput { path, .. }
            | Error::NotARegularFile { path, .. }
            | Error::ModelFileTooLarge { path, .. }
            | Error::EmptyFile { path, .. }
            | Error::Plot { path, .. }
            | Error::UnknownSchemaVersion { path, .. }
            | Error::MalformedModel { path, .. } => Some(path),
            _ => None,
        }
    }
}

/// A hint where `value` is a number written with thousands separators
/// (`2,414,342`), which reads as text.
fn written_with_separators(value: &str) -> &'static str {
    use crate::data::table::cell::{number_written_as_text, NumberWriting};
    match number_written_as_text(value) {
        Some(NumberWriting::DecimalComma) => "; numbers with a decimal comma read as text: write them with a decimal point",
        Some(NumberWriting::Separators) => "; numbers with thousands separators read as text: write them without",
        Some(NumberWriting::Hexadecimal) => "; hexadecimal numbers read as text: write them in decimal",
        None => "; raise the cap on categories (--max-categories, TableOptions::max_categories) to one-hot encode it",
    }
}

/// Bytes as gigabytes (of 10⁹ bytes) with two decimals.
fn gigabytes(bytes: u64) -> String {
    format!("{:.2}", bytes as f64 / 1e9)
}

/// A coefficient as the library names it: `bias`, `weights[j]`, or with
/// the margin of a multinomial model, `weights[j, k]` and `bias[k]`.
fn coefficient_name(feature: Option<usize>, margin: usize, margins: usize) -> String {
    match (feature, margins > 1) {
        (None, false) => "bias".into(),
        (None, true) => format!("bias[{margin}]"),
        (Some(j), false) => format!("weights[{j}]"),
        (Some(j), true) => format!("weights[{j}, {margin}]"),
    }
}

/// Why a coefficient overflows, and what to do about it.
fn overflow_hint(standardized: bool) -> &'static str {
    match standardized {
        true => "the features' scales are too small or too large for float32 (a weight in the data's units is the standardized one divided by its feature's spread); rescale those features towards units near 1",
        false => "the features' or the target's scales are too small or too large for float32; standardize the features (leave out --no-standardize; GradientDescent::standardize(true)) or rescale them towards units near 1",
    }
}

/// A hint where `value` is a number written with a decimal comma (`2,5`).
fn decimal_comma(value: &str) -> &'static str {
    let value = value.trim();
    match value.matches(',').count() == 1 && value.replace(',', ".").parse::<f64>().is_ok() {
        true => " (a decimal comma? numbers are read with a decimal point)",
        false => "",
    }
}
