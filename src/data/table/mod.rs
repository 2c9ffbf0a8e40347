//! Real tables in: a CSV file with text columns, labels and missing values
//! turned into the numeric X and y the engines take, and the [`Encoding`]
//! that turns later tables the same way at prediction time.
//!
//! - Missing: an empty cell, `NA`, `N/A`, `NaN`, `null` or `?` (any case).
//! - A column is numeric when every cell that is not missing parses as a
//!   number, and text when fewer than half of them do; in between, the
//!   first cell that is not a number is an error naming its line (a typo
//!   in a numeric column, not a category).
//! - Text columns are one-hot encoded ([`Categorical::OneHot`]): one column
//!   per value, named `column=value`, values in sorted order; a column with
//!   more distinct values than [`TableOptions::max_categories`] is left out,
//!   but one named among the features is [`crate::DataError::TooManyCategories`].
//!   At prediction time an unseen value encodes as all zeros and is counted.
//! - A header that names a column in use twice is
//!   [`crate::DataError::RepeatedColumn`].
//! - Every column left out is named with its reason ([`Dropped`]): text
//!   under [`Categorical::Drop`], too many categories, all missing,
//!   constant.
//! - Missing values follow [`Missing`]: an error that counts them, dropping
//!   the rows that hold them, or filling numeric cells with the column's mean
//!   (text cells then encode as all zeros); the means are kept in the
//!   encoding and fill missing cells at prediction time too. Both kinds of
//!   cells are counted ([`Table::cells_filled`],
//!   [`Table::text_cells_blank`]).
//! - Under [`TableOptions::labels`] (a classifier's target), the K ≥ 2
//!   distinct values of the target (Yes/No, true/false, M/B, 1/2,
//!   setosa/versicolor/virginica, …) are mapped to the class codes 0 to
//!   K − 1 in sorted order (numeric order when every value is a number;
//!   numbers compare as numbers, so `1` and `1.0` are one label);
//!   of exactly two, the positive class is code 1: the second in sorted
//!   order unless named ([`TableOptions::positive_class`]). The mapping is
//!   kept as the encoding's [`Labels`]. A target with fewer than two
//!   values, or more than [`MAX_CLASSES`], is an error.

use crate::data::error::DataError;
use std::collections::BTreeSet;
use std::path::Path;

use ndarray::{Array1, Array2};

use crate::atomic_file::AtomicFile;
use crate::data::csv_records::{visit_csv_records, CsvIndex};
use crate::data::source::DataSource;
use crate::error::{Error, Result};

pub(crate) mod cell;
mod stream;
mod survey;

pub use cell::{is_missing, number_written_as_text, NumberWriting};
use cell::{label_key, number};
use cell::{Cell, Record};
pub use stream::{Opened, TableData, SPARSE_TABLE_WIDTH};

/// The most classes a target read with [`TableOptions::labels`] may have:
/// the survey of a table counts the target's distinct values up to this.
pub const MAX_CLASSES: usize = survey::DISTINCT_COUNTED;

/// The distinct values beyond which a text column whose cells hold nearly
/// all different values is an identifier ([`DropReason::IdLike`]).
pub const ID_LIKE_VALUES: usize = 1000;

/// How text columns become features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Categorical {
    /// One column per distinct value.
    #[default]
    OneHot,
    /// Left out (and named).
    Drop,
}

/// What to do with missing cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Missing {
    /// An error that counts the rows and columns affected.
    #[default]
    Error,
    /// Leave out every row with a missing cell in a chosen column or the
    /// target.
    Drop,
    /// Fill numeric cells with the column's mean (text cells encode as all
    /// zeros); rows whose target is missing are left out.
    Mean,
}

impl std::str::FromStr for Categorical {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        match text.trim() {
            "onehot" => Ok(Categorical::OneHot),
            "drop" => Ok(Categorical::Drop),
            _ => Err(Error::UnknownName {
                what: "categorical policy",
                name: text.to_string(),
                expected: "onehot or drop",
            }),
        }
    }
}

impl std::str::FromStr for Missing {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        match text.trim() {
            "error" => Ok(Missing::Error),
            "drop" => Ok(Missing::Drop),
            "mean" => Ok(Missing::Mean),
            _ => Err(Error::UnknownName {
                what: "missing-value policy",
                name: text.to_string(),
                expected: "error, drop or mean",
            }),
        }
    }
}

/// How [`read_table`] reads a table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableOptions {
    /// Text columns: one-hot (default) or left out.
    pub categorical: Categorical,
    /// The most distinct values a text column may have (default 50).
    pub max_categories: usize,
    /// Missing cells: error (default), drop the rows, or fill with means.
    pub missing: Missing,
    /// Map the target's K distinct values (from 2 to [`MAX_CLASSES`]) to
    /// the class codes 0 to K − 1, in sorted order (for classifiers).
    pub labels: bool,
    /// Of a target with two values, the one that maps to 1; default the
    /// second in sorted order. Naming one for more classes is an error.
    pub positive_class: Option<String>,
    /// A column of sample weights, read as numbers and left out of the
    /// features ([`Table::weights`]).
    pub weight_column: Option<String>,
    /// Text columns hashed into 2^bits features rather than one-hot
    /// encoded (any number of values; [`Hashing`]), and hashed
    /// interactions; `None`: no hashing.
    pub hashing: Option<Hashing>,
    /// Columns read as text whatever their cells hold, each value a
    /// category (`"01000"` and `"75001"` two postal codes, not numbers),
    /// and only an empty cell missing (`"NA"` a value): the text columns
    /// of a data frame, whose types are known. Empty: every column is
    /// read as its cells say.
    pub text_columns: Vec<String>,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            categorical: Categorical::OneHot,
            max_categories: 50,
            missing: Missing::Error,
            labels: false,
            positive_class: None,
            weight_column: None,
            hashing: None,
            text_columns: Vec::new(),
        }
    }
}

