//! Parquet files as the rows of a table: the chosen columns (a projection,
//! so that others are never decoded), read row group by row group through
//! arrow-rs, each cell handed to the table reader as the typed value its
//! Arrow array holds ([`Cell`]): numbers (integers and floats) as numbers,
//! text and dictionary-encoded text as text (categories), booleans as
//! booleans, nulls as missing. No number is written as text and parsed
//! back; the table reader treats each typed cell exactly as the text a
//! CSV file of the same table holds. A row's "line" in messages is its
//! position in the file, counted from 1.

use crate::data::error::DataError;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type,
    UInt8Type,
};
use arrow_array::{Array, ArrowPrimitiveType, BooleanArray, PrimitiveArray, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::PageIndexPolicy;

use crate::data::source::DataSource;
use crate::data::table::cell::{Cell, Record};
use crate::error::{Error, Result};

/// Calls `each(row index, line, record)` for the rows of the columns
/// `wanted` (every column when `None`) of a Parquet file, from row `first`
/// on (decoding only the row groups from the one that holds it), until
/// `each` returns `false`; returns the header. A record's cells are the
/// header's columns.
pub(crate) fn visit_records(
    path: &Path,
    wanted: Option<&[&str]>,
    first: usize,
    each: impl FnMut(usize, usize, &dyn Record) -> Result<bool>,
) -> Result<Vec<String>> {
    let file = ParquetTable::open(path, wanted)?;
    file.visit(first, each)?;
    Ok(file.header)
}

/// A Parquet file opened for the table reader: its footer read once, the
/// columns wanted (a projection), their names (the header) and where each
/// row group starts.
pub(crate) struct ParquetTable {
    path: PathBuf,
    shown: String,
    metadata: ArrowReaderMetadata,
    /// The projected root columns, in file order.
    indices: Vec<usize>,
    header: Vec<String>,
    /// The first row of each row group, and the rows of the file last.
    group_starts: Vec<usize>,
}

impl std::fmt::Debug for ParquetTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetTable")
            .field("path", &self.shown)
            .field("header", &self.header)
            .field("rows", &self.rows())
            .finish_non_exhaustive()
    }
}

impl ParquetTable {
    /// Opens `path` for the columns `wanted` (every column when `None`):
    /// an unknown name is [`crate::DataError::MissingColumn`], a column of a type the
    /// table reader does not read [`crate::DataError::UnsupportedColumnType`].
    pub(crate) fn open(path: &Path, wanted: Option<&[&str]>) -> Result<Self> {
        let shown = path.display().to_string();
        let (_, metadata) = open_footer(path)?;
        let schema = metadata.schema().clone();
        let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let indices: Vec<usize> = match wanted {
            None => (0..names.len()).collect(),
            Some(wanted) => {
                let mut indices = Vec::new();
                for name in wanted {
                    let index = column_index(&names, name)?;
                    if !indices.contains(&index) {
                        indices.push(index);
                    }
                }
                indices.sort_unstable();
                indices
            }
        };
        for &index in &indices {
            let field = schema.field(index);
            if !supported(field.data_type()) {
                return Err(Error::Data(DataError::UnsupportedColumnType {
                    path: shown,
                    column: field.name().clone(),
                    data_type: field.data_type().to_string(),
                }));
            }
        }
        let header: Vec<String> = indices.iter().map(|&i| names[i].clone()).collect();
        // A footer may lie: a negative count, or counts past any file,
        // would wrap into row ranges that no table holds.
        let mut group_starts = vec![0usize];
        for (k, group) in metadata.metadata().row_groups().iter().enumerate() {
            let start = usize::try_from(group.num_rows())
                .ok()
                .and_then(|rows| group_starts.last().copied().unwrap_or(0).checked_add(rows))
                .ok_or_else(|| {
                    Error::Data(DataError::MalformedFile {
                        path: shown.clone(),
                        reason: format!("its footer counts {} rows in row group {k}", group.num_rows()),
                    })
                })?;
            group_starts.push(start);
        }
        Ok(ParquetTable {
            path: path.to_path_buf(),
            shown,
            metadata,
            indices,
            header,
            group_starts,
        })
    }

