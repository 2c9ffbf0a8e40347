//! A table file (CSV or Parquet) as a [`DataSource`], encoded block by
//! block: what lets a table larger than memory, with text columns, labels
//! and missing values, stream through the engines. Opening it reads the
//! file once ([`Survey`]: the category lists, the means, the labels, the
//! rows with missing cells, and for CSV the position of every 4096th
//! record); each block then reads the records that hold its rows and
//! encodes them exactly as [`read_table`] encodes the whole table.

use crate::data::error::DataError;
use std::borrow::Cow;
use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2};

use super::cell::Record;
#[cfg(doc)]
use super::read_table;
#[cfg(feature = "serde")]
use super::survey::SharedSurvey;
use super::survey::{Plan, Survey};
use super::{
    after_reading_through, header_with_records, visit_records, ApplyCounts, Dropped, EncodedColumn, Encoding,
    Format, Table, TableOptions,
};
use crate::data::csv_records::{index_csv_records, CsvIndex};
#[cfg(feature = "parquet")]
use crate::data::parquet_table::ParquetTable;
use crate::data::source::{check_weights, read_block, Block, DataSource};
use crate::data::sparse::CsrData;
use crate::error::{Error, Result};

/// A table file's rows, encoded as they are read.
#[derive(Debug)]
pub struct TableData {
    path: PathBuf,
    /// The columns read (Parquet reads no others).
    wanted: Option<Vec<String>>,
    /// Where CSV records start (empty for Parquet).
    csv_index: CsvIndex,
    /// A Parquet file as it was opened for the survey: its footer, read
    /// once, serves every later read. (Boxed: the footer's schema and
    /// metadata would double the size of a table's every holder.)
    #[cfg(feature = "parquet")]
    parquet: Option<Box<ParquetTable>>,
    plan: Plan,
    width: usize,
    /// Every row, encoded as sparse rows, where the table was read so
    /// ([`TableData::read_sparse`]): the rows it hands out.
    sparse_rows: Option<SparseTable>,
}

/// A table's rows read whole as sparse rows, and their weights.
#[derive(Debug)]
struct SparseTable {
    rows: CsrData,
    weights: Option<Vec<f32>>,
}

/// The fewest features a table read as sparse rows has: narrower tables
/// are read dense whatever their zeros.
pub const SPARSE_TABLE_WIDTH: usize = 1024;

impl TableData {
    /// Reads the table file `path` (CSV or Parquet, by its extension) once
    /// to learn its encoding as [`read_table`] would, with `target` as the
    /// target and `features` as the features (default: every other
    /// column). The same errors as [`read_table`], for the same tables.
    pub fn open(
        path: impl AsRef<Path>,
        target: &str,
        features: Option<&[&str]>,
        options: &TableOptions,
    ) -> Result<Self> {
        let surveyed = Surveyed::of(path.as_ref(), target, features, options)?;
        surveyed.decide(options)
    }

