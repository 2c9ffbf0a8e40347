//! One pass over a table's records that learns everything its encoding
//! needs: per column the cells present, how many are numbers, their sum
//! (for the mean), the distinct values (the category list), the first
//! cell that is not a number; for the target its labels; and the records
//! with missing cells. [`Survey::decide`] then makes every decision of the
//! module documentation from these alone, so that a table read whole and
//! a table streamed from a file larger than memory are encoded the same.

use crate::data::error::DataError;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use super::cell::{Cell, NumberKey, Record};
use super::{
    column_index, label_key, number, sorted_values, Categorical, DropReason, Dropped, EncodedColumn,
    Encoding, Labels, Missing, TableOptions,
};
use crate::error::{Error, Result};

pub(crate) use super::cell::DISTINCT_COUNTED;

/// What the pass learns of one chosen column.
#[derive(Debug, Default, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct ColumnSurvey {
    /// Read as text whatever its cells hold ([`TableOptions::text_columns`]):
    /// no cell a number, only an empty one missing.
    text: bool,
    /// Cells that are not missing.
    present: usize,
    /// Missing cells.
    missing: usize,
    /// Present cells that are numbers, and their sum in file order.
    numbers: usize,
    sum: f64,
    /// Distinct present values (trimmed), up to the survey's cap.
    distinct: BTreeSet<String>,
    /// The first present cell that is not a number: its line and text.
    first_text: Option<(usize, String)>,
    /// The number cells whose text `distinct` holds: so that a typed
    /// number is written as text once per distinct value, not per cell.
    #[cfg_attr(feature = "serde", serde(skip))]
    numbers_counted: HashSet<NumberKey>,
}

/// A record with a missing cell among the chosen columns or the target.
#[derive(Debug)]
struct Incomplete {
    /// The record's index (0 for the first data row) and file line.
    record: usize,
    line: usize,
    /// The positions among the chosen columns of its missing cells.
    columns: Box<[u32]>,
    /// Whether its target is missing.
    target: bool,
}

/// What a survey learnt of its columns and target, apart from its own
/// records: what the ranks of a data-parallel fit, each surveying its own
/// file, add up so that every rank decides the same encoding
/// ([`Survey::absorb`]).
#[cfg(feature = "serde")]
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct SharedSurvey {
    /// The rank's file, as errors name it.
    pub(crate) file: String,
    header: Vec<String>,
    chosen: Vec<usize>,
    columns: Vec<ColumnSurvey>,
    target_values: BTreeMap<String, usize>,
    target_values_beyond: bool,
    target_missing: usize,
}

/// The pass in progress.
#[derive(Debug)]
pub(crate) struct Survey {
    header: Vec<String>,
    target_column: usize,
    /// The column of sample weights, where there is one.
    weight_column: Option<usize>,
    /// The feature columns asked for (indices into the header).
    chosen: Vec<usize>,
    /// Whether the features were named (else every column is one).
    named: bool,
    columns: Vec<ColumnSurvey>,
    labels: bool,
    /// Distinct values counted per column: past the cap on categories.
    distinct_cap: usize,
    /// The target's distinct values (for labels), each with its first
    /// line, up to [`DISTINCT_COUNTED`].
    target_values: BTreeMap<String, usize>,
    /// Whether the target has more distinct values than were counted.
    target_values_beyond: bool,
    target_missing: usize,
    /// A regression target's first cell that is not a number, with its
    /// line: reported with the table's other problems.
    target_first_text: Option<(usize, String)>,
    /// The number labels `target_values` holds, by their float64's bits:
    /// so that a typed target is written as text once per label.
    target_numbers: HashSet<u64>,
    incomplete: Vec<Incomplete>,
    records: usize,
    first_line: Option<usize>,
}