    /// The names of the columns read, in file order.
    pub(crate) fn header(&self) -> &[String] {
        &self.header
    }

    /// The first row of each row group, and the rows of the file last.
    pub(crate) fn group_starts(&self) -> &[usize] {
        &self.group_starts
    }

    /// A reader of the projected columns of the row groups `groups`, from
    /// row `offset` of the first, on this file's footer as it was read.
    /// Each reader opens the file anew: the readers of one descriptor
    /// share its position, and row groups are read on several threads.
    fn reader(&self, groups: Vec<usize>, offset: usize, batch_rows: usize) -> Result<Batches> {
        let file = File::open(&self.path).map_err(|e| Error::Io {
            path: self.shown.clone(),
            reason: e.to_string(),
        })?;
        let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.metadata.clone());
        // Projection by root column: nested columns are refused at open.
        let mask = ProjectionMask::roots(builder.parquet_schema(), self.indices.iter().copied());
        let builder = builder
            .with_projection(mask)
            .with_row_groups(groups)
            .with_offset(offset)
            .with_batch_size(batch_rows);
        Batches::build(builder, &self.shown)
    }

    /// Calls `each(row index, line, record)` for the rows from row `first`
    /// on, in order, until `each` returns `false`.
    pub(crate) fn visit(
        &self,
        first: usize,
        mut each: impl FnMut(usize, usize, &dyn Record) -> Result<bool>,
    ) -> Result<()> {
        self.visit_batches_from(first, |start, batch| {
            for k in 0..batch.rows() {
                let row = start + k;
                if !each(row, row + 1, &batch.row(k))? {
                    return Ok(false);
                }
            }
            Ok(true)
        })
    }

    /// Calls `each(its first row, batch)` for the decoded batches from row
    /// `first` on, in order, until it returns `false`.
    pub(crate) fn visit_batches_from(
        &self,
        first: usize,
        mut each: impl FnMut(usize, &TypedBatch<'_>) -> Result<bool>,
    ) -> Result<()> {
        // The row groups from the one that holds row `first`.
        let from = self
            .group_starts
            .partition_point(|&s| s <= first)
            .saturating_sub(1);
        let groups: Vec<usize> = (from..self.group_starts.len() - 1).collect();
        if groups.is_empty() || first >= self.rows() {
            return Ok(());
        }
        let mut row = first;
        for batch in self.reader(groups, first - self.group_starts[from], BLOCK_BATCH_ROWS)? {
            let batch = batch?;
            if !each(row, &TypedBatch::of(&batch))? {
                return Ok(());
            }
            row += batch.num_rows();
        }
        Ok(())
    }

    /// Calls `each(first row, batch)` for the decoded batches of every row
    /// group, in order. The batches are decoded on a thread of their own,
    /// one batch ahead, so that decoding and `each` take a core each.
    pub(crate) fn visit_batches(
        &self,
        mut each: impl FnMut(usize, &TypedBatch<'_>) -> Result<()>,
    ) -> Result<()> {
        let groups: Vec<usize> = (0..self.group_starts.len() - 1).collect();
        if groups.is_empty() {
            return Ok(());
        }
        std::thread::scope(|scope| {
            let (send, receive) = std::sync::mpsc::sync_channel::<Result<RecordBatch>>(1);
            let reader = scope.spawn(move || {
                let batches = match self.reader(groups, 0, BATCH_ROWS) {
                    Ok(reader) => reader,
                    Err(e) => {
                        let _ = send.send(Err(e));
                        return;
                    }
                };
                for batch in batches {
                    // A receiver that hung up has met an error of its own.
                    if send.send(batch).is_err() {
                        return;
                    }
                }
            });
            let mut row = 0;
            let mut visited = Ok(());
            for batch in receive.iter() {
                visited = batch.and_then(|batch| {
                    each(row, &TypedBatch::of(&batch))?;
                    row += batch.num_rows();
                    Ok(())
                });
                if visited.is_err() {
                    break;
                }
            }
            drop(receive);
            reader.join().map_err(|_| Error::Io {
                path: self.shown.clone(),
                reason: "the thread that decodes the file panicked".into(),
            })?;
            visited
        })
    }

    /// Calls `each(first row, batch)` for the decoded batches of row group
    /// `group`, in order.
    pub(crate) fn visit_group(
        &self,
        group: usize,
        mut each: impl FnMut(usize, &TypedBatch<'_>) -> Result<()>,
    ) -> Result<()> {
        let mut row = self.group_starts[group];
        for batch in self.reader(vec![group], 0, BATCH_ROWS)? {
            let batch = batch?;
            each(row, &TypedBatch::of(&batch))?;
            row += batch.num_rows();
        }
        if row != self.group_starts[group + 1] {
            return Err(Error::Data(DataError::TruncatedFile {
                path: self.shown.clone(),
                reason: format!(
                    "row group {group} holds {} rows by the footer and {} were read",
                    self.group_starts[group + 1] - self.group_starts[group],
                    row - self.group_starts[group]
                ),
            }));
        }
        Ok(())
    }

    /// The rows of the file, by its footer.
    pub(crate) fn rows(&self) -> usize {
        self.group_starts.last().copied().unwrap_or(0)
    }
}

/// Rows per decoded batch of a pass over whole row groups: large enough
/// that the per-batch costs vanish, small enough that a batch's columns
/// stay in cache while they are written into the rows.
const BATCH_ROWS: usize = 8192;

/// Rows per decoded batch from a given row on (a streamed block): arrow's
/// default, as before, since a block of a few rows would otherwise decode
/// [`BATCH_ROWS`] rows to use a few.
const BLOCK_BATCH_ROWS: usize = 1024;

/// A decoded batch's columns (the header's), each resolved once to its
/// type.
pub(crate) struct TypedBatch<'a> {
    columns: Vec<Typed<'a>>,
    rows: usize,
}

impl<'a> TypedBatch<'a> {
    /// The columns of `batch`, of the types [`supported`] admits.
    pub(crate) fn of(batch: &'a RecordBatch) -> Self {
        TypedBatch {
            columns: batch.columns().iter().map(|c| Typed::of(c.as_ref())).collect(),
            rows: batch.num_rows(),
        }
    }

    /// The batch's rows.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Row `row` as a record.
    pub(crate) fn row(&self, row: usize) -> BatchRow<'_, 'a> {
        BatchRow { columns: self, row }
    }

    /// Whether every cell of column `column` is a number as the table
    /// reader reads one (see [`TypedBatch::each_number`]).
    pub(crate) fn plain_numbers(&self, column: usize) -> bool {
        fn no_nulls<T: ArrowPrimitiveType>(values: &PrimitiveArray<T>) -> bool {
            values.null_count() == 0
        }
        match self.columns.get(column) {
            Some(Typed::Float32(values)) => {
                no_nulls(*values) && values.values().iter().all(|v| v.is_finite())
            }
            Some(Typed::Float64(values)) => {
                no_nulls(*values) && values.values().iter().all(|v| v.is_finite())
            }
            Some(Typed::Int8(values)) => no_nulls(*values),
            Some(Typed::Int16(values)) => no_nulls(*values),
            Some(Typed::Int32(values)) => no_nulls(*values),
            Some(Typed::Int64(values)) => no_nulls(*values),
            Some(Typed::UInt8(values)) => no_nulls(*values),
            Some(Typed::UInt16(values)) => no_nulls(*values),
            Some(Typed::UInt32(values)) => no_nulls(*values),
            Some(Typed::UInt64(values)) => no_nulls(*values),
            _ => false,
        }
    }

    /// Calls `each` with the cell of each row of column `column`, in
    /// order, where [`TypedBatch::plain_numbers`] holds: a
    /// [`Cell::Number`] or [`Cell::Integer`] each, read column by column
    /// rather than row by row.
    pub(crate) fn each_number(&self, column: usize, mut each: impl FnMut(Cell<'static>)) {
        fn integers<T: ArrowPrimitiveType>(values: &PrimitiveArray<T>, each: &mut impl FnMut(Cell<'static>))
        where
            T::Native: Into<i128>,
        {
            values
                .values()
                .iter()
                .for_each(|&v| each(Cell::Integer(v.into())));
        }
        match self.columns.get(column) {
            Some(Typed::Float32(values)) => {
                values
                    .values()
                    .iter()
                    .for_each(|&v| each(Cell::Number(f64::from(v))));
            }
            Some(Typed::Float64(values)) => values.values().iter().for_each(|&v| each(Cell::Number(v))),
            Some(Typed::Int8(values)) => integers(values, &mut each),
            Some(Typed::Int16(values)) => integers(values, &mut each),
            Some(Typed::Int32(values)) => integers(values, &mut each),
            Some(Typed::Int64(values)) => integers(values, &mut each),
            Some(Typed::UInt8(values)) => integers(values, &mut each),
            Some(Typed::UInt16(values)) => integers(values, &mut each),
            Some(Typed::UInt32(values)) => integers(values, &mut each),
            Some(Typed::UInt64(values)) => integers(values, &mut each),
            _ => {}
        }
    }

    /// Writes column `column`'s values into every `stride`-th value of
    /// `out` from its start, as the table reader reads a number cell (the
    /// float64 it stands for, rounded to float32), where every value of
    /// the column is a number: no null, no float that is not finite, no
    /// text or boolean. Returns whether it was; where it was not, some
    /// values may have been written, and the cells are to be read one by
    /// one.
    pub(crate) fn write_numbers(&self, column: usize, out: &mut [f32], stride: usize) -> bool {
        fn floats<T: ArrowPrimitiveType>(
            values: &PrimitiveArray<T>,
            out: &mut [f32],
            stride: usize,
            to_f64: impl Fn(T::Native) -> f64,
        ) -> bool {
            if values.null_count() > 0 {
                return false;
            }
            let mut finite = true;
            for (slot, &value) in out.iter_mut().step_by(stride).zip(values.values().iter()) {
                let value = to_f64(value);
                finite &= value.is_finite();
                *slot = value as f32;
            }
            finite
        }
        fn integers<T: ArrowPrimitiveType>(values: &PrimitiveArray<T>, out: &mut [f32], stride: usize) -> bool
        where
            T::Native: Into<i128>,
        {
            if values.null_count() > 0 {
                return false;
            }
            for (slot, &value) in out.iter_mut().step_by(stride).zip(values.values().iter()) {
                // Through the float64 the integer rounds to, as its digits
                // parse: rounding straight to float32 could differ.
                let value: i128 = value.into();
                *slot = value as f64 as f32;
            }
            true
        }
        match self.columns.get(column) {
            Some(Typed::Float32(values)) => floats(values, out, stride, f64::from),
            Some(Typed::Float64(values)) => floats(values, out, stride, |v| v),
            Some(Typed::Int8(values)) => integers(values, out, stride),
            Some(Typed::Int16(values)) => integers(values, out, stride),
            Some(Typed::Int32(values)) => integers(values, out, stride),
            Some(Typed::Int64(values)) => integers(values, out, stride),
            Some(Typed::UInt8(values)) => integers(values, out, stride),
            Some(Typed::UInt16(values)) => integers(values, out, stride),
            Some(Typed::UInt32(values)) => integers(values, out, stride),
            Some(Typed::UInt64(values)) => integers(values, out, stride),
            _ => false,
        }
    }
}

/// One row of a [`TypedBatch`] as a record.
pub(crate) struct BatchRow<'b, 'a> {
    columns: &'b TypedBatch<'a>,
    row: usize,
}

impl Record for BatchRow<'_, '_> {
    fn cell(&self, column: usize) -> Cell<'_> {
        self.columns
            .columns
            .get(column)
            .map_or(Cell::Missing, |typed| typed.cell(self.row))
    }
}

/// An Arrow array of a supported type, resolved to its type once so that
/// each cell is one branch away.
enum Typed<'a> {
    Null,
    Bool(&'a BooleanArray),
    Int8(&'a PrimitiveArray<Int8Type>),
    Int16(&'a PrimitiveArray<Int16Type>),
    Int32(&'a PrimitiveArray<Int32Type>),
    Int64(&'a PrimitiveArray<Int64Type>),
    UInt8(&'a PrimitiveArray<UInt8Type>),
    UInt16(&'a PrimitiveArray<UInt16Type>),
    UInt32(&'a PrimitiveArray<UInt32Type>),
    UInt64(&'a PrimitiveArray<UInt64Type>),
    Float32(&'a PrimitiveArray<Float32Type>),
    Float64(&'a PrimitiveArray<Float64Type>),
    Utf8(&'a arrow_array::StringArray),
    LargeUtf8(&'a arrow_array::LargeStringArray),
    Utf8View(&'a arrow_array::StringViewArray),
    /// A dictionary: each row's key into the values; the array itself for
    /// its nulls.
    Dictionary {
        array: &'a dyn Array,
        keys: Vec<usize>,
        values: Box<Typed<'a>>,
    },
}

impl<'a> Typed<'a> {
    fn of(array: &'a dyn Array) -> Self {
        match array.data_type() {
            DataType::Boolean => Typed::Bool(array.as_boolean()),
            DataType::Int8 => Typed::Int8(array.as_primitive()),
            DataType::Int16 => Typed::Int16(array.as_primitive()),
            DataType::Int32 => Typed::Int32(array.as_primitive()),
            DataType::Int64 => Typed::Int64(array.as_primitive()),
            DataType::UInt8 => Typed::UInt8(array.as_primitive()),
            DataType::UInt16 => Typed::UInt16(array.as_primitive()),
            DataType::UInt32 => Typed::UInt32(array.as_primitive()),
            DataType::UInt64 => Typed::UInt64(array.as_primitive()),
            DataType::Float32 => Typed::Float32(array.as_primitive()),
            DataType::Float64 => Typed::Float64(array.as_primitive()),
            DataType::Utf8 => Typed::Utf8(array.as_string()),
            DataType::LargeUtf8 => Typed::LargeUtf8(array.as_string()),
            DataType::Utf8View => Typed::Utf8View(array.as_string_view()),
            DataType::Dictionary(_, _) => {
                let dictionary = array.as_any_dictionary();
                Typed::Dictionary {
                    array,
                    keys: dictionary.normalized_keys(),
                    values: Box::new(Typed::of(dictionary.values().as_ref())),
                }
            }
            // Null, and (refused before reading) any other type: cells
            // with no value.
            _ => Typed::Null,
        }
    }

    /// The cell of row `i`.
    fn cell(&self, i: usize) -> Cell<'a> {
        fn integer<T: ArrowPrimitiveType>(values: &PrimitiveArray<T>, i: usize) -> Cell<'static>
        where
            T::Native: Into<i128>,
        {
            match values.is_null(i) {
                true => Cell::Missing,
                false => Cell::Integer(values.value(i).into()),
            }
        }
        match self {
            Typed::Null => Cell::Missing,
            Typed::Bool(values) => match values.is_null(i) {
                true => Cell::Missing,
                false => Cell::Bool(values.value(i)),
            },
            Typed::Int8(values) => integer(values, i),
            Typed::Int16(values) => integer(values, i),
            Typed::Int32(values) => integer(values, i),
            Typed::Int64(values) => integer(values, i),
            Typed::UInt8(values) => integer(values, i),
            Typed::UInt16(values) => integer(values, i),
            Typed::UInt32(values) => integer(values, i),
            Typed::UInt64(values) => integer(values, i),
            Typed::Float32(values) => match values.is_null(i) {
                true => Cell::Missing,
                // The float64 that equals the float32 exactly.
                false => Cell::float(f64::from(values.value(i))),
            },
            Typed::Float64(values) => match values.is_null(i) {
                true => Cell::Missing,
                false => Cell::float(values.value(i)),
            },
            Typed::Utf8(values) => match values.is_null(i) {
                true => Cell::Missing,
                false => Cell::Text(values.value(i)),
            },
            Typed::LargeUtf8(values) => match values.is_null(i) {
                true => Cell::Missing,
                false => Cell::Text(values.value(i)),
            },
            Typed::Utf8View(values) => match values.is_null(i) {
                true => Cell::Missing,
                false => Cell::Text(values.value(i)),
            },
            Typed::Dictionary { array, keys, values } => match array.is_null(i) {
                true => Cell::Missing,
                false => values.cell(keys[i]),
            },
        }
    }
}

/// How files are opened: with their page index where they have one, so
/// that reading from a row inside a row group skips the pages before it.
pub(crate) fn reader_options() -> ArrowReaderOptions {
    ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional)
}

/// The reader's error for the file `path`: [`crate::DataError::TruncatedFile`] where
/// it says the file ends early, else [`crate::DataError::MalformedFile`].
pub(crate) fn reader_error(path: &str, e: &dyn std::fmt::Display) -> Error {
    let reason = e.to_string();
    // The reader's words for a file that ends early.
    if reason.contains("EOF") || reason.contains("too small") || reason.contains("Insufficient") {
        Error::Data(DataError::TruncatedFile {
            path: path.to_string(),
            reason,
        })
    } else {
        Error::Data(DataError::MalformedFile {
            path: path.to_string(),
            reason,
        })
    }
}

/// The batches of a Parquet reader, its errors naming the file. A panic
/// of the decoder (arrow-rs panics on some corrupt pages: a page encoded
/// with a dictionary that the column chunk lacks) ends the batches with
/// [`crate::DataError::MalformedFile`] saying so, rather than ending the process.
pub(crate) struct Batches {
    /// `None` once the decoder has panicked: its state is then unknown.
    reader: Option<ParquetRecordBatchReader>,
    path: String,
}

impl Batches {
    /// The reader `builder` builds, its errors (and panics: building reads
    /// the column chunks' byte ranges, which arrow-rs asserts are not
    /// negative) naming the file `path`.
    pub(crate) fn build(builder: ParquetRecordBatchReaderBuilder<File>, path: &str) -> Result<Self> {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| builder.build())) {
            Ok(built) => Ok(Batches {
                reader: Some(built.map_err(|e| reader_error(path, &e))?),
                path: path.to_string(),
            }),
            Err(panic) => Err(decoder_panicked(path, &*panic)),
        }
    }
}

/// A panic of the Parquet decoder on the file `path`, as the error it
/// should have been.
fn decoder_panicked(path: &str, panic: &(dyn std::any::Any + Send)) -> Error {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("no message");
    Error::Data(DataError::MalformedFile {
        path: path.to_string(),
        reason: format!("the Parquet decoder failed on this file ({message})"),
    })
}

impl Iterator for Batches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Result<RecordBatch>> {
        let reader = self.reader.as_mut()?;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reader.next())) {
            Ok(batch) => batch.map(|batch| batch.map_err(|e| reader_error(&self.path, &e))),
            Err(panic) => {
                self.reader = None;
                Some(Err(decoder_panicked(&self.path, &*panic)))
            }
        }
    }
}

/// The index of the column `name` (spaces around it ignored) among a
/// file's column `names`, or [`crate::DataError::MissingColumn`] listing them.
pub(crate) fn column_index(names: &[String], name: &str) -> Result<usize> {
    names.iter().position(|n| n == name.trim()).ok_or_else(|| {
        Error::Data(DataError::MissingColumn {
            name: name.to_string(),
            available: names.join(", "),
        })
    })
}

/// Opens a Parquet file and reads its footer (schema, row groups).
pub(crate) fn open_footer(path: &Path) -> Result<(File, ArrowReaderMetadata)> {
    let file = open_checked(path)?;
    let metadata = ArrowReaderMetadata::load(&file, reader_options())
        .map_err(|e| reader_error(&path.display().to_string(), &e))?;
    Ok((file, metadata))
}

/// Opens a Parquet file, refusing one that lacks its footer.
pub(crate) fn open_checked(path: &Path) -> Result<File> {
    let shown = path.display().to_string();
    // Row groups are read through fresh opens of the path, and the footer
    // lies at the end: a stream cannot be read so.
    crate::data::input_file::regular_file_size(path)?;
    let file = File::open(path).map_err(|e| Error::Io {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    if let Some(reason) = cut_short(&file) {
        return Err(Error::Data(DataError::TruncatedFile { path: shown, reason }));
    }
    Ok(file)
}

/// Why a file that starts as Parquet lacks the end every Parquet file
/// has (its footer, closed by the magic `PAR1`), where it does.
fn cut_short(mut file: &File) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    const MAGIC: &[u8; 4] = b"PAR1";
    let length = file.metadata().ok()?.len();
    let mut start = [0u8; 4];
    file.read_exact(&mut start).ok()?;
    if &start != MAGIC {
        return None;
    }
    let mut end = [0u8; 4];
    let closed = length >= 12
        && file.seek(SeekFrom::End(-4)).is_ok()
        && file.read_exact(&mut end).is_ok()
        && &end == MAGIC;
    match closed {
        true => None,
        false => Some(format!(
            "{length} bytes, without the footer that closes a Parquet file"
        )),
    }
}

/// Whether a column of this type is read.
fn supported(data_type: &DataType) -> bool {
    match data_type {
        DataType::Null | DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, values) => supported(values),
        other => numeric(other),
    }
}

/// Whether a column of this type holds numbers (booleans as 0 and 1).
pub(crate) fn numeric(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Boolean
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Float32
            | DataType::Float64
    )
}

/// Writes the rows of `source` as a Parquet file of float32 columns named
/// `names` (the features, then the target), snappy compressed, one row
/// group per `block_rows` rows read from the source.
pub(crate) fn write_source(
    source: &dyn DataSource,
    names: &[String],
    path: &Path,
    block_rows: usize,
) -> Result<()> {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float32Array, RecordBatch};
    use arrow_schema::{Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::basic::Compression;
    use parquet::file::properties::WriterProperties;

    let shown = path.display().to_string();
    let failed = |e: &dyn std::fmt::Display| Error::Write {
        path: shown.clone(),
        reason: e.to_string(),
    };
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|name| Field::new(name, DataType::Float32, false))
            .collect::<Vec<_>>(),
    ));
    let mut output = crate::atomic_file::AtomicFile::create(path)?;
    let file = output.file();
    let block_rows = block_rows.max(1);
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(block_rows))
        .build();
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(properties)).map_err(|e| failed(&e))?;
    let (n, d) = (source.rows(), source.features());
    for start in (0..n).step_by(block_rows) {
        let block = source.block(start, block_rows.min(n - start))?;
        let rows = block.rows();
        let mut arrays: Vec<ArrayRef> = (0..d)
            .map(|j| {
                let column: Float32Array = (0..rows).map(|k| block.x[k * d + j]).collect::<Vec<f32>>().into();
                Arc::new(column) as ArrayRef
            })
            .collect();
        arrays.push(Arc::new(Float32Array::from(block.y.to_vec())));
        let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| failed(&e))?;
        writer.write(&batch).map_err(|e| failed(&e))?;
    }
    writer.close().map_err(|e| failed(&e))?;
    output.commit()
}