/// Why a column was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropReason {
    /// A text column under [`Categorical::Drop`].
    Text,
    /// A text column with more distinct values than the cap.
    TooManyCategories {
        /// Its distinct values.
        values: usize,
        /// The cap.
        cap: usize,
    },
    /// A text column whose values are nearly all distinct: more than
    /// [`ID_LIKE_VALUES`] of them, in at most 10/9 as many cells (which
    /// the survey counts only under a cap on categories raised above
    /// that). Such a column names rows (titles, IDs) rather than sorting
    /// them into categories; it is left out unless named among the
    /// features, where it is one-hot encoded within the cap (a table it
    /// makes wide is read as sparse rows).
    IdLike {
        /// Its distinct values.
        values: usize,
        /// Its cells that hold a value.
        cells: usize,
    },
    /// No cell holds a value.
    AllMissing,
    /// Every cell holds the same value.
    Constant,
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DropReason::Text => write!(f, "text (categorical columns are dropped as asked)"),
            DropReason::TooManyCategories { values, cap } => {
                write!(
                    f,
                    "{} distinct values, more than the cap of {cap} (--max-categories)",
                    cell::distinct_count(*values, *cap)
                )
            }
            DropReason::IdLike { values, cells } => write!(
                f,
                "{values} distinct values in {cells} cells: an identifier rather than a category (name it in --features to one-hot encode it)"
            ),
            DropReason::AllMissing => write!(f, "every cell is missing"),
            DropReason::Constant => write!(f, "constant"),
        }
    }
}

/// A column left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// The column's name.
    pub column: String,
    /// Why.
    pub reason: DropReason,
}

/// How one source column becomes features.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "kind", rename_all = "snake_case"))]
pub enum EncodedColumn {
    /// A number, its missing cells filled with `mean`.
    Numeric {
        /// The column's name.
        name: String,
        /// The mean of its values in the table it was learnt from.
        mean: f32,
    },
    /// One feature per value.
    OneHot {
        /// The column's name.
        name: String,
        /// Its values, in the order of the features.
        values: Vec<String>,
    },
    /// Text hashed into the encoding's hashed features ([`Hashing`]): a
    /// value v adds ±1 at the place the hash of `column=v` gives.
    Hashed {
        /// The column's name.
        name: String,
    },
}

/// Feature hashing, as scikit-learn's `FeatureHasher` (and Vowpal
/// Wabbit) hash: the text `column=value` of a cell (its value trimmed of
/// spaces, as one-hot encoding reads it) (for a pair of columns,
/// the two keys joined by `^`, a number column's key its name) is hashed
/// by MurmurHash3 (32 bits, seed 0); the absolute value of the signed hash
/// modulo 2^bits is its place among the 2^bits hashed features (after the
/// others), its sign the value's sign (`alternate_sign`). Colliding values
/// add. Saved with a model's encoding, so `predict` hashes alike.
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Hashing {
    /// The hashed features are 2^bits (1 to [`MAX_HASH_BITS`]).
    pub bits: u32,
    /// The text columns hashed (by name); `None`: every text column.
    #[cfg_attr(feature = "serde", serde(default))]
    pub columns: Option<Vec<String>>,
    /// Pairs of columns whose products are hashed too (VW's `-q`): a text
    /// cell's value is 1, a number cell's its number.
    #[cfg_attr(feature = "serde", serde(default))]
    pub interactions: Vec<(String, String)>,
}

/// The most bits a [`Hashing`] takes: 2^24 hashed features (a model keeps
/// a weight and a name for each; scikit-learn's default is 2^20, Vowpal
/// Wabbit's 2^18).
pub const MAX_HASH_BITS: u32 = 24;

impl Hashing {
    /// Whether the text column `name` is hashed.
    pub fn hashes(&self, name: &str) -> bool {
        self.columns
            .as_ref()
            .is_none_or(|columns| columns.iter().any(|c| c.trim() == name.trim()))
    }

    /// The place (among the 2^bits hashed features) and sign of `key`.
    pub fn place(&self, key: &str) -> (usize, f32) {
        let hash = murmur3::murmur3_32(&mut std::io::Cursor::new(key.as_bytes()), 0)
            .expect("reading bytes in memory does not fail") as i32;
        let n = 1u64 << self.bits;
        // As scikit-learn: |−2³¹| taken as 2³¹ − 1 − (n − 1) ≡ 2³¹ (mod n).
        let place = match hash {
            i32::MIN => (2_147_483_647 - (n - 1)) % n,
            hash => u64::from(hash.unsigned_abs()) % n,
        };
        (place as usize, if hash >= 0 { 1.0 } else { -1.0 })
    }
}

