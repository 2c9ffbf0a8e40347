//! Parquet files as the rows of a table: the chosen columns (a projection,
//! so that others are never decoded), read row group by row group through
//! arrow-rs, each cell turned into the text a CSV file would hold, so that
//! the table reader treats them exactly as it treats a CSV file's: numbers
//! (integers and floats, float32 values written exactly), text and
//! dictionary-encoded text (categories), booleans (`true`/`false`), and
//! nulls (missing). A row's "line" in messages is its position in the
//! file, counted from 1.

use std::fs::File;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type,
    UInt8Type,
};
use arrow_array::{Array, ArrowPrimitiveType};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::PageIndexPolicy;

use crate::error::{Error, Result};
use crate::source::DataSource;

/// Calls `each(row index, line, record)` for the rows of the columns
/// `wanted` (every column when `None`) of a Parquet file, from row `first`
/// on (decoding only the row groups from the one that holds it), until
/// `each` returns `false`; returns the header.
pub(crate) fn visit_records(
    path: &Path,
    wanted: Option<&[&str]>,
    first: usize,
    mut each: impl FnMut(usize, usize, &csv::StringRecord) -> Result<bool>,
) -> Result<Vec<String>> {
    let shown = path.display().to_string();
    let malformed = |e: &dyn std::fmt::Display| reader_error(&shown, e);
    let file = open_checked(path)?;
    let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(file, reader_options())
        .map_err(|e| malformed(&e))?;
    let schema = builder.schema().clone();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let indices: Vec<usize> = match wanted {
        None => (0..names.len()).collect(),
        Some(wanted) => {
            let mut indices = Vec::new();
            for name in wanted {
                let index =
                    names
                        .iter()
                        .position(|n| n == name.trim())
                        .ok_or_else(|| Error::MissingColumn {
                            name: name.to_string(),
                            available: names.join(", "),
                        })?;
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
            return Err(Error::UnsupportedColumnType {
                path: shown,
                column: field.name().clone(),
                data_type: field.data_type().to_string(),
            });
        }
    }
    let header: Vec<String> = indices.iter().map(|&i| names[i].clone()).collect();
    // Projection by root column: nested columns are refused above.
    let mask = ProjectionMask::roots(builder.parquet_schema(), indices.iter().copied());
    // The row groups from the one that holds row `first`.
    let mut group_start = 0;
    let mut groups = Vec::new();
    for (g, group) in builder.metadata().row_groups().iter().enumerate() {
        let rows = group.num_rows() as usize;
        if !groups.is_empty() || group_start + rows > first {
            groups.push(g);
        } else {
            group_start += rows;
        }
    }
    if groups.is_empty() {
        return Ok(header);
    }
    let reader = builder
        .with_projection(mask)
        .with_row_groups(groups)
        .with_offset(first - group_start)
        .build()
        .map_err(|e| malformed(&e))?;
    let mut row = first;
    let mut record = csv::StringRecord::new();
    for batch in reader {
        let batch = batch.map_err(|e| malformed(&e))?;
        let columns: Vec<Vec<String>> = batch
            .columns()
            .iter()
            .map(|column| cells(column.as_ref()))
            .collect();
        for k in 0..batch.num_rows() {
            record.clear();
            for column in &columns {
                record.push_field(&column[k]);
            }
            if !each(row, row + 1, &record)? {
                return Ok(header);
            }
            row += 1;
        }
    }
    Ok(header)
}

/// How files are opened: with their page index where they have one, so
/// that reading from a row inside a row group skips the pages before it.
pub(crate) fn reader_options() -> ArrowReaderOptions {
    ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional)
}