    /// [`TableData::open`] for one rank of a data-parallel fit whose ranks
    /// each read their own table file (the same columns, rows of their
    /// own): every rank surveys its file, the ranks add up what their
    /// surveys learnt of the columns and the target (counts, sums for the
    /// means, category and label lists, in rank order), and every rank
    /// decides the same encoding from the sum. A rank that cannot read its
    /// file fails every rank ([`Error::RankFailed`]); files with other
    /// columns are [`crate::DataError::ShardColumns`]. Every rank of `collective`
    /// calls it.
    #[cfg(feature = "serde")]
    pub fn open_shard(
        path: impl AsRef<Path>,
        target: &str,
        features: Option<&[&str]>,
        options: &TableOptions,
        collective: &dyn crate::distributed::Collective,
    ) -> Result<Self> {
        use crate::distributed::{agree, gather_bytes};
        let path = path.as_ref();
        // The cause names the file: each rank reads its own.
        let named = |e: Error| {
            let (text, file) = (e.to_string(), path.display().to_string());
            match text.contains(&file) {
                true => text,
                false => format!("{file}: {text}"),
            }
        };
        let surveyed = Surveyed::of(path, target, features, options).map_err(named);
        let mut surveyed = agree(collective, surveyed)?;
        let file = path.display().to_string();
        let shared = serde_json::to_vec(&surveyed.survey.shared(&file)).map_err(|e| Error::Distributed {
            reason: format!("a survey could not be written for the other ranks: {e}"),
        })?;
        let all = gather_bytes(collective, &shared)?
            .iter()
            .map(|bytes| serde_json::from_slice(bytes))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::Distributed {
                reason: format!("a rank's survey could not be read: {e}"),
            })?;
        let text_from = surveyed.survey.absorb(&all)?;
        // Every rank decides from the same sums, so fails alike, but for
        // what its own records hold (missing cells).
        let decided = match surveyed.decide(options) {
            Ok(table) => Ok(table),
            Err(Error::Data(DataError::NonNumericCell { line, column, value })) => {
                // The first text cell of a column of numbers: its rank's file.
                let rank = text_from.get(&column).copied().unwrap_or(0);
                let file = all.get(rank).map_or(&file, |s: &SharedSurvey| &s.file);
                let cell = Error::Data(DataError::NonNumericCell { line, column, value });
                return Err(Error::RankFailed {
                    rank,
                    cause: format!("{file}: {cell}"),
                });
            }
            Err(
                e @ (Error::Data(DataError::MissingValues { .. })
                | Error::Data(DataError::MissingTargets { .. })
                | Error::Data(DataError::EmptyFile { .. })),
            ) => Err(format!("{file}: {e}")),
            Err(e) => Err(e.to_string()),
        };
        agree(collective, decided)
    }

    /// This table read with `encoding` (a saved model's, whose means fill
    /// the missing cells), where the table's columns encode to the same
    /// features and labels; else [`Error::ResumeMismatch`] saying how
    /// they differ.
    pub fn with_encoding(mut self, encoding: Encoding) -> Result<Self> {
        let (now, saved) = (self.plan.encoding.feature_names(), encoding.feature_names());
        let same_columns = self.plan.encoding.column_names() == encoding.column_names()
            && self.plan.encoding.hashing == encoding.hashing;
        if now != saved || !same_columns || self.plan.encoding.labels != encoding.labels {
            let labels = |e: &Encoding| {
                e.labels
                    .as_ref()
                    .map_or(String::new(), |l| format!(", labels {}", l.classes.join(", ")))
            };
            let reason = format!(
                "the table encodes to the features {}{}; the model's are {}{}",
                now.join(", "),
                labels(&self.plan.encoding),
                saved.join(", "),
                labels(&encoding)
            );
            return Err(Error::ResumeMismatch { reason });
        }
        self.plan.encoding = encoding;
        // Rows already read as sparse rows are read again, encoded anew.
        match self.sparse_rows.take() {
            Some(_) => self.read_sparse(),
            None => Ok(self),
        }
    }

    /// How the columns are encoded (the category lists, the means, the
    /// labels), as [`read_table`] would have learnt it.
    pub fn encoding(&self) -> &Encoding {
        &self.plan.encoding
    }

    /// The features' names.
    pub fn feature_names(&self) -> Vec<String> {
        self.plan.encoding.feature_names()
    }

    /// The columns left out, with their reasons.
    pub fn dropped(&self) -> &[Dropped] {
        &self.plan.dropped
    }

    /// Records left out for missing cells.
    pub fn rows_dropped(&self) -> usize {
        self.plan.excluded.len()
    }

    /// Missing numeric cells of the rows kept, filled with means.
    pub fn cells_filled(&self) -> usize {
        self.plan.cells_filled
    }

    /// Missing text cells of the rows kept, encoded as none of their
    /// column's values (all zeros).
    pub fn text_cells_blank(&self) -> usize {
        self.plan.text_cells_blank
    }

    /// The bytes [`TableData::read_whole`] holds: the float32 matrix and
    /// targets, the weights where there are, and each row's line.
    pub fn whole_bytes(&self) -> u64 {
        let weights = u64::from(self.plan.weight_column.is_some());
        let line = std::mem::size_of::<usize>() as u64;
        self.plan.rows() as u64 * (4 * (self.width as u64 + 1 + weights) + line)
    }

    /// Whether the table is better read as sparse rows: one-hot columns
    /// make it at least [`SPARSE_TABLE_WIDTH`] features wide, and each row
    /// sets at most one feature in 8 (one per source column). Such a table
    /// takes no more memory than its source cells, whatever its one-hot
    /// columns' values.
    pub fn reads_sparse(&self) -> bool {
        self.plan.encoding.reads_sparse()
    }

    /// The most bytes the table's rows take as sparse rows: each row's
    /// entries (one per source column and interaction, 8 bytes each), its
    /// place in the arrays, its target and weight.
    pub fn sparse_bytes(&self) -> u64 {
        let encoding = &self.plan.encoding;
        let pairs = encoding.hashing.as_ref().map_or(0, |h| h.interactions.len());
        let entries = (encoding.columns.len() + pairs) as u64;
        self.plan.rows() as u64 * (8 * entries + 8 + 4 + 4)
    }

    /// Refuses a table whose rows as sparse rows would take more than
    /// `budget` bytes ([`crate::DataError::SparseRowsBeyondBudget`]).
    pub fn check_sparse_bytes(&self, budget: u64) -> Result<()> {
        let bytes = self.sparse_bytes();
        match bytes > budget {
            true => Err(Error::Data(DataError::SparseRowsBeyondBudget {
                rows: self.plan.rows(),
                width: self.width,
                bytes,
                budget,
            })),
            false => Ok(()),
        }
    }

    /// Every row kept, encoded as sparse rows held in memory (the features
    /// each row sets: its number columns' non-zero values, its one-hot
    /// columns' 1s), which the table then hands out as
    /// [`DataSource::sparse`]: the same rows, values and errors as
    /// [`TableData::read_whole`], in the bytes of the cells set.
    pub fn read_sparse(mut self) -> Result<Self> {
        let plan = &self.plan;
        let n = plan.rows();
        let index = plan.encoding.value_index();
        let (mut indptr, mut indices, mut values) = (Vec::with_capacity(n + 1), Vec::new(), Vec::new());
        indptr.push(0);
        let mut y = Vec::with_capacity(n);
        let mut weights = plan.weight_column.map(|_| Vec::with_capacity(n));
        let mut counts = ApplyCounts::default();
        self.visit_from(0, |record_index, line, record| {
            if y.len() == n {
                return Ok(false);
            }
            if plan.keeps(record_index) {
                let cells = plan.column_sources.iter().map(|&c| record.cell(c));
                plan.encoding.encode_sparse_row(
                    cells,
                    &index,
                    &mut counts,
                    line,
                    &mut indices,
                    &mut values,
                )?;
                indptr.push(indices.len());
                y.push(plan.target(line, record.cell(plan.target_column))?);
                if let (Some(weights), Some(column)) = (&mut weights, plan.weight_column) {
                    weights.push(plan.number(line, column, record.cell(column))?);
                }
            }
            Ok(true)
        })?;
        if y.len() < n {
            return Err(self.changed(format!("{n} rows were surveyed and {} read", y.len())));
        }
        if let Some(weights) = &weights {
            check_weights(weights, 0)?;
        }
        drop(index);
        let rows = CsrData::new(self.width, indptr, indices, values, y)?;
        self.sparse_rows = Some(SparseTable { rows, weights });
        Ok(self)
    }

    /// Refuses a table whose one-hot columns (and hashed features) alone
    /// take more than `budget` bytes as a dense float32 matrix: every value
    /// of such a column is a column of every row, mostly zeros, which no
    /// fit should read dense ([`TableData::read_within`] reads a table
    /// wide enough as sparse rows instead). The error names the widest
    /// such column and the sizes.
    pub fn check_width(&self, budget: u64) -> Result<()> {
        let hashed = self.plan.encoding.hashing.as_ref().map(|h| 1usize << h.bits);
        let hashed_name = "the hashed features (--hash-bits)".to_string();
        let one_hot = || {
            self.plan
                .encoding
                .columns
                .iter()
                .filter_map(|column| match column {
                    EncodedColumn::OneHot { name, values } => Some((name, values.len())),
                    EncodedColumn::Numeric { .. } | EncodedColumn::Hashed { .. } => None,
                })
                .chain(hashed.map(|width| (&hashed_name, width)))
        };
        let one_hot_width: usize = one_hot().map(|(_, values)| values).sum::<usize>();
        let one_hot_bytes = 4 * self.plan.rows() as u64 * one_hot_width as u64;
        let bytes = self.whole_bytes();
        match one_hot().max_by_key(|&(_, values)| values) {
            Some((column, values)) if one_hot_bytes > budget => {
                Err(Error::Data(DataError::OneHotBeyondBudget {
                    column: column.clone(),
                    values,
                    rows: self.plan.rows(),
                    width: self.width,
                    bytes,
                    budget,
                }))
            }
            _ => Ok(()),
        }
    }

    /// The table read whole where [`TableData::whole_bytes`] is within
    /// `budget` bytes, else left to stream: the choice made once, from
    /// the survey that opening the table took.
    ///
    /// A table made wider than the budget allows by one-hot columns is
    /// refused ([`TableData::check_width`]).
    pub fn read_within(self, budget: u64) -> Result<Opened> {
        if self.reads_sparse() {
            self.check_sparse_bytes(budget)?;
            return self.read_sparse().map(Opened::Sparse);
        }
        self.check_width(budget)?;
        match self.whole_bytes() <= budget {
            true => self.read_whole().map(Opened::Whole),
            false => Ok(Opened::Streamed(self)),
        }
    }

    /// Every row kept, encoded: the [`Table`] that [`read_table`] returns.
    /// Reads the file once more, encoding each kept record straight into
    /// its row of the matrix: a CSV file record by record, a Parquet file
    /// by row groups decoded and encoded in parallel, each into its own
    /// rows.
    pub fn read_whole(self) -> Result<Table> {
        let (n, d) = (self.plan.rows(), self.width);
        let mut x = Array2::zeros((n, d));
        let mut y = Array1::zeros(n);
        let mut weights = self.plan.weight_column.map(|_| Array1::zeros(n));
        let mut lines = vec![0; n];
        let rows = Rows {
            x: x.as_slice_mut().expect("a new standard array is contiguous"),
            y: y.as_slice_mut().expect("a new array is contiguous"),
            weights: weights
                .as_mut()
                .map(|w| w.as_slice_mut().expect("a new array is contiguous")),
            lines: &mut lines,
        };
        let counts = match Format::of(&self.path) {
            #[cfg(feature = "parquet")]
            Format::Parquet => self.encode_groups(rows)?,
            _ => self.encode_records(rows)?,
        };
        let TableData { plan, .. } = self;
        Ok(Table {
            feature_names: plan.encoding.feature_names(),
            x,
            y,
            weights,
            rows_dropped: plan.excluded.len(),
            cells_filled: counts.filled,
            text_cells_blank: counts.blank,
            lines,
            encoding: plan.encoding,
            dropped: plan.dropped,
        })
    }

    /// Encodes kept record `record` (on file line `line`) into row `k` of
    /// `rows`.
    fn encode_record(
        &self,
        record: &dyn Record,
        line: usize,
        rows: &mut Rows<'_>,
        k: usize,
        counts: &mut ApplyCounts,
    ) -> Result<()> {
        let (plan, d) = (&self.plan, self.width);
        let cells = plan.column_sources.iter().map(|&c| record.cell(c));
        plan.encoding
            .encode_row(cells, &mut rows.x[k * d..(k + 1) * d], counts, line)?;
        rows.y[k] = plan.target(line, record.cell(plan.target_column))?;
        if let (Some(weights), Some(column)) = (&mut rows.weights, plan.weight_column) {
            weights[k] = plan.number(line, column, record.cell(column))?;
        }
        rows.lines[k] = line;
        Ok(())
    }

    /// [`TableData::read_whole`]'s rows, record by record from the first.
    fn encode_records(&self, mut rows: Rows<'_>) -> Result<ApplyCounts> {
        let plan = &self.plan;
        let n = plan.rows();
        let mut counts = ApplyCounts::default();
        let mut k = 0;
        self.visit_from(0, |record_index, line, record| {
            if k == n {
                return Ok(false);
            }
            if plan.keeps(record_index) {
                self.encode_record(record, line, &mut rows, k, &mut counts)?;
                k += 1;
            }
            Ok(true)
        })?;
        if k < n {
            return Err(self.changed(format!("{n} rows were surveyed and {k} read")));
        }
        Ok(counts)
    }

    /// [`TableData::read_whole`]'s rows of a Parquet file: each row group
    /// decoded and encoded on its own thread into the rows its kept
    /// records take; a batch of number columns without empty cells is
    /// written column by column, any other record by record. The first
    /// error in file order is the one returned.
    #[cfg(feature = "parquet")]
    fn encode_groups(&self, rows: Rows<'_>) -> Result<ApplyCounts> {
        use rayon::prelude::*;

        let plan = &self.plan;
        let Some(file) = &self.parquet else {
            return self.encode_records(rows);
        };
        let starts = file.group_starts();
        if file.rows() != plan.records {
            return Err(self.changed(format!(
                "{} rows were surveyed and the footer counts {}",
                plan.records,
                file.rows()
            )));
        }
        // Each group's share of the rows kept.
        let kept_before = |record: usize| record - plan.excluded.partition_point(|&e| e < record);
        let mut shares = Vec::with_capacity(starts.len() - 1);
        let mut rest = rows;
        for group in starts.windows(2) {
            let (share, others) = rest.split(kept_before(group[1]) - kept_before(group[0]), self.width);
            shares.push(share);
            rest = others;
        }
        let numbers_only = plan
            .encoding
            .columns
            .iter()
            .all(|column| matches!(column, super::EncodedColumn::Numeric { .. }));
        let counted: Vec<Result<ApplyCounts>> = shares
            .into_par_iter()
            .enumerate()
            .map(|(group, mut share)| {
                let mut counts = ApplyCounts::default();
                let mut k = 0;
                file.visit_group(group, |start, batch| {
                    let records = batch.rows();
                    let none_left_out = plan.excluded[plan.excluded.partition_point(|&e| e < start)..]
                        .first()
                        .is_none_or(|&e| e >= start + records);
                    let written = numbers_only
                        && none_left_out
                        && plan.column_sources.iter().enumerate().all(|(j, &c)| {
                            let from = k * self.width + j;
                            batch.write_numbers(c, &mut share.x[from..], self.width)
                        });
                    for i in 0..records {
                        let record = start + i;
                        if !plan.keeps(record) {
                            continue;
                        }
                        if k == share.y.len() {
                            // More rows than the footer said the group holds.
                            return Err(
                                self.changed(format!("row group {group} holds more rows than surveyed"))
                            );
                        }
                        let line = record + 1;
                        let row = batch.row(i);
                        if written {
                            share.y[k] = plan.target(line, row.cell(plan.target_column))?;
                            if let (Some(weights), Some(column)) = (&mut share.weights, plan.weight_column) {
                                weights[k] = plan.number(line, column, row.cell(column))?;
                            }
                            share.lines[k] = line;
                        } else {
                            self.encode_record(&row, line, &mut share, k, &mut counts)?;
                        }
                        k += 1;
                    }
                    Ok(())
                })?;
                Ok(counts)
            })
            .collect();
        let mut total = ApplyCounts::default();
        for counts in counted {
            let counts = counts?;
            total.filled += counts.filled;
            total.blank += counts.blank;
        }
        Ok(total)
    }

    /// Calls `each(record index, line, record)` for the records from record
    /// `first` on, until it returns `false`: a Parquet file's through its
    /// footer as it was read, a CSV file's from the indexed position
    /// nearest before `first`.
    fn visit_from(
        &self,
        first: usize,
        each: impl FnMut(usize, usize, &dyn Record) -> Result<bool>,
    ) -> Result<()> {
        #[cfg(feature = "parquet")]
        {
            if let Some(file) = &self.parquet {
                return file.visit(first, each);
            }
        }
        let names: Option<Vec<&str>> = self
            .wanted
            .as_ref()
            .map(|w| w.iter().map(String::as_str).collect());
        let from = (first, &self.csv_index);
        visit_records(
            Format::of(&self.path),
            &self.path,
            names.as_deref(),
            Some(from),
            each,
        )
        .map(|_| ())
    }

    /// Whether every feature is a number column (no one-hot column).
    #[cfg(feature = "parquet")]
    fn numbers_only(&self) -> bool {
        self.plan
            .encoding
            .columns
            .iter()
            .all(|column| matches!(column, EncodedColumn::Numeric { .. }))
    }

    /// [`TableData::read_into`] for a Parquet table of number columns: a
    /// decoded batch with no record left out is written column by column
    /// (as [`TableData::read_whole`] writes it), any other record by
    /// record. Returns the rows read (fewer than `rows` where the file
    /// ends first).
    #[cfg(feature = "parquet")]
    fn read_groups_into(
        &self,
        file: &crate::data::parquet_table::ParquetTable,
        start: usize,
        rows: usize,
        x: &mut [f32],
        y: &mut [f32],
    ) -> Result<usize> {
        let (plan, d) = (&self.plan, self.width);
        let mut counts = ApplyCounts::default();
        let mut done = 0;
        file.visit_batches_from(plan.record_of(start), |first, batch| {
            let records = batch.rows();
            let none_left_out = plan.excluded[plan.excluded.partition_point(|&e| e < first)..]
                .first()
                .is_none_or(|&e| e >= first + records);
            // The rows of this batch that the block takes.
            let taken = records.min(rows - done);
            let written = none_left_out
                && plan
                    .column_sources
                    .iter()
                    .enumerate()
                    .all(|(j, &c)| batch.write_numbers(c, &mut x[done * d + j..(done + taken) * d], d));
            for i in 0..records {
                let record = first + i;
                if done == rows {
                    break;
                }
                if !plan.keeps(record) {
                    continue;
                }
                let (line, row) = (record + 1, batch.row(i));
                if !written {
                    let cells = plan.column_sources.iter().map(|&c| row.cell(c));
                    plan.encoding
                        .encode_row(cells, &mut x[done * d..(done + 1) * d], &mut counts, line)?;
                }
                y[done] = plan.target(line, row.cell(plan.target_column))?;
                done += 1;
            }
            Ok(done < rows)
        })?;
        Ok(done)
    }

    /// The error of a file that no longer holds what its survey read.
    fn changed(&self, reason: String) -> Error {
        Error::Data(DataError::TruncatedFile {
            path: self.path.display().to_string(),
            reason,
        })
    }
}