/// A target's class labels: class code `k` (the target value `k` as an
/// `f32`, from 0) stands for the label `classes[k]`.
///
/// Saved with a model as `{"classes": [...]}`; the shape of older files,
/// `{"negative": a, "positive": b}`, reads as the classes `[a, b]`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "SavedLabels"))]
pub struct Labels {
    /// The label of each class, in the order of their codes: sorted
    /// (numerically where every label is a number), except that of two the
    /// [positive class](TableOptions::positive_class) is code 1.
    pub classes: Vec<String>,
}

impl Labels {
    /// How many classes there are.
    pub fn count(&self) -> usize {
        self.classes.len()
    }

    /// The class code of `label` (surrounding spaces aside, numbers
    /// compared as numbers: `1.0` is label `1`), where it is one of the
    /// labels.
    pub fn code(&self, label: &str) -> Option<f32> {
        let label = label_key(label);
        self.classes
            .iter()
            .position(|class| label_key(class) == label)
            .map(|k| k as f32)
    }

    /// The label of class code `code`, where it is one (a whole number
    /// from 0 below [`Labels::count`]).
    pub fn label(&self, code: f32) -> Option<&str> {
        let whole = code >= 0.0 && code.fract() == 0.0;
        whole
            .then(|| self.classes.get(code as usize))
            .flatten()
            .map(String::as_str)
    }

    /// Of two classes, the label read as 0; `None` for more.
    pub fn negative(&self) -> Option<&str> {
        (self.count() == 2).then(|| self.classes[0].as_str())
    }

    /// Of two classes, the label read as 1 (the positive class); `None`
    /// for more.
    pub fn positive(&self) -> Option<&str> {
        (self.count() == 2).then(|| self.classes[1].as_str())
    }
}

/// [`Labels`] as a saved model holds them: `classes`, or (files written
/// before there could be more than two) `negative` and `positive`.
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedLabels {
    #[serde(default)]
    classes: Option<Vec<String>>,
    #[serde(default)]
    negative: Option<String>,
    #[serde(default)]
    positive: Option<String>,
}

#[cfg(feature = "serde")]
impl TryFrom<SavedLabels> for Labels {
    type Error = String;

    fn try_from(saved: SavedLabels) -> std::result::Result<Labels, String> {
        let classes = match saved {
            SavedLabels {
                classes: Some(classes),
                negative: None,
                positive: None,
            } => classes,
            SavedLabels {
                classes: None,
                negative: Some(negative),
                positive: Some(positive),
            } => vec![negative, positive],
            _ => {
                return Err(
                    "labels hold either \"classes\" or (an older file) \"negative\" and \"positive\"".into(),
                )
            }
        };
        if classes.len() < 2 {
            return Err(format!(
                "labels name {} classes; there are at least two",
                classes.len()
            ));
        }
        let mut seen = BTreeSet::new();
        if let Some(repeated) = classes.iter().find(|class| !seen.insert(class.as_str())) {
            return Err(format!("the label {repeated:?} names two classes"));
        }
        Ok(Labels { classes })
    }
}

/// How a table's columns become features: learnt by [`read_table`], kept
/// with a model, applied by [`Encoding::apply`].
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Encoding {
    /// The source columns, in the order of their features.
    pub columns: Vec<EncodedColumn>,
    /// The target's class labels, where they were mapped to class codes.
    pub labels: Option<Labels>,
    /// The target column's name.
    #[cfg_attr(feature = "serde", serde(default))]
    pub target: Option<String>,
    /// The hashed features, where text columns are hashed.
    #[cfg_attr(feature = "serde", serde(default))]
    pub hashing: Option<Hashing>,
    /// The columns read as text whatever their cells hold
    /// ([`TableOptions::text_columns`]).
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Vec::is_empty"))]
    pub text_columns: Vec<String>,
}

/// The entries of one sparse row, `from` on in `indices` and `values`, in
/// the order of their features, the values of a feature set more than once
/// (hashed values that collide) added, and zeros left out.
fn sorted_row(indices: &mut Vec<u32>, values: &mut Vec<f32>, from: usize) {
    if indices[from..].windows(2).all(|pair| pair[0] < pair[1]) {
        return;
    }
    let mut entries: Vec<(u32, f32)> = indices[from..]
        .iter()
        .copied()
        .zip(values[from..].iter().copied())
        .collect();
    entries.sort_by_key(|&(j, _)| j);
    indices.truncate(from);
    values.truncate(from);
    for (j, value) in entries {
        match indices.last() {
            Some(&last) if indices.len() > from && last == j => {
                *values.last_mut().expect("a value for each index") += value
            }
            _ => {
                indices.push(j);
                values.push(value);
            }
        }
    }
    // Collisions that cancelled.
    let mut kept = from;
    for k in from..indices.len() {
        if values[k] != 0.0 {
            indices[kept] = indices[k];
            values[kept] = values[k];
            kept += 1;
        }
    }
    indices.truncate(kept);
    values.truncate(kept);
}