/// The reader's error for the file `path`: [`Error::TruncatedFile`] where
/// it says the file ends early, else [`Error::MalformedFile`].
pub(crate) fn reader_error(path: &str, e: &dyn std::fmt::Display) -> Error {
    let reason = e.to_string();
    // The reader's words for a file that ends early.
    if reason.contains("EOF") || reason.contains("too small") || reason.contains("Insufficient") {
        Error::TruncatedFile {
            path: path.to_string(),
            reason,
        }
    } else {
        Error::MalformedFile {
            path: path.to_string(),
            reason,
        }
    }
}

/// Opens a Parquet file, refusing one that lacks its footer.
pub(crate) fn open_checked(path: &Path) -> Result<File> {
    let shown = path.display().to_string();
    let file = File::open(path).map_err(|e| Error::Io {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    if let Some(reason) = cut_short(&file) {
        return Err(Error::TruncatedFile { path: shown, reason });
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

/// Each cell of a column of a supported type as CSV text ("" for a null).
fn cells(array: &dyn Array) -> Vec<String> {
    fn numbers<T: ArrowPrimitiveType>(array: &dyn Array, text: impl Fn(T::Native) -> String) -> Vec<String> {
        let values = array.as_primitive::<T>();
        (0..values.len())
            .map(|i| match values.is_null(i) {
                true => String::new(),
                false => text(values.value(i)),
            })
            .collect()
    }
    fn integers<T: ArrowPrimitiveType>(array: &dyn Array) -> Vec<String>
    where
        T::Native: ToString,
    {
        numbers::<T>(array, |v| v.to_string())
    }
    match array.data_type() {
        DataType::Null => vec![String::new(); array.len()],
        DataType::Boolean => {
            let values = array.as_boolean();
            (0..values.len())
                .map(|i| match values.is_null(i) {
                    true => String::new(),
                    false => values.value(i).to_string(),
                })
                .collect()
        }
        DataType::Int8 => integers::<Int8Type>(array),
        DataType::Int16 => integers::<Int16Type>(array),
        DataType::Int32 => integers::<Int32Type>(array),
        DataType::Int64 => integers::<Int64Type>(array),
        DataType::UInt8 => integers::<UInt8Type>(array),
        DataType::UInt16 => integers::<UInt16Type>(array),
        DataType::UInt32 => integers::<UInt32Type>(array),
        DataType::UInt64 => integers::<UInt64Type>(array),
        // The float64 that equals the float32 exactly, written so that it
        // reads back exactly: the table's float64 parse then rounds to the
        // same float32.
        DataType::Float32 => numbers::<Float32Type>(array, |v| f64::from(v).to_string()),
        DataType::Float64 => numbers::<Float64Type>(array, |v| v.to_string()),
        DataType::Utf8 => text(array.as_string::<i32>()),
        DataType::LargeUtf8 => text(array.as_string::<i64>()),
        DataType::Utf8View => {
            let values = array.as_string_view();
            (0..values.len())
                .map(|i| match values.is_null(i) {
                    true => String::new(),
                    false => values.value(i).to_string(),
                })
                .collect()
        }
        DataType::Dictionary(_, _) => {
            let dictionary = array.as_any_dictionary();
            let values = cells(dictionary.values().as_ref());
            let keys = dictionary.normalized_keys();
            (0..array.len())
                .map(|i| match array.is_null(i) {
                    true => String::new(),
                    false => values[keys[i]].clone(),
                })
                .collect()
        }
        other => unreachable!("{other} is refused before reading"),
    }
}

fn text<O: arrow_array::OffsetSizeTrait>(values: &arrow_array::GenericStringArray<O>) -> Vec<String> {
    (0..values.len())
        .map(|i| match values.is_null(i) {
            true => String::new(),
            false => values.value(i).to_string(),
        })
        .collect()
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
    let failed = |e: &dyn std::fmt::Display| Error::Io {
        path: shown.clone(),
        reason: e.to_string(),
    };
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|name| Field::new(name, DataType::Float32, false))
            .collect::<Vec<_>>(),
    ));
    let file = File::create(path).map_err(|e| failed(&e))?;
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
    Ok(())
}