/// A table file as [`TableData::read_within`] chose to read it.
// Made once per file and taken apart at once: its size costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Opened {
    /// Read whole: its rows fit the budget.
    Whole(Table),
    /// Beyond the budget: encoded block by block as it is read.
    Streamed(TableData),
    /// Wide with one-hot columns ([`TableData::reads_sparse`]): read whole
    /// as sparse rows ([`TableData::read_sparse`]).
    Sparse(TableData),
}

/// The rows [`TableData::read_whole`] fills, or a share of them.
struct Rows<'a> {
    /// Row-major, as wide as the features.
    x: &'a mut [f32],
    y: &'a mut [f32],
    weights: Option<&'a mut [f32]>,
    lines: &'a mut [usize],
}

impl<'a> Rows<'a> {
    /// The first `rows` rows (of `width` features), and the others.
    #[cfg(feature = "parquet")]
    fn split(self, rows: usize, width: usize) -> (Rows<'a>, Rows<'a>) {
        let (x, x_rest) = self.x.split_at_mut(rows * width);
        let (y, y_rest) = self.y.split_at_mut(rows);
        let (lines, lines_rest) = self.lines.split_at_mut(rows);
        let (weights, weights_rest) = match self.weights {
            Some(weights) => {
                let (w, rest) = weights.split_at_mut(rows);
                (Some(w), Some(rest))
            }
            None => (None, None),
        };
        (
            Rows { x, y, weights, lines },
            Rows {
                x: x_rest,
                y: y_rest,
                weights: weights_rest,
                lines: lines_rest,
            },
        )
    }
}