/// The one-hot columns' values by their place ([`Encoding::value_index`]).
pub(crate) struct ValueIndex<'e>(Vec<Option<std::collections::HashMap<&'e str, usize>>>);

/// What [`Encoding::apply`] met on the way.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApplyCounts {
    /// Text cells whose value the encoding had not seen (encoded as zeros).
    pub unseen: usize,
    /// The first of them: its file line, column and value.
    pub first_unseen: Option<(usize, String, String)>,
    /// Missing numeric cells filled with the saved mean.
    pub filled: usize,
    /// Missing text cells, encoded as none of their column's values
    /// (zeros).
    pub blank: usize,
    /// The rows (from 0) with a missing cell, filled or blank.
    pub rows_with_missing: Vec<usize>,
}

/// A table read by [`read_table`].
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The names of the features, in the order of the columns of `x`.
    pub feature_names: Vec<String>,
    /// One row per row kept.
    pub x: Array2<f32>,
    /// The target: the class codes 0 to K − 1 where it holds labels
    /// ([`Encoding::labels`]), else its numbers.
    pub y: Array1<f32>,
    /// The sample weights of the rows, where
    /// [`TableOptions::weight_column`] names their column (for
    /// [`crate::GradientDescent::fit_weighted`]).
    pub weights: Option<Array1<f32>>,
    /// How the columns were encoded.
    pub encoding: Encoding,
    /// The columns left out, with their reasons.
    pub dropped: Vec<Dropped>,
    /// Rows left out for missing cells.
    pub rows_dropped: usize,
    /// Missing numeric cells filled with means.
    pub cells_filled: usize,
    /// Missing text cells, encoded as none of their column's values
    /// (zeros).
    pub text_cells_blank: usize,
    /// The 1-based file line of each row kept.
    pub lines: Vec<usize>,
}

impl Table {
    /// The target column's name: the encoding's, else `target`.
    pub fn target_name(&self) -> String {
        self.encoding.target.clone().unwrap_or_else(|| "target".into())
    }

    /// Writes the rows as they were read, cleaned: one float32 column per
    /// feature (after one-hot encoding and missing values) and the target
    /// last (labels as their class codes), to `path` by its extension — CSV or
    /// Parquet with the features' names, or `.npy` as one matrix whose
    /// last column is the target ([`write_source`]).
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        let rows = crate::data::source::InMemory::unchecked(self.x.view(), self.y.view());
        write_source(&rows, &self.feature_names, &self.target_name(), path)
    }
}

/// Rows read from a source per block written: at most this many, and at
/// most 64 MiB of them dense (sparse rows of many features are written
/// out a few at a time).
const WRITE_ROWS: usize = 1 << 16;

/// The rows per block written for rows of `features` features.
fn write_rows(features: usize) -> usize {
    ((64 << 20) / (4 * (features + 1))).clamp(1, WRITE_ROWS)
}

/// Writes the rows of `source` (a cleaned table, or any source) to `path`
/// by its extension, block by block, so that a source larger than memory
/// is written without holding it: one float32 column per feature named
/// `feature_names` and the target last named `target_name`, as CSV or
/// Parquet (a row group per block), or `.npy` as one matrix whose last
/// column is the target, or svmlight (the target as each line's label, the
/// non-zero features one-based, the names left out). The file is written whole or not at all
/// ([`crate::atomic_file`]).
pub fn write_source(
    source: &dyn DataSource,
    feature_names: &[String],
    target_name: &str,
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    let io = |e: &dyn std::fmt::Display| Error::Write {
        path: shown.clone(),
        reason: e.to_string(),
    };
    let mut names = feature_names.to_vec();
    names.push(target_name.to_string());
    let (n, d) = (source.rows(), source.features());
    let block_rows = write_rows(d);
    match Format::of(path) {
        Format::Csv => {
            let mut file = AtomicFile::create(path)?;
            {
                let mut writer = csv::Writer::from_writer(std::io::BufWriter::new(file.file()));
                writer.write_record(&names).map_err(|e| io(&e))?;
                for start in (0..n).step_by(block_rows) {
                    let block = source.block(start, block_rows.min(n - start))?;
                    for (row, target) in block.x.chunks_exact(d.max(1)).zip(block.y.iter()) {
                        let cells = row.iter().chain([target]).map(|v| v.to_string());
                        writer.write_record(cells).map_err(|e| io(&e))?;
                    }
                }
                writer
                    .into_inner()
                    .map_err(|e| io(&e))?
                    .into_inner()
                    .map_err(|e| io(e.error()))?;
            }
            file.commit()
        }
        #[cfg(feature = "parquet")]
        Format::Parquet => crate::data::parquet_table::write_source(source, &names, path, block_rows),
        #[cfg(feature = "npy")]
        Format::Npy => crate::data::npy::write_matrix(source, path, block_rows),
        Format::Svmlight => crate::data::svmlight::write_svmlight(source, path, block_rows),
        #[cfg(feature = "npy")]
        Format::Npz => crate::data::npz::write_npz(source, path, block_rows),
        #[allow(unreachable_patterns)]
        _ => Err(Error::Data(DataError::UnknownFormat { path: shown })),
    }
}

