//! A Parquet file of numbers as a [`DataSource`], read block by block:
//! what lets a file larger than memory stream through the engines. Each
//! block decodes only the chosen columns (a projection) of only the row
//! groups that hold its rows, straight into float32, without the text
//! cells of the table reader. Columns must hold numbers (integers, floats)
//! or booleans, with no empty cells: a table with text columns or missing
//! values is cleaned once by `downhill convert` (or [`crate::data::table::Table::write`])
//! into such a file.
//!
//! ```no_run
//! use downhill::data::parquet_source::ParquetData;
//! use downhill::GradientDescent;
//! let file = ParquetData::open("big.parquet", "price", None)?;
//! let fitted = GradientDescent::linear().standardize(true).fit_source(&file)?;
//! # Ok::<(), downhill::Error>(())
//! ```

use crate::data::error::DataError;
use std::fs::File;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type,
    UInt8Type,
};
use arrow_array::{Array, ArrowPrimitiveType};
use arrow_schema::DataType;
use num_traits::AsPrimitive;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;

use crate::data::parquet_table::{column_index, numeric, open_footer, Batches};
use crate::data::source::{read_block, Block, DataSource};
use crate::error::{Error, Result};

/// A Parquet file's chosen numeric columns: features and a target.
pub struct ParquetData {
    path: String,
    file: File,
    metadata: ArrowReaderMetadata,
    /// The projected root columns, in file order.
    projected: Vec<usize>,
    /// For each feature, its position among the projected columns.
    feature_positions: Vec<usize>,
    /// The target's position among the projected columns.
    target_position: usize,
    feature_names: Vec<String>,
    target_name: String,
    /// The first row of each row group, and the rows in all of them last.
    group_starts: Vec<usize>,
}

impl std::fmt::Debug for ParquetData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetData")
            .field("path", &self.path)
            .field("rows", &self.rows())
            .field("features", &self.feature_names)
            .field("target", &self.target_name)
            .finish_non_exhaustive()
    }
}