/// The decisions: the encoding and where its columns come from.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) header: Vec<String>,
    pub(crate) encoding: Encoding,
    pub(crate) dropped: Vec<Dropped>,
    /// The record column of each encoded column.
    pub(crate) column_sources: Vec<usize>,
    pub(crate) target_column: usize,
    /// The column of sample weights, where there is one.
    pub(crate) weight_column: Option<usize>,
    /// The records left out (missing cells), ascending.
    pub(crate) excluded: Vec<usize>,
    /// Records in the file.
    pub(crate) records: usize,
    /// Missing numeric cells of the kept records, filled with means.
    pub(crate) cells_filled: usize,
    /// Missing text cells of the kept records, encoded as none of their
    /// column's values.
    pub(crate) text_cells_blank: usize,
    /// The class code of each label, where the target holds labels.
    pub(crate) codes: HashMap<String, f32>,
    /// The class code of each label that is a number, by its float64's
    /// bits: a typed target cell's code without writing it as text.
    pub(crate) number_codes: HashMap<u64, f32>,
}

impl Survey {
    /// A pass over the records of a table with `header`, predicting
    /// `target` from `features` (default: every other column).
    pub(crate) fn new(
        header: Vec<String>,
        target: &str,
        features: Option<&[&str]>,
        options: &TableOptions,
    ) -> Result<Self> {
        if let (Some(value), false) = (&options.positive_class, options.labels) {
            return Err(Error::Data(DataError::PositiveClassOfNumbers {
                value: value.clone(),
            }));
        }
        let target_column = column_index(&header, target)?;
        let weight_column = options
            .weight_column
            .as_deref()
            .map(|name| column_index(&header, name))
            .transpose()?;
        if weight_column == Some(target_column) {
            return Err(Error::Data(DataError::TargetAsWeights {
                column: header[target_column].clone(),
            }));
        }
        let chosen: Vec<usize> = match features {
            Some(names) => {
                let mut seen = BTreeSet::new();
                let mut columns = Vec::new();
                for name in names {
                    let c = column_index(&header, name)?;
                    if c == target_column {
                        return Err(Error::Data(DataError::TargetAsFeature {
                            column: header[c].clone(),
                        }));
                    }
                    if Some(c) == weight_column {
                        return Err(Error::Data(DataError::WeightAsFeature {
                            column: header[c].clone(),
                        }));
                    }
                    if !seen.insert(c) {
                        return Err(Error::Data(DataError::RepeatedFeature {
                            column: header[c].clone(),
                        }));
                    }
                    columns.push(c);
                }
                columns
            }
            None => {
                let columns: Vec<usize> = (0..header.len())
                    .filter(|&c| c != target_column && Some(c) != weight_column)
                    .collect();
                // Every column is a feature: none may share its name (but
                // unnamed ones, as trailing delimiters leave, which are
                // empty and left out).
                let mut first_of: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
                for &c in &columns {
                    let name = header[c].as_str();
                    if name.is_empty() {
                        continue;
                    }
                    if let Some(&first) = first_of.get(name) {
                        return Err(Error::Data(DataError::RepeatedColumn {
                            column: name.to_string(),
                            first: first + 1,
                            second: c + 1,
                        }));
                    }
                    first_of.insert(name, c);
                }
                columns
            }
        };
        Ok(Survey {
            columns: chosen
                .iter()
                .map(|&c| ColumnSurvey {
                    text: options.text_columns.contains(&header[c]),
                    ..ColumnSurvey::default()
                })
                .collect(),
            header,
            target_column,
            weight_column,
            chosen,
            named: features.is_some(),
            labels: options.labels,
            distinct_cap: DISTINCT_COUNTED.max(options.max_categories.saturating_add(1)),
            target_values: BTreeMap::new(),
            target_values_beyond: false,
            target_missing: 0,
            target_first_text: None,
            target_numbers: HashSet::new(),
            incomplete: Vec::new(),
            records: 0,
            first_line: None,
        })
    }