/// A data file's format, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated text with a header row (any extension not below).
    Csv,
    /// Apache Parquet (`.parquet`, `.pq`).
    Parquet,
    /// A NumPy array (`.npy`); see [`crate::data::npy`].
    Npy,
    /// svmlight / LIBSVM text (`.svm`, `.svmlight`, `.libsvm`): sparse
    /// rows, a label each; see [`crate::data::svmlight`].
    Svmlight,
    /// A SciPy sparse matrix in CSR form (`.npz`, `scipy.sparse.save_npz`),
    /// its targets in an `.npy` file or an array of the archive (as
    /// `convert` writes them, `y`); see `data::npz` (the `npy` feature).
    Npz,
}

impl Format {
    /// The format `path`'s extension names.
    pub fn of(path: impl AsRef<Path>) -> Format {
        let extension = path
            .as_ref()
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match extension.as_deref() {
            Some("parquet" | "pq") => Format::Parquet,
            Some("npy") => Format::Npy,
            Some("svm" | "svmlight" | "libsvm") => Format::Svmlight,
            Some("npz") => Format::Npz,
            _ => Format::Csv,
        }
    }
}

/// Calls `each(record index, line, record)` for the records of the table
/// file `path` in `format`, of the columns `wanted` where the format can
/// leave the others unread (Parquet), from record `from.0` on where `from`
/// is given (with the CSV file's index), until `each` returns `false`;
/// returns the header. A record's cells are the header's columns: text
/// from a CSV file, typed values from a Parquet file.
pub(crate) fn visit_records(
    format: Format,
    path: &Path,
    wanted: Option<&[&str]>,
    from: Option<(usize, &CsvIndex)>,
    mut each: impl FnMut(usize, usize, &dyn Record) -> Result<bool>,
) -> Result<Vec<String>> {
    match format {
        Format::Csv => visit_csv_records(path, from, |i, line, record| each(i, line, record)),
        #[cfg(feature = "parquet")]
        Format::Parquet => {
            crate::data::parquet_table::visit_records(path, wanted, from.map_or(0, |(first, _)| first), each)
        }
        _ => {
            let _ = (wanted, each);
            Err(Error::Data(DataError::UnknownFormat {
                path: path.display().to_string(),
            }))
        }
    }
}

/// The header of a table file (see [`visit_records`]): a CSV file's read
/// with its first record.
fn header_of(format: Format, path: &Path, wanted: Option<&[&str]>) -> Result<Vec<String>> {
    match format {
        // From the footer alone.
        #[cfg(feature = "parquet")]
        Format::Parquet => Ok(crate::data::parquet_table::ParquetTable::open(path, wanted)?
            .header()
            .to_vec()),
        _ => visit_records(format, path, wanted, None, |_, _, _| Ok(false)),
    }
}

/// The header of a file that has a record after it, else the error of a
/// file without records: known before anything is built for the header's
/// columns (a header of millions of names and no rows ends at once).
fn header_with_records(format: Format, path: &Path, wanted: Option<&[&str]>) -> Result<Vec<String>> {
    #[cfg(feature = "parquet")]
    if format == Format::Parquet {
        return header_of(format, path, wanted);
    }
    let mut any = false;
    let header = visit_records(format, path, wanted, None, |_, _, _| {
        any = true;
        Ok(false)
    })?;
    match any {
        true => Ok(header),
        false => Err(no_rows(path)),
    }
}

/// `error`, found before the file was read to its end, unless reading it
/// to its end fails first (the reader's error, or a file without records):
/// the error a reader that held every record before using any would give,
/// as the table reader did, so that its messages stay the same.
fn after_reading_through(error: Error, format: Format, path: &Path, wanted: Option<&[&str]>) -> Error {
    let mut any = false;
    let read = visit_records(format, path, wanted, None, |_, _, _| {
        any = true;
        Ok(true)
    });
    match (read, any) {
        (Err(first), _) => first,
        (Ok(_), false) => no_rows(path),
        (Ok(_), true) => error,
    }
}

/// A file with a header and no records.
fn no_rows(path: &Path) -> Error {
    Error::Data(DataError::EmptyFile {
        path: path.display().to_string(),
        missing: "data rows",
    })
}

/// Visits every record of a table file (see [`visit_records`]) with
/// `each` until it fails, then reads on to the end: the reader's errors
/// first, then a file without records, then `each`'s first error.
fn visit_all(
    format: Format,
    path: &Path,
    wanted: Option<&[&str]>,
    mut each: impl FnMut(usize, usize, &dyn Record) -> Result<()>,
) -> Result<()> {
    let (mut failed, mut any) = (None, false);
    visit_records(format, path, wanted, None, |i, line, record| {
        any = true;
        if failed.is_none() {
            failed = each(i, line, record).err();
        }
        Ok(true)
    })?;
    match (failed, any) {
        (_, false) => Err(no_rows(path)),
        (Some(e), true) => Err(e),
        (None, true) => Ok(()),
    }
}

