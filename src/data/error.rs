//! The data layer's errors: a file, a table, a column, a cell or a value that cannot be read or fitted. Composed into the crate's [`crate::Error`] as
//! `Error::Data`; each variant carries the value it names.

/// The data layer's errors: a file, a table, a column, a cell or a value that cannot be read or fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
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
    /// `Shuffle::Blocks { rows: 0 }`.
    #[error("shuffle blocks must hold at least one row")]
    ZeroBlockRows,
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
    #[error("{path}: this format is not read here; tables are .csv, .parquet and .npy (sparse rows, .svm and .npz, are read by fit, predict and convert)")]
    UnknownFormat {
        /// The file.
        path: String,
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
    /// Warm-start or predicted parameters that are NaN or infinite.
    #[error("parameter {name} is {value}, not a finite number")]
    NonFiniteParameter {
        /// Which parameter: `weights[i]` or `bias`.
        name: String,
        /// The value itself.
        value: f32,
    },
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
    /// A CSV file without a header row or without data rows.
    #[error("{path} has no {missing}")]
    EmptyFile {
        /// The file.
        path: String,
        /// `header row` or `data rows`.
        missing: &'static str,
    },
    /// Feature hashing into a number of bits out of range.
    #[error("hashing into 2^{bits} features: the bits must be from 1 to {most}")]
    HashBits {
        /// The bits asked for.
        bits: u32,
        /// The most taken.
        most: u32,
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
    /// A table read as sparse rows whose rows take more than the memory
    /// budget even so.
    #[error(
        "{rows} rows as sparse rows (of {width} features) take up to {:.2} GB, beyond the memory budget of {:.2} GB (--memory-budget): raise it, or fit fewer rows or columns",
        *bytes as f64 / 1e9,
        *budget as f64 / 1e9
    )]
    SparseRowsBeyondBudget {
        /// The table's rows.
        rows: usize,
        /// Its features, once encoded.
        width: usize,
        /// The bytes of its sparse rows, at most.
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
        problems: Vec<DataError>,
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
    /// A data file whose contents do not parse.
    #[error("{path}: {reason}")]
    MalformedFile {
        /// The file.
        path: String,
        /// What the reader said.
        reason: String,
    },
    /// A held-out fraction outside (0, 1).
    #[error("the test fraction must lie strictly between 0 and 1, got {value}")]
    InvalidTestFraction {
        /// The fraction given.
        value: f64,
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
    /// CSR arrays that do not fit together.
    #[error("sparse rows: {what} should be {expected}, found {found}")]
    SparseShape {
        /// Which array, or which entry of one.
        what: &'static str,
        /// What it should be.
        expected: usize,
        /// What it is.
        found: usize,
    },
    /// A sparse row's feature beyond the rows' features.
    #[error("sparse row {row} has feature {index}, beyond the {features} features")]
    SparseIndex {
        /// The row (from 0).
        row: usize,
        /// The feature (from 0).
        index: u32,
        /// The features of each row.
        features: usize,
    },
    /// A sparse row's features out of order or repeated.
    #[error("sparse row {row} has feature {index} after feature {previous}: a row's features must be strictly increasing (sorted, none repeated)")]
    UnsortedIndices {
        /// The row (from 0).
        row: usize,
        /// The feature out of order.
        index: u32,
        /// The feature before it.
        previous: u32,
    },
    /// A sparse row's value that is NaN or infinite.
    #[error("sparse row {row} has feature {index} = {value}: values must be finite")]
    NonFiniteSparseValue {
        /// The row (from 0).
        row: usize,
        /// The feature (from 0).
        index: u32,
        /// The value.
        value: f32,
    },
    /// A line of an svmlight file that is not `label [qid:N] index:value …`.
    #[error("{path}, line {line}: {token:?}: {reason}")]
    MalformedSvmlight {
        /// The file.
        path: String,
        /// The line (from 1).
        line: usize,
        /// The token at fault (its first 40 characters).
        token: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An svmlight line whose indices are out of order or repeated.
    #[error("{path}, line {line}: index {index} after index {previous}: a row's indices must be sorted and unique, as scikit-learn's load_svmlight_file demands")]
    UnsortedSvmlightIndices {
        /// The file.
        path: String,
        /// The line (from 1).
        line: usize,
        /// The index out of order, as written.
        index: u64,
        /// The index before it, as written.
        previous: u64,
    },
    /// An index 0 in an svmlight file read as one-based.
    #[error("{path}, line {line}: index 0 in a file read as one-based (its first feature is 1); read it as zero-based (--zero-based, Indexing::ZeroBased)")]
    ZeroIndexInOneBased {
        /// The file.
        path: String,
        /// The first line with an index 0.
        line: usize,
    },
    /// An svmlight index beyond the features the rows are read with.
    #[error("{path}, line {line}: index {index} lies beyond the {features} features the rows are read with")]
    SvmlightIndexBeyondFeatures {
        /// The file.
        path: String,
        /// The line of the largest index.
        line: usize,
        /// The largest index, as written.
        index: u64,
        /// The features.
        features: usize,
    },
    /// A `.npz` file that is not a SciPy sparse matrix in CSR form.
    #[error("{path} is not a SciPy sparse matrix in CSR form (scipy.sparse.save_npz): {reason}")]
    NotCsr {
        /// The file.
        path: String,
        /// What it is instead, or what is wrong with it.
        reason: String,
    },
}

impl DataError {
    /// The file the error names in its message, where it names one.
    pub fn file(&self) -> Option<&str> {
        match self {
            DataError::TruncatedFile { path, .. }
            | DataError::UnsupportedNpy { path, .. }
            | DataError::UnsupportedColumnType { path, .. }
            | DataError::TextInStreamedColumn { path, .. }
            | DataError::NullInStreamedColumn { path, .. }
            | DataError::MalformedFile { path, .. }
            | DataError::TargetColumnOutOfRange { path, .. }
            | DataError::NotARegularFile { path, .. }
            | DataError::EmptyFile { path, .. }
            | DataError::MalformedSvmlight { path, .. }
            | DataError::NotCsr { path, .. }
            | DataError::UnsortedSvmlightIndices { path, .. }
            | DataError::ZeroIndexInOneBased { path, .. }
            | DataError::SvmlightIndexBeyondFeatures { path, .. }
            | DataError::UnknownFormat { path } => Some(path),
            _ => None,
        }
    }
}

/// Bytes as gigabytes (of 10⁹ bytes) with two decimals.
fn gigabytes(bytes: u64) -> String {
    format!("{:.2}", bytes as f64 / 1e9)
}

/// A hint where `value` is a number written with a decimal comma (`2,5`).
fn decimal_comma(value: &str) -> &'static str {
    let value = value.trim();
    match value.matches(',').count() == 1 && value.replace(',', ".").parse::<f64>().is_ok() {
        true => " (a decimal comma? numbers are read with a decimal point)",
        false => "",
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