impl ParquetData {
    /// Opens `path` with `target` as the target column and `features` as
    /// the features (default: every other column). Reads the footer only,
    /// and the columns whose statistics count empty cells, to name the
    /// first. Text, categories and other types are
    /// [`crate::DataError::TextInStreamedColumn`] or [`crate::DataError::UnsupportedColumnType`];
    /// an empty cell is [`crate::DataError::NullInStreamedColumn`].
    pub fn open(path: impl AsRef<Path>, target: &str, features: Option<&[&str]>) -> Result<Self> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let (file, metadata) = open_footer(path)?;
        let schema = metadata.schema().clone();
        let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let find = |name: &str| column_index(&names, name);
        let target_column = find(target)?;
        let feature_columns: Vec<usize> = match features {
            Some(chosen) => {
                let mut columns = Vec::new();
                for name in chosen {
                    let c = find(name)?;
                    if c == target_column {
                        return Err(Error::Data(DataError::TargetAsFeature {
                            column: names[c].clone(),
                        }));
                    }
                    if columns.contains(&c) {
                        return Err(Error::Data(DataError::RepeatedFeature {
                            column: names[c].clone(),
                        }));
                    }
                    columns.push(c);
                }
                columns
            }
            None => (0..names.len()).filter(|&c| c != target_column).collect(),
        };
        let mut projected: Vec<usize> = feature_columns.iter().copied().chain([target_column]).collect();
        projected.sort_unstable();
        for &c in &projected {
            let field = schema.field(c);
            let data_type = field.data_type();
            if numeric(data_type) {
                continue;
            }
            let text = match data_type {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
                DataType::Dictionary(_, values) => {
                    matches!(
                        **values,
                        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                    )
                }
                _ => false,
            };
            return Err(match text {
                true => Error::Data(DataError::TextInStreamedColumn {
                    path: shown,
                    column: field.name().clone(),
                    data_type: data_type.to_string(),
                }),
                false => Error::Data(DataError::UnsupportedColumnType {
                    path: shown,
                    column: field.name().clone(),
                    data_type: data_type.to_string(),
                }),
            });
        }
        let parquet = metadata.metadata();
        let mut group_starts = vec![0usize];
        for group in parquet.row_groups() {
            group_starts.push(group_starts.last().copied().unwrap_or(0) + group.num_rows() as usize);
        }
        let position = |c: usize| projected.iter().position(|&p| p == c).expect("projected");
        let data = ParquetData {
            path: shown.clone(),
            feature_positions: feature_columns.iter().map(|&c| position(c)).collect(),
            target_position: position(target_column),
            feature_names: feature_columns.iter().map(|&c| names[c].clone()).collect(),
            target_name: names[target_column].clone(),
            projected,
            group_starts,
            file,
            metadata,
        };
        if data.rows() == 0 {
            return Err(Error::Data(DataError::EmptyFile {
                path: shown,
                missing: "data rows",
            }));
        }
        data.refuse_empty_cells()?;
        Ok(data)
    }

    /// The features' names, in the order of the features.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// The target column's name.
    pub fn target_name(&self) -> &str {
        &self.target_name
    }

    /// The first empty cell of a chosen column, found through the row
    /// groups' statistics (null counts), then by decoding that column of
    /// that row group alone, batch by batch, up to its first null.
    fn refuse_empty_cells(&self) -> Result<()> {
        let parquet = self.metadata.metadata();
        let leaves = parquet.file_metadata().schema_descr();
        for (group_index, group) in parquet.row_groups().iter().enumerate() {
            for (leaf, chunk) in group.columns().iter().enumerate() {
                let root = leaves.get_column_root_idx(leaf);
                let nulls = chunk.statistics().and_then(|s| s.null_count_opt()).unwrap_or(0);
                if nulls == 0 || !self.projected.contains(&root) {
                    continue;
                }
                if let Some(row) = self.first_null(group_index, root)? {
                    return Err(Error::Data(DataError::NullInStreamedColumn {
                        path: self.path.clone(),
                        column: self.metadata.schema().field(root).name().clone(),
                        row: self.group_starts[group_index] + row + 1,
                    }));
                }
            }
        }
        Ok(())
    }

    /// The first null of root column `column` in row group `group`, counted
    /// from the group's first row.
    fn first_null(&self, group: usize, column: usize) -> Result<Option<usize>> {
        let reader = Batches::build(self.reader([column], vec![group])?, &self.path)?;
        let mut seen = 0;
        for batch in reader {
            let batch = batch?;
            let values = batch.column(0);
            if let Some(row) = (0..values.len()).find(|&i| values.is_null(i)) {
                return Ok(Some(seen + row));
            }
            seen += batch.num_rows();
        }
        Ok(None)
    }

    /// A reader of root columns `columns` of row groups `groups`, batches
    /// of [`BATCH_ROWS`] rows, on this file's footer as it was read once.
    fn reader(
        &self,
        columns: impl IntoIterator<Item = usize>,
        groups: Vec<usize>,
    ) -> Result<ParquetRecordBatchReaderBuilder<File>> {
        let file = self.file.try_clone().map_err(|e| Error::Io {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.metadata.clone());
        let mask = ProjectionMask::roots(builder.parquet_schema(), columns);
        Ok(builder
            .with_projection(mask)
            .with_row_groups(groups)
            .with_batch_size(BATCH_ROWS))
    }

    /// Whether a chosen column holds booleans, which the table reader
    /// reads as the text `true`/`false` (two one-hot features) where this
    /// source reads 1 and 0.
    pub fn has_booleans(&self) -> bool {
        let schema = self.metadata.schema();
        self.projected
            .iter()
            .any(|&c| matches!(schema.field(c).data_type(), DataType::Boolean))
    }
}

impl ParquetData {
    /// The rows of each row group, in order: the units a data-parallel fit
    /// hands out to its ranks ([`crate::distributed::shard_of_groups`]).
    pub fn row_groups(&self) -> Vec<usize> {
        self.group_starts.windows(2).map(|w| w[1] - w[0]).collect()
    }
}

/// The rows and columns of the Parquet file `path`, from its footer alone.
pub fn parquet_shape(path: impl AsRef<Path>) -> Result<(usize, usize)> {
    let (_, metadata) = open_footer(path.as_ref())?;
    Ok((
        metadata.metadata().file_metadata().num_rows() as usize,
        metadata.schema().fields().len(),
    ))
}