    /// Learns from the next record, found on file line `line`; its cells
    /// are the header's columns.
    pub(crate) fn add(&mut self, line: usize, record: &dyn Record) {
        let index = self.records;
        self.records += 1;
        self.first_line.get_or_insert(line);
        let mut missing = Vec::new();
        for (k, (&c, survey)) in self.chosen.iter().zip(&mut self.columns).enumerate() {
            let cell = record.cell(c);
            if cell_missing(&cell, survey.text) {
                survey.missing += 1;
                missing.push(k as u32);
                continue;
            }
            survey.present += 1;
            match cell.number().filter(|_| !survey.text) {
                Some(value) => {
                    survey.numbers += 1;
                    survey.sum += value;
                }
                None if survey.first_text.is_none() => {
                    survey.first_text = Some((line, cell.text().into_owned()));
                }
                None => {}
            }
            if survey.distinct.len() >= self.distinct_cap {
                continue;
            }
            match (cell, cell.number_key()) {
                (cell, _) if survey.text => {
                    let text = cell.text();
                    let text = text.trim();
                    if !survey.distinct.contains(text) {
                        survey.distinct.insert(text.to_string());
                    }
                }
                (Cell::Text(text), _) => {
                    let text = text.trim();
                    if !survey.distinct.contains(text) {
                        survey.distinct.insert(text.to_string());
                    }
                }
                (_, Some(key)) => {
                    // A number's text has no spaces to trim.
                    if survey.numbers_counted.insert(key) {
                        survey.distinct.insert(cell.text().into_owned());
                    }
                }
                _ => {
                    let text = cell.text();
                    if !survey.distinct.contains(text.as_ref()) {
                        survey.distinct.insert(text.into_owned());
                    }
                }
            }
        }
        let target = record.cell(self.target_column);
        let target_missing = target.is_missing();
        if target_missing {
            self.target_missing += 1;
        } else if self.labels {
            self.learn_label(target, line);
        } else if self.target_first_text.is_none() && target.number().is_none() {
            self.target_first_text = Some((line, target.text().into_owned()));
        }
        if target_missing || !missing.is_empty() {
            self.incomplete.push(Incomplete {
                record: index,
                line,
                columns: missing.into_boxed_slice(),
                target: target_missing,
            });
        }
    }

    /// Learns from the records of a Parquet batch whose first record is
    /// record `first` of the file (on line `first + 1`), as [`Survey::add`]
    /// would from each: column by column where no chosen cell and no
    /// target is missing and every chosen cell is a number (each column's
    /// sum still in file order), else record by record.
    #[cfg(feature = "parquet")]
    pub(crate) fn add_batch(&mut self, first: usize, batch: &crate::data::parquet_table::TypedBatch<'_>) {
        let records = batch.rows();
        let plain =
            self.chosen.iter().all(|&c| batch.plain_numbers(c)) && batch.plain_numbers(self.target_column);
        if !plain || records == 0 {
            for i in 0..records {
                self.add(first + i + 1, &batch.row(i));
            }
            return;
        }
        self.first_line.get_or_insert(first + 1);
        self.records += records;
        let cap = self.distinct_cap;
        for (&c, survey) in self.chosen.iter().zip(&mut self.columns) {
            survey.present += records;
            survey.numbers += records;
            batch.each_number(c, |cell| {
                survey.sum += cell.number().unwrap_or(0.0);
                if survey.distinct.len() < cap {
                    if let Some(key) = cell.number_key() {
                        if survey.numbers_counted.insert(key) {
                            survey.distinct.insert(cell.text().into_owned());
                        }
                    }
                }
            });
        }
        if self.labels {
            let mut line = first + 1;
            batch.each_number(self.target_column, |target| {
                self.learn_label(target, line);
                line += 1;
            });
        }
    }

    /// Learns the label of a target cell that is not missing, on line `line`.
    fn learn_label(&mut self, target: Cell<'_>, line: usize) {
        let bits = target.label_bits();
        if bits.is_some_and(|bits| self.target_numbers.contains(&bits)) {
            return;
        }
        let key = target.label_key();
        if !self.target_values.contains_key(key.as_ref()) {
            if self.target_values.len() < DISTINCT_COUNTED {
                self.target_values.insert(key.into_owned(), line);
                self.target_numbers.extend(bits);
            } else {
                self.target_values_beyond = true;
            }
        }
    }

    /// What this survey shares with other ranks' ([`SharedSurvey`]).
    #[cfg(feature = "serde")]
    pub(crate) fn shared(&self, file: &str) -> SharedSurvey {
        SharedSurvey {
            file: file.to_string(),
            header: self.header.clone(),
            chosen: self.chosen.clone(),
            columns: self.columns.clone(),
            target_values: self.target_values.clone(),
            target_values_beyond: self.target_values_beyond,
            target_missing: self.target_missing,
        }
    }