/// A table file surveyed, its encoding still to decide.
struct Surveyed {
    path: PathBuf,
    wanted: Option<Vec<String>>,
    csv_index: CsvIndex,
    #[cfg(feature = "parquet")]
    parquet: Option<Box<ParquetTable>>,
    survey: Survey,
}

impl Surveyed {
    /// One pass over the table file `path` (see [`TableData::open`]).
    fn of(path: &Path, target: &str, features: Option<&[&str]>, options: &TableOptions) -> Result<Self> {
        let wanted: Option<Vec<String>> = features.map(|names| {
            names
                .iter()
                .copied()
                .chain([target])
                .chain(options.weight_column.as_deref())
                .map(|name| name.to_string())
                .collect()
        });
        let names: Option<Vec<&str>> = wanted.as_ref().map(|w| w.iter().map(String::as_str).collect());
        let format = Format::of(path);
        // A Parquet file's footer, read once for every read to come.
        #[cfg(feature = "parquet")]
        let parquet = match format {
            Format::Parquet => Some(Box::new(ParquetTable::open(path, names.as_deref())?)),
            _ => None,
        };
        #[cfg(feature = "parquet")]
        let header = match &parquet {
            Some(file) => file.header().to_vec(),
            None => header_with_records(format, path, names.as_deref())?,
        };
        #[cfg(not(feature = "parquet"))]
        let header = header_with_records(format, path, names.as_deref())?;
        // Errors of the header come after those of reading the file, as
        // when the table reader held the file before it surveyed it.
        let mut survey = Survey::new(header, target, features, options)
            .map_err(|e| after_reading_through(e, format, path, names.as_deref()))?;
        let mut learn = |_, line, record: &dyn Record| {
            survey.add(line, record);
            Ok(true)
        };
        let csv_index = match format {
            Format::Csv => index_csv_records(path, |i, line, record| learn(i, line, record))?.1,
            #[cfg(feature = "parquet")]
            Format::Parquet => {
                // Batch by batch, decoded on a thread of its own.
                if let Some(file) = &parquet {
                    file.visit_batches(|first, batch| {
                        survey.add_batch(first, batch);
                        Ok(())
                    })?;
                }
                CsvIndex::new()
            }
            _ => {
                visit_records(format, path, names.as_deref(), None, learn)?;
                CsvIndex::new()
            }
        };
        Ok(Surveyed {
            path: path.to_path_buf(),
            wanted,
            csv_index,
            #[cfg(feature = "parquet")]
            parquet,
            survey,
        })
    }