/// Writes the values of `array` (a numeric or boolean column) into every
/// `stride`-th value of `out` from its start; an empty cell's index is the
/// error.
fn put_column(array: &dyn Array, out: &mut [f32], stride: usize) -> std::result::Result<(), usize> {
    fn put<T: ArrowPrimitiveType>(
        array: &dyn Array,
        out: &mut [f32],
        stride: usize,
    ) -> std::result::Result<(), usize>
    where
        T::Native: AsPrimitive<f32>,
    {
        let values = array.as_primitive::<T>();
        if let Some(first) = (0..values.len()).find(|&i| values.is_null(i)) {
            return Err(first);
        }
        for (slot, value) in out.iter_mut().step_by(stride).zip(values.values().iter()) {
            *slot = value.as_();
        }
        Ok(())
    }
    match array.data_type() {
        DataType::Boolean => {
            let values = array.as_boolean();
            if let Some(first) = (0..values.len()).find(|&i| values.is_null(i)) {
                return Err(first);
            }
            for (i, slot) in out.iter_mut().step_by(stride).take(values.len()).enumerate() {
                *slot = if values.value(i) { 1.0 } else { 0.0 };
            }
            Ok(())
        }
        DataType::Int8 => put::<Int8Type>(array, out, stride),
        DataType::Int16 => put::<Int16Type>(array, out, stride),
        DataType::Int32 => put::<Int32Type>(array, out, stride),
        DataType::Int64 => put::<Int64Type>(array, out, stride),
        DataType::UInt8 => put::<UInt8Type>(array, out, stride),
        DataType::UInt16 => put::<UInt16Type>(array, out, stride),
        DataType::UInt32 => put::<UInt32Type>(array, out, stride),
        DataType::UInt64 => put::<UInt64Type>(array, out, stride),
        DataType::Float32 => put::<Float32Type>(array, out, stride),
        DataType::Float64 => put::<Float64Type>(array, out, stride),
        other => unreachable!("{other} is refused when the file is opened"),
    }
}

impl DataSource for ParquetData {
    fn rows(&self) -> usize {
        self.group_starts.last().copied().unwrap_or(0)
    }

    fn features(&self) -> usize {
        self.feature_positions.len()
    }

    fn block(&self, start: usize, rows: usize) -> Result<Block<'_>> {
        read_block(self, start, rows)
    }

    /// Decodes the row groups that hold rows `start..start + rows`,
    /// skipping the rows before `start` in the first of them, and writes
    /// each batch's columns into place in `x` (row-major) and `y`.
    fn read_into(&self, start: usize, rows: usize, x: &mut Vec<f32>, y: &mut Vec<f32>) -> Result<()> {
        let d = self.features();
        x.clear();
        x.resize(rows * d, 0.0);
        y.clear();
        y.resize(rows, 0.0);
        if rows == 0 {
            return Ok(());
        }
        let first = self.group_starts.partition_point(|&s| s <= start) - 1;
        let last = self.group_starts.partition_point(|&s| s < start + rows) - 1;
        let builder = self
            .reader(self.projected.iter().copied(), (first..=last).collect())?
            .with_offset(start - self.group_starts[first])
            .with_limit(rows);
        let reader = Batches::build(builder, &self.path)?;
        let mut done = 0;
        for batch in reader {
            let batch = batch?;
            let n = batch.num_rows().min(rows - done);
            let empty_cell = |position: usize, row: usize| {
                Error::Data(DataError::NullInStreamedColumn {
                    path: self.path.clone(),
                    column: self
                        .metadata
                        .schema()
                        .field(self.projected[position])
                        .name()
                        .clone(),
                    row: start + done + row + 1,
                })
            };
            for (j, &position) in self.feature_positions.iter().enumerate() {
                let column = batch.column(position).slice(0, n);
                put_column(column.as_ref(), &mut x[done * d + j..], d)
                    .map_err(|row| empty_cell(position, row))?;
            }
            let target = batch.column(self.target_position).slice(0, n);
            put_column(target.as_ref(), &mut y[done..], 1)
                .map_err(|row| empty_cell(self.target_position, row))?;
            done += n;
            if done == rows {
                break;
            }
        }
        if done < rows {
            return Err(Error::Data(DataError::TruncatedFile {
                path: self.path.clone(),
                reason: format!(
                    "rows {}..{} were asked for and {done} read",
                    start + 1,
                    start + rows
                ),
            }));
        }
        Ok(())
    }
}

/// Rows per decoded batch: large enough that the per-batch costs vanish,
/// small enough that a batch's columns stay in cache while they are
/// written into the rows.
const BATCH_ROWS: usize = 8192;