/// The positions of the columns `names` in the header of the table file
/// `path`, and the header.
fn columns_of(format: Format, path: &Path, names: &[&str]) -> Result<Vec<usize>> {
    let header = header_of(format, path, Some(names))?;
    names
        .iter()
        .map(|name| column_index(&header, name))
        .collect::<Result<_>>()
        .map_err(|e| after_reading_through(e, format, path, Some(names)))
}

/// The cells of the columns `names` of a table file (CSV or Parquet, by its
/// extension), row by row, as text: a CSV file's cells as written, a
/// Parquet file's as a CSV file of the same table holds them.
pub fn read_columns(path: impl AsRef<Path>, names: &[&str]) -> Result<Vec<Vec<String>>> {
    let (path, format) = (path.as_ref(), Format::of(path.as_ref()));
    let columns = columns_of(format, path, names)?;
    let mut rows = Vec::new();
    visit_all(format, path, Some(names), |_, _, record| {
        rows.push(
            columns
                .iter()
                .map(|&c| record.cell(c).text().into_owned())
                .collect(),
        );
        Ok(())
    })?;
    Ok(rows)
}

/// The position of column `name` in `header`; a name that the header
/// holds twice is [`crate::DataError::RepeatedColumn`], as either could be meant.
fn column_index(header: &[String], name: &str) -> Result<usize> {
    let mut found = header.iter().enumerate().filter(|(_, h)| *h == name.trim());
    match (found.next(), found.next()) {
        (Some((first, _)), None) => Ok(first),
        (Some((first, _)), Some((second, _))) => Err(Error::Data(DataError::RepeatedColumn {
            column: header[first].clone(),
            first: first + 1,
            second: second + 1,
        })),
        (None, _) => Err(Error::Data(DataError::MissingColumn {
            name: name.to_string(),
            available: header.join(", "),
        })),
    }
}

/// Sorted numerically where every value is a number, else as text.
fn sorted_values(values: BTreeSet<String>) -> Vec<String> {
    let mut values: Vec<String> = values.into_iter().collect();
    if values.iter().all(|v| number(v).is_some()) {
        values.sort_by(|a, b| number(a).unwrap_or(0.0).total_cmp(&number(b).unwrap_or(0.0)));
    }
    values
}

/// Reads a CSV or Parquet file with a header row into features and a
/// target, as the module documentation says. `features` names the columns
/// to use (default: every column but the target); naming the target among
/// them, or a column twice, is an error.
///
/// The file is read twice, record by record, and never held: once to
/// survey its columns (every decision of the encoding), once to encode
/// the rows kept straight into the matrix. A table whose one-hot columns
/// make the matrix larger than the default memory budget is refused
/// ([`TableData::check_width`]).
pub fn read_table(
    path: impl AsRef<Path>,
    target: &str,
    features: Option<&[&str]>,
    options: &TableOptions,
) -> Result<Table> {
    let table = TableData::open(path, target, features, options)?;
    table.check_width(crate::memory::default_budget())?;
    table.read_whole()
}