    /// The table, its encoding decided from the survey.
    fn decide(self, options: &TableOptions) -> Result<TableData> {
        let plan = self.survey.decide(options, &self.path)?;
        Ok(TableData {
            path: self.path,
            wanted: self.wanted,
            csv_index: self.csv_index,
            #[cfg(feature = "parquet")]
            parquet: self.parquet,
            width: plan.encoding.width(),
            plan,
            sparse_rows: None,
        })
    }
}

impl DataSource for TableData {
    fn rows(&self) -> usize {
        self.plan.rows()
    }

    fn features(&self) -> usize {
        self.width
    }

    fn block(&self, start: usize, rows: usize) -> Result<Block<'_>> {
        match &self.sparse_rows {
            Some(sparse) => sparse.rows.block(start, rows),
            None => read_block(self, start, rows),
        }
    }

    fn targets(&self, start: usize, rows: usize) -> Result<Cow<'_, [f32]>> {
        match &self.sparse_rows {
            Some(sparse) => sparse.rows.targets(start, rows),
            None => Ok(self.block(start, rows)?.y),
        }
    }

    fn sparse(&self) -> Option<crate::data::source::Sparse<'_>> {
        self.sparse_rows.as_ref().and_then(|sparse| sparse.rows.sparse())
    }

    /// The weight column's numbers for rows `start..start + rows`, checked
    /// ([`Error::InvalidWeight`] names the row), where the table has one: a
    /// second reading of the block's records, as the weights are asked for
    /// apart from the rows.
    fn weights(&self, start: usize, rows: usize) -> Result<Option<Cow<'_, [f32]>>> {
        let Some(column) = self.plan.weight_column else {
            return Ok(None);
        };
        if let Some(weights) = self
            .sparse_rows
            .as_ref()
            .and_then(|sparse| sparse.weights.as_ref())
        {
            let span = weights
                .get(start..start.saturating_add(rows))
                .ok_or(DataError::RowRange {
                    start,
                    end: start.saturating_add(rows),
                    rows: weights.len(),
                })?;
            return Ok(Some(Cow::Borrowed(span)));
        }
        let mut weights = Vec::with_capacity(rows);
        if rows > 0 {
            let plan = &self.plan;
            self.visit_from(plan.record_of(start), |record_index, line, record| {
                if plan.keeps(record_index) {
                    weights.push(plan.number(line, column, record.cell(column))?);
                }
                Ok(weights.len() < rows)
            })?;
        }
        check_weights(&weights, start)?;
        Ok(Some(Cow::Owned(weights)))
    }

    /// Reads the records from the one that holds row `start` and encodes
    /// the kept ones into `x` and `y`.
    fn read_into(&self, start: usize, rows: usize, x: &mut Vec<f32>, y: &mut Vec<f32>) -> Result<()> {
        if let Some(sparse) = &self.sparse_rows {
            return sparse.rows.read_into(start, rows, x, y);
        }
        let d = self.width;
        x.clear();
        x.resize(rows * d, 0.0);
        y.clear();
        y.resize(rows, 0.0);
        if rows == 0 {
            return Ok(());
        }
        let plan = &self.plan;
        #[cfg(feature = "parquet")]
        let batched = match (&self.parquet, self.numbers_only()) {
            (Some(file), true) => Some(self.read_groups_into(file, start, rows, x, y)?),
            _ => None,
        };
        #[cfg(not(feature = "parquet"))]
        let batched = None;
        let done = match batched {
            Some(done) => done,
            None => {
                let mut counts = ApplyCounts::default();
                let mut done = 0;
                self.visit_from(plan.record_of(start), |record_index, line, record| {
                    if plan.keeps(record_index) {
                        let cells = plan.column_sources.iter().map(|&c| record.cell(c));
                        plan.encoding.encode_row(
                            cells,
                            &mut x[done * d..(done + 1) * d],
                            &mut counts,
                            line,
                        )?;
                        y[done] = plan.target(line, record.cell(plan.target_column))?;
                        done += 1;
                    }
                    Ok(done < rows)
                })?;
                done
            }
        };
        if done < rows {
            return Err(self.changed(format!(
                "{rows} rows were asked for from row {} and {done} read",
                start + 1
            )));
        }
        Ok(())
    }
}