    /// Takes every rank's survey (`all`, in rank order, this one's among
    /// them) for its columns and target: counts and sums added in rank
    /// order, category and label lists joined, the first text cell the
    /// first rank's; this survey's records stay its own. Ranks whose files
    /// have other columns are [`crate::DataError::ShardColumns`]. Returns the rank
    /// whose file holds each column's first text cell, by column name.
    #[cfg(feature = "serde")]
    pub(crate) fn absorb(&mut self, all: &[SharedSurvey]) -> Result<BTreeMap<String, usize>> {
        // Every rank compares with rank 0, so all refuse alike.
        let Some(first) = all.first() else {
            return Ok(BTreeMap::new());
        };
        if let Some((rank, other)) = all
            .iter()
            .enumerate()
            .find(|(_, other)| other.header != first.header || other.chosen != first.chosen)
        {
            return Err(Error::Data(DataError::ShardColumns {
                rank,
                columns: other.header.join(", "),
                expected: first.header.join(", "),
            }));
        }
        let cap = self.distinct_cap;
        let mut columns: Vec<ColumnSurvey> = vec![ColumnSurvey::default(); self.columns.len()];
        let (mut target_values, mut beyond, mut target_missing) = (BTreeMap::new(), false, 0);
        let mut text_from = BTreeMap::new();
        for (rank, shard) in all.iter().enumerate() {
            for ((total, part), &c) in columns.iter_mut().zip(&shard.columns).zip(&self.chosen) {
                total.present += part.present;
                total.missing += part.missing;
                total.numbers += part.numbers;
                total.sum += part.sum;
                for value in &part.distinct {
                    if total.distinct.len() < cap {
                        total.distinct.insert(value.clone());
                    }
                }
                if total.first_text.is_none() && part.first_text.is_some() {
                    total.first_text = part.first_text.clone();
                    text_from.insert(self.header[c].clone(), rank);
                }
            }
            for (value, &line) in &shard.target_values {
                if target_values.len() < DISTINCT_COUNTED || target_values.contains_key(value) {
                    target_values.entry(value.clone()).or_insert(line);
                } else {
                    beyond = true;
                }
            }
            beyond |= shard.target_values_beyond;
            target_missing += shard.target_missing;
        }
        self.columns = columns;
        self.target_values = target_values;
        self.target_values_beyond = beyond;
        self.target_missing = target_missing;
        // Each rank meets its own text in the target when it encodes its
        // rows; the table's problems agreed here are those of all ranks.
        self.target_first_text = None;
        Ok(text_from)
    }