impl Encoding {
    /// The features' names: a numeric column's own, `column=value` for each
    /// value of a one-hot column.
    pub fn feature_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .columns
            .iter()
            .flat_map(|column| match column {
                EncodedColumn::Numeric { name, .. } => vec![name.clone()],
                EncodedColumn::OneHot { name, values } => {
                    values.iter().map(|v| format!("{name}={v}")).collect()
                }
                EncodedColumn::Hashed { .. } => Vec::new(),
            })
            .collect();
        if let Some(hashing) = &self.hashing {
            names.extend((0..1usize << hashing.bits).map(|k| format!("hashed[{k}]")));
        }
        names
    }

    /// Whether this encoding can be applied (a saved model's, read back):
    /// its hashing's bits within range, and hashed columns only with a
    /// hashing. The reason where not.
    pub fn check(&self) -> std::result::Result<(), String> {
        match &self.hashing {
            Some(hashing) if !(1..=MAX_HASH_BITS).contains(&hashing.bits) => Err(format!(
                "its hashing takes {} bits, not 1 to {MAX_HASH_BITS}",
                hashing.bits
            )),
            None if self
                .columns
                .iter()
                .any(|c| matches!(c, EncodedColumn::Hashed { .. })) =>
            {
                Err("it hashes a column but has no hashing".into())
            }
            _ => Ok(()),
        }
    }

    /// The features, counted without naming them: the numbers, the
    /// one-hot values, then the hashed features.
    pub fn width(&self) -> usize {
        self.unhashed_width() + self.hashing.as_ref().map_or(0, |h| 1usize << h.bits)
    }

    /// The features before the hashed ones.
    fn unhashed_width(&self) -> usize {
        self.columns
            .iter()
            .map(|column| match column {
                EncodedColumn::Numeric { .. } => 1,
                EncodedColumn::OneHot { values, .. } => values.len(),
                EncodedColumn::Hashed { .. } => 0,
            })
            .sum()
    }

    /// The source columns' names.
    pub fn column_names(&self) -> Vec<&str> {
        self.columns
            .iter()
            .map(|column| match column {
                EncodedColumn::Numeric { name, .. }
                | EncodedColumn::OneHot { name, .. }
                | EncodedColumn::Hashed { name } => name.as_str(),
            })
            .collect()
    }

    /// Encodes one row's `cells`, one per source column in order, into
    /// `row` (as long as the features; zeros where no one-hot value is
    /// set), counting filled and unseen cells; `line` names the file line
    /// in errors.
    pub(crate) fn encode_row<'a>(
        &self,
        cells: impl IntoIterator<Item = Cell<'a>>,
        row: &mut [f32],
        counts: &mut ApplyCounts,
        line: usize,
    ) -> Result<()> {
        row.fill(0.0);
        // Hashed values that collide add.
        self.encode_cells(cells, None, counts, line, |j, value| row[j] += value)
    }

    /// Each one-hot column's values by their place, for columns of many
    /// values (a search through a few is as quick): for
    /// [`Encoding::encode_cells`] over many rows.
    pub(crate) fn value_index(&self) -> ValueIndex<'_> {
        ValueIndex(
            self.columns
                .iter()
                .map(|column| match column {
                    EncodedColumn::OneHot { values, .. } if values.len() > 64 => Some(
                        values
                            .iter()
                            .enumerate()
                            .map(|(place, value)| (value.as_str(), place))
                            .collect(),
                    ),
                    _ => None,
                })
                .collect(),
        )
    }

    /// Encodes one row's `cells` as [`Encoding::encode_row`] does, handing
    /// each feature that is set to `set` (its position and value): a
    /// numeric column's value (zero included) and a one-hot column's 1 at
    /// its value's place, in the features' order; then the hashed values
    /// (text of hashed columns, and the interactions), each where its hash
    /// puts it: in any order, and a place may come more than once (the
    /// values add).
    pub(crate) fn encode_cells<'a>(
        &self,
        cells: impl IntoIterator<Item = Cell<'a>>,
        index: Option<&ValueIndex<'_>>,
        counts: &mut ApplyCounts,
        line: usize,
        mut set: impl FnMut(usize, f32),
    ) -> Result<()> {
        let hashed_from = self.unhashed_width();
        let hashing = self.hashing.as_ref();
        let pairs = hashing.map_or(&[][..], |h| &h.interactions[..]);
        // Each column's key and value, for the interactions.
        let mut keys: Vec<Option<(String, f32)>> = Vec::new();
        let mut j = 0;
        for (c, (column, cell)) in self.columns.iter().zip(cells).enumerate() {
            let text = match column {
                EncodedColumn::OneHot { name, .. } | EncodedColumn::Hashed { name } => {
                    !self.text_columns.is_empty() && self.text_columns.contains(name)
                }
                EncodedColumn::Numeric { .. } => false,
            };
            let missing = survey::cell_missing(&cell, text);
            let text_key = |name: &str| {
                let text = cell.text();
                format!("{name}={}", text.trim())
            };
            match column {
                EncodedColumn::Numeric { name, mean } => {
                    let value = if cell.is_missing() {
                        counts.filled += 1;
                        *mean
                    } else {
                        cell.number().map(|v| v as f32).ok_or_else(|| {
                            Error::Data(DataError::NonNumericCell {
                                line,
                                column: name.clone(),
                                value: cell.text().into_owned(),
                            })
                        })?
                    };
                    set(j, value);
                    if !pairs.is_empty() {
                        keys.push(Some((name.clone(), value)));
                    }
                    j += 1;
                }
                EncodedColumn::OneHot { name, values } => {
                    if missing {
                        counts.blank += 1;
                    } else {
                        let text = cell.text();
                        let text = text.trim();
                        let indexed = index.and_then(|index| index.0[c].as_ref());
                        let place = match indexed {
                            Some(places) => places.get(text).copied(),
                            None => values.iter().position(|v| v == text),
                        };
                        match place {
                            Some(position) => set(j + position, 1.0),
                            None => {
                                counts.unseen += 1;
                                counts
                                    .first_unseen
                                    .get_or_insert_with(|| (line, name.clone(), text.to_string()));
                            }
                        }
                    }
                    if !pairs.is_empty() {
                        keys.push((!missing).then(|| (text_key(name), 1.0)));
                    }
                    j += values.len();
                }
                EncodedColumn::Hashed { name } => {
                    let key = (!missing).then(|| text_key(name));
                    match (&key, hashing) {
                        (Some(key), Some(hashing)) => {
                            let (place, sign) = hashing.place(key);
                            set(hashed_from + place, sign);
                        }
                        _ => counts.blank += 1,
                    }
                    if !pairs.is_empty() {
                        keys.push(key.map(|key| (key, 1.0)));
                    }
                }
            }
        }
        if let Some(hashing) = hashing.filter(|_| !pairs.is_empty()) {
            let names = self.column_names();
            for (a, b) in pairs {
                let at = |name: &str| names.iter().position(|c| *c == name);
                let (Some(Some((a, x))), Some(Some((b, y)))) =
                    (at(a).map(|k| keys[k].as_ref()), at(b).map(|k| keys[k].as_ref()))
                else {
                    continue;
                };
                let (place, sign) = hashing.place(&format!("{a}^{b}"));
                set(hashed_from + place, sign * x * y);
            }
        }
        Ok(())
    }

    /// Encodes one row's `cells` as [`Encoding::encode_cells`] does, as a
    /// sparse row appended to `indices` and `values`: its features set to
    /// non-zero values, in order, colliding hashed values added.
    pub(crate) fn encode_sparse_row<'a>(
        &self,
        cells: impl IntoIterator<Item = Cell<'a>>,
        index: &ValueIndex<'_>,
        counts: &mut ApplyCounts,
        line: usize,
        indices: &mut Vec<u32>,
        values: &mut Vec<f32>,
    ) -> Result<()> {
        let from = indices.len();
        self.encode_cells(cells, Some(index), counts, line, |j, value| {
            if value != 0.0 {
                indices.push(j as u32);
                values.push(value);
            }
        })?;
        sorted_row(indices, values, from);
        Ok(())
    }

    /// Encodes the rows of a CSV or Parquet file with the columns this
    /// encoding was learnt from (found by name, in any order, among
    /// others); a missing numeric cell takes the saved mean, an unseen text
    /// value encodes as zeros, and both are counted. Returns the rows, the
    /// counts and each row's file line.
    pub fn apply(&self, path: impl AsRef<Path>) -> Result<(Array2<f32>, ApplyCounts, Vec<usize>)> {
        let (path, format) = (path.as_ref(), Format::of(path.as_ref()));
        let names = self.column_names();
        let sources = columns_of(format, path, &names)?;
        let width = self.width();
        let (mut x, mut lines, mut counts) = (Vec::new(), Vec::new(), ApplyCounts::default());
        let mut row = vec![0.0; width];
        visit_all(format, path, Some(&names), |_, line, record| {
            let cells = sources.iter().map(|&c| record.cell(c));
            let missing_before = counts.filled + counts.blank;
            self.encode_row(cells, &mut row, &mut counts, line)?;
            if counts.filled + counts.blank > missing_before {
                counts.rows_with_missing.push(lines.len());
            }
            x.extend_from_slice(&row);
            lines.push(line);
            Ok(())
        })?;
        let x = Array2::from_shape_vec((lines.len(), width), x).map_err(|e| {
            Error::Data(DataError::MalformedFile {
                path: path.display().to_string(),
                reason: e.to_string(),
            })
        })?;
        Ok((x, counts, lines))
    }

    /// Whether tables of this encoding are read as sparse rows: the rule of
    /// [`TableData::reads_sparse`] (at least
    /// [`SPARSE_TABLE_WIDTH`] features, at most one in 8 set a
    /// row).
    pub fn reads_sparse(&self) -> bool {
        let width = self.width();
        let pairs = self.hashing.as_ref().map_or(0, |h| h.interactions.len());
        width >= SPARSE_TABLE_WIDTH && 8 * (self.columns.len() + pairs) <= width
    }

    /// [`Encoding::apply`] into sparse rows (the features each row sets),
    /// for an encoding that [`Encoding::reads_sparse`]: the rows, the
    /// counts, and each row's file line. Under `drop_incomplete`, rows with
    /// a missing cell are left out (and counted in `rows_with_missing`, by
    /// their place among all rows); the targets are zeros.
    pub fn apply_sparse(
        &self,
        path: impl AsRef<Path>,
        drop_incomplete: bool,
    ) -> Result<(crate::data::sparse::CsrData, ApplyCounts, Vec<usize>)> {
        let (path, format) = (path.as_ref(), Format::of(path.as_ref()));
        let names = self.column_names();
        let sources = columns_of(format, path, &names)?;
        let index = self.value_index();
        let (mut indptr, mut indices, mut values) = (vec![0], Vec::new(), Vec::new());
        let (mut lines, mut counts, mut seen) = (Vec::new(), ApplyCounts::default(), 0);
        visit_all(format, path, Some(&names), |_, line, record| {
            let cells = sources.iter().map(|&c| record.cell(c));
            let missing_before = counts.filled + counts.blank;
            let entries_before = indices.len();
            self.encode_sparse_row(cells, &index, &mut counts, line, &mut indices, &mut values)?;
            if counts.filled + counts.blank > missing_before {
                counts.rows_with_missing.push(seen);
                if drop_incomplete {
                    indices.truncate(entries_before);
                    values.truncate(entries_before);
                    seen += 1;
                    return Ok(());
                }
            }
            seen += 1;
            indptr.push(indices.len());
            lines.push(line);
            Ok(())
        })?;
        drop(index);
        let rows = lines.len();
        let csr = crate::data::sparse::CsrData::new(self.width(), indptr, indices, values, vec![0.0; rows])?;
        Ok((csr, counts, lines))
    }

    /// The target value of `cell` as the model reads it: the class code
    /// for labels, else the number; `None` for a missing cell or an unknown
    /// label.
    pub fn target_value(&self, cell: &str) -> Option<f32> {
        let cell = cell.trim();
        if is_missing(cell) {
            return None;
        }
        match &self.labels {
            Some(labels) => labels.code(cell),
            None => number(cell).map(|v| v as f32),
        }
    }

    /// The label of a predicted class code, where the target held labels;
    /// else (or for a code that is not one of the classes) the number's
    /// text.
    pub fn label(&self, class: f32) -> String {
        match self.labels.as_ref().and_then(|labels| labels.label(class)) {
            Some(label) => label.to_string(),
            None => class.to_string(),
        }
    }
}