    /// The encoding and the records kept, decided as the module
    /// documentation says; `path` names the file in errors.
    pub(crate) fn decide(self, options: &TableOptions, path: &Path) -> Result<Plan> {
        let Survey {
            header,
            target_column,
            chosen,
            named,
            columns: surveys,
            target_values,
            target_values_beyond,
            target_missing,
            target_first_text,
            incomplete,
            records,
            first_line,
            ..
        } = self;
        let Some(first_line) = first_line else {
            return Err(Error::Data(DataError::EmptyFile {
                path: path.display().to_string(),
                missing: "data rows",
            }));
        };

        // The target's labels: its K distinct values as the codes 0..K.
        let labels = if options.labels {
            let column = header[target_column].clone();
            if target_values_beyond {
                return Err(Error::Data(DataError::TooManyClasses {
                    column,
                    limit: DISTINCT_COUNTED,
                }));
            }
            let values = sorted_values(target_values.keys().cloned().collect());
            if values.len() < 2 {
                // The first row of its one value, else the first row.
                let line = values
                    .first()
                    .and_then(|v| target_values.get(v))
                    .copied()
                    .unwrap_or(first_line);
                return Err(Error::Data(DataError::TooFewClasses {
                    column,
                    values: values.join(", "),
                    count: values.len(),
                    line,
                }));
            }
            let classes = match &options.positive_class {
                None => values,
                Some(p) if values.len() > 2 => {
                    return Err(Error::Data(DataError::PositiveClassOfClasses {
                        value: p.clone(),
                        count: values.len(),
                    }))
                }
                Some(p) if label_key(p) == values[0] => vec![values[1].clone(), values[0].clone()],
                Some(p) if label_key(p) == values[1] => values,
                Some(p) => {
                    return Err(Error::Data(DataError::UnknownPositiveClass {
                        value: p.clone(),
                        values: values.join(", "),
                    }))
                }
            };
            Some(Labels { classes })
        } else {
            None
        };
        let codes = labels
            .as_ref()
            .map(|labels| {
                labels
                    .classes
                    .iter()
                    .enumerate()
                    .map(|(k, label)| (label.clone(), k as f32))
                    .collect()
            })
            .unwrap_or_default();
        let number_codes = codes_of_numbers(&codes);

        // The table's problems, all reported at once.
        let mut problems = Vec::new();
        if let Some((line, value)) = target_first_text {
            problems.push(DataError::TextTarget {
                line,
                column: header[target_column].clone(),
                value,
            });
        }
        // Each chosen column: kept as numbers or categories, or left out.
        let mut dropped = Vec::new();
        let mut columns = Vec::new();
        let mut column_sources = Vec::new();
        let mut kept = vec![false; chosen.len()];
        for (k, (&c, survey)) in chosen.iter().zip(surveys.iter()).enumerate() {
            let name = header[c].clone();
            let reason = if survey.present == 0 {
                Some(DropReason::AllMissing)
            } else if survey.distinct.len() == 1 {
                Some(DropReason::Constant)
            } else {
                None
            };
            if let Some(reason) = reason {
                dropped.push(Dropped { column: name, reason });
                continue;
            }
            let (numbers, present) = (survey.numbers, survey.present);
            if numbers < present && 2 * numbers >= present {
                let (line, value) = survey.first_text.clone().expect("some cell is not a number");
                problems.push(DataError::NonNumericCell {
                    line,
                    column: name,
                    value,
                });
                continue;
            }
            if numbers == present {
                columns.push(EncodedColumn::Numeric {
                    name,
                    mean: (survey.sum / present as f64) as f32,
                });
            } else if options.hashing.as_ref().is_some_and(|h| h.hashes(&name)) {
                // Hashed: any number of values, none of them listed.
                columns.push(EncodedColumn::Hashed { name });
            } else if options.categorical == Categorical::Drop {
                dropped.push(Dropped {
                    column: name,
                    reason: DropReason::Text,
                });
                continue;
            } else if survey.distinct.len() > options.max_categories && named {
                // A column asked for is never left out quietly.
                let (line, value) = survey.first_text.clone().expect("some cell is not a number");
                problems.push(DataError::TooManyCategories {
                    column: name,
                    values: survey.distinct.len(),
                    cap: options.max_categories,
                    line,
                    value,
                });
                continue;
            } else if survey.distinct.len() > options.max_categories {
                dropped.push(Dropped {
                    column: name,
                    reason: DropReason::TooManyCategories {
                        values: survey.distinct.len(),
                        cap: options.max_categories,
                    },
                });
                continue;
            } else if !named
                && survey.distinct.len() > super::ID_LIKE_VALUES
                && 10 * survey.distinct.len() >= 9 * present
            {
                dropped.push(Dropped {
                    column: name,
                    reason: DropReason::IdLike {
                        values: survey.distinct.len(),
                        cells: present,
                    },
                });
                continue;
            } else {
                columns.push(EncodedColumn::OneHot {
                    name,
                    values: sorted_values(survey.distinct.clone()),
                });
            }
            column_sources.push(c);
            kept[k] = true;
        }
        if let Some(hashing) = &options.hashing {
            if !(1..=super::MAX_HASH_BITS).contains(&hashing.bits) {
                return Err(DataError::HashBits {
                    bits: hashing.bits,
                    most: super::MAX_HASH_BITS,
                }
                .into());
            }
            // The hashed columns named are columns of the table's.
            let chosen_names: Vec<&str> = chosen.iter().map(|&c| header[c].as_str()).collect();
            for name in hashing.columns.iter().flatten() {
                if !chosen_names.contains(&name.trim()) {
                    return Err(DataError::MissingColumn {
                        name: name.clone(),
                        available: chosen_names.join(", "),
                    }
                    .into());
                }
            }
            // An interaction names two of the columns the features come from.
            let encoded: Vec<&str> = columns
                .iter()
                .map(|column| match column {
                    EncodedColumn::Numeric { name, .. }
                    | EncodedColumn::OneHot { name, .. }
                    | EncodedColumn::Hashed { name } => name.as_str(),
                })
                .collect();
            for (a, b) in &hashing.interactions {
                if let Some(name) = [a, b].into_iter().find(|name| !encoded.contains(&name.as_str())) {
                    return Err(DataError::MissingColumn {
                        name: name.clone(),
                        available: encoded.join(", "),
                    }
                    .into());
                }
            }
        }
        if columns.is_empty() && problems.is_empty() {
            let dropped: Vec<String> = dropped
                .iter()
                .map(|d| format!("{:?} ({})", d.column, d.reason))
                .collect();
            return Err(DataError::NoFeatureLeft {
                dropped: match dropped.is_empty() {
                    true => "the table has no column besides the target".into(),
                    false => format!("left out {}", dropped.join(", ")),
                },
            }
            .into());
        }

        // Missing cells in the kept columns and the target.
        let kept_missing = |row: &Incomplete| row.columns.iter().any(|&k| kept[k as usize]);
        let affected: Vec<&Incomplete> = incomplete
            .iter()
            .filter(|row| row.target || kept_missing(row))
            .collect();
        if !affected.is_empty() && options.missing == Missing::Error {
            let affected_columns: Vec<&str> = chosen
                .iter()
                .zip(&surveys)
                .zip(&kept)
                .filter(|((_, survey), &kept)| kept && survey.missing > 0)
                .map(|((&c, _), _)| header[c].as_str())
                .collect();
            problems.push(match affected_columns.is_empty() {
                // Rows without a target are left out under any other
                // choice of --missing: no target is ever filled.
                true => DataError::MissingTargets {
                    rows: affected.len(),
                    column: header[target_column].clone(),
                    first_line: affected[0].line,
                },
                false => DataError::MissingValues {
                    rows: affected.len(),
                    columns: affected_columns
                        .into_iter()
                        .chain((target_missing > 0).then(|| header[target_column].as_str()))
                        .collect::<Vec<_>>()
                        .join(", "),
                    first_line: affected[0].line,
                },
            });
        }
        match problems.len() {
            0 => {}
            1 => return Err(problems.remove(0).into()),
            _ => return Err(DataError::TableProblems { problems }.into()),
        }
        let excluded: Vec<usize> = match options.missing {
            Missing::Drop => affected.iter().map(|row| row.record).collect(),
            _ => incomplete
                .iter()
                .filter(|row| row.target)
                .map(|row| row.record)
                .collect(),
        };
        if excluded.len() == records {
            return Err(Error::Data(DataError::EmptyFile {
                path: path.display().to_string(),
                missing: "rows without missing values",
            }));
        }
        // Missing cells of the records kept: numbers filled with means,
        // text encoded as none of its column's values.
        let numeric: Vec<Option<bool>> = {
            let mut encoded = columns.iter();
            kept.iter()
                .map(|&kept| match kept {
                    true => Some(matches!(encoded.next(), Some(EncodedColumn::Numeric { .. }))),
                    false => None,
                })
                .collect()
        };
        let missing_of = |numbers: bool| -> usize {
            incomplete
                .iter()
                .filter(|row| excluded.binary_search(&row.record).is_err())
                .map(|row| {
                    row.columns
                        .iter()
                        .filter(|&&k| numeric[k as usize] == Some(numbers))
                        .count()
                })
                .sum()
        };
        let (cells_filled, text_cells_blank) = (missing_of(true), missing_of(false));
        Ok(Plan {
            encoding: Encoding {
                columns,
                labels,
                target: Some(header[target_column].clone()),
                hashing: options.hashing.clone(),
                text_columns: options.text_columns.clone(),
            },
            header,
            dropped,
            column_sources,
            target_column,
            weight_column: self.weight_column,
            excluded,
            records,
            cells_filled,
            text_cells_blank,
            codes,
            number_codes,
        })
    }
}

/// The codes of the labels that are numbers, by their float64's bits. A
/// label is the shortest text of its number ([`label_key`]), so a number
/// cell's label is one of them exactly when its bits are.
fn codes_of_numbers(codes: &HashMap<String, f32>) -> HashMap<u64, f32> {
    codes
        .iter()
        .filter_map(|(label, &code)| number(label).map(|value| (value.to_bits(), code)))
        .collect()
}

impl Plan {
    /// Records kept.
    pub(crate) fn rows(&self) -> usize {
        self.records - self.excluded.len()
    }

    /// The record index of kept row `row`.
    pub(crate) fn record_of(&self, row: usize) -> usize {
        // Kept rows before record r: r minus the records left out before it.
        let kept_before = |r: usize| r - self.excluded.partition_point(|&e| e < r);
        let (mut low, mut high) = (row, row + self.excluded.len());
        // The smallest r with kept_before(r + 1) > row.
        while low < high {
            let middle = low + (high - low) / 2;
            if kept_before(middle + 1) > row {
                high = middle;
            } else {
                low = middle + 1;
            }
        }
        low
    }

    /// Whether record `record` is kept.
    pub(crate) fn keeps(&self, record: usize) -> bool {
        self.excluded.binary_search(&record).is_err()
    }

    /// The number in `cell` of `column` on file line `line`.
    pub(crate) fn number(&self, line: usize, column: usize, cell: Cell<'_>) -> Result<f32> {
        cell.number().map(|v| v as f32).ok_or_else(|| {
            Error::Data(DataError::NonNumericCell {
                line,
                column: self.header[column].clone(),
                value: cell.text().into_owned(),
            })
        })
    }

    /// The target of a kept record's `cell`, on file line `line`: the
    /// class code for labels, else the number. The survey saw every label,
    /// so that an unknown one means the file changed since.
    pub(crate) fn target(&self, line: usize, cell: Cell<'_>) -> Result<f32> {
        match &self.encoding.labels {
            Some(labels) => {
                let code = match cell.label_bits() {
                    Some(bits) => self.number_codes.get(&bits),
                    None => self.codes.get(cell.label_key().as_ref()),
                };
                code.copied().ok_or_else(|| {
                    Error::Data(DataError::UnknownLabel {
                        line,
                        column: self.header[self.target_column].clone(),
                        value: cell.text().into_owned(),
                        labels: labels
                            .classes
                            .iter()
                            .take(10)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
                })
            }
            None => cell.number().map(|v| v as f32).ok_or_else(|| {
                Error::Data(DataError::TextTarget {
                    line,
                    column: self.header[self.target_column].clone(),
                    value: cell.text().into_owned(),
                })
            }),
        }
    }
}

/// Whether `cell` is missing: in a column read as text, only where it is
/// empty (its text may be "NA" or "?"); else as [`Cell::is_missing`] says.
pub(crate) fn cell_missing(cell: &Cell<'_>, text: bool) -> bool {
    match text {
        true => matches!(cell, Cell::Missing) || cell.text().trim().is_empty(),
        false => cell.is_missing(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_rows_map_to_their_records() {
        let plan = Plan {
            header: vec![],
            encoding: Encoding {
                columns: vec![],
                labels: None,
                target: None,
                hashing: None,
                text_columns: vec![],
            },
            dropped: vec![],
            column_sources: vec![],
            target_column: 0,
            weight_column: None,
            excluded: vec![0, 3, 4, 9],
            records: 10,
            cells_filled: 0,
            text_cells_blank: 0,
            codes: HashMap::new(),
            number_codes: HashMap::new(),
        };
        let kept: Vec<usize> = (0..10).filter(|&r| plan.keeps(r)).collect();
        assert_eq!(kept, [1, 2, 5, 6, 7, 8]);
        assert_eq!(plan.rows(), 6);
        for (row, &record) in kept.iter().enumerate() {
            assert_eq!(plan.record_of(row), record);
        }
    }
}
