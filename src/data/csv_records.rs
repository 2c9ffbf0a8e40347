//! The records of a CSV file, read one at a time: the one reader of CSV
//! text that the numeric reader ([`crate::data::read_csv`]) and the table
//! reader ([`crate::data::table`]) share, with an index of where records start
//! so that a streamed table can read from any row.

use crate::data::error::DataError;
use std::path::Path;

use crate::error::{Error, Result};

/// The records of a table file, each with its 1-based line.
pub(crate) type Records = Vec<(usize, csv::StringRecord)>;

/// The header and every record that `visit` passes to the callback it is
/// given; a file without records is [`crate::DataError::EmptyFile`].
pub(crate) fn collect_records(
    path: &Path,
    visit: impl FnOnce(&mut dyn FnMut(usize, usize, &csv::StringRecord) -> Result<bool>) -> Result<Vec<String>>,
) -> Result<(Vec<String>, Records)> {
    let mut records = Vec::new();
    let header = visit(&mut |_, line, record| {
        records.push((line, record.clone()));
        Ok(true)
    })?;
    if records.is_empty() {
        return Err(Error::Data(DataError::EmptyFile {
            path: path.display().to_string(),
            missing: "data rows",
        }));
    }
    Ok((header, records))
}

/// The header and records of a CSV file.
pub(crate) fn read_csv_records(path: &Path) -> Result<(Vec<String>, Records)> {
    collect_records(path, |each| visit_csv_records(path, None, each))
}

/// Where a CSV file's records are: the position of every
/// [`CSV_INDEX_ROWS`]-th record, so that reading can start near any.
pub(crate) type CsvIndex = Vec<csv::Position>;

/// Records between two positions of a [`CsvIndex`].
pub(crate) const CSV_INDEX_ROWS: usize = 4096;

/// Calls `each(record index, line, record)` for the records of the CSV
/// file `path` in order, from record `from.0` on where `from` gives it and
/// the file's index, until `each` returns `false`; returns the header. A
/// record of another width than the header is [`crate::DataError::RaggedRow`].
pub(crate) fn visit_csv_records(
    path: &Path,
    from: Option<(usize, &CsvIndex)>,
    mut each: impl FnMut(usize, usize, &csv::StringRecord) -> Result<bool>,
) -> Result<Vec<String>> {
    let shown = path.display().to_string();
    let io = |e: &dyn std::fmt::Display| Error::Io {
        path: shown.clone(),
        reason: e.to_string(),
    };
    // Opened twice below (the delimiter is sniffed first): a pipe would hang.
    crate::data::input_file::regular_file_size(path)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .delimiter(delimiter_of(path).map_err(|e| io(&e))?)
        .from_path(path)
        .map_err(|e| io(&e))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| io(&e))?
        .iter()
        .map(|name| name.trim().to_string())
        .collect();
    if header.is_empty() || header.iter().all(String::is_empty) {
        return Err(Error::Data(DataError::EmptyFile {
            path: shown,
            missing: "header row",
        }));
    }
    let (first, mut index) = match from {
        Some((first, positions)) => {
            let near = first / CSV_INDEX_ROWS;
            match positions.get(near) {
                Some(position) => reader.seek(position.clone()).map_err(|e| io(&e))?,
                None if near == 0 => {}
                None => {
                    return Err(Error::Io {
                        path: shown,
                        reason: format!(
                            "record {first} lies beyond the file as it was indexed; has it changed?"
                        ),
                    })
                }
            }
            (first, near * CSV_INDEX_ROWS)
        }
        None => (0, 0),
    };
    let mut record = csv::StringRecord::new();
    loop {
        if !reader.read_record(&mut record).map_err(|e| io(&e))? {
            return Ok(header);
        }
        let line = record.position().map_or(index + 2, |p| p.line() as usize);
        if record.len() != header.len() {
            return Err(Error::Data(DataError::RaggedRow {
                line,
                expected: header.len(),
                found: record.len(),
            }));
        }
        if index >= first && !each(index, line, &record)? {
            return Ok(header);
        }
        index += 1;
    }
}

/// The delimiter of the CSV file `path`, from its header line: of a
/// comma, a semicolon (as spreadsheets write CSV where the comma is the
/// decimal mark) and a tab, the one that splits it into the most cells,
/// quotes respected; a comma where none splits it.
fn delimiter_of(path: &Path) -> std::io::Result<u8> {
    use std::io::BufRead;
    let mut header = Vec::new();
    std::io::BufReader::new(std::fs::File::open(path)?).read_until(b'\n', &mut header)?;
    let cells = |delimiter: u8| {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .delimiter(delimiter)
            .from_reader(header.as_slice())
            .records()
            .next()
            .and_then(|record| record.ok())
            .map_or(0, |record| record.len())
    };
    // The first of the most: a comma wins a tie.
    Ok([b',', b';', b'\t']
        .into_iter()
        .map(|delimiter| (delimiter, cells(delimiter)))
        .fold((b',', 0), |best, (delimiter, count)| match count > best.1 {
            true => (delimiter, count),
            false => best,
        })
        .0)
}

/// [`visit_csv_records`] over every record, also returning the file's
/// [`CsvIndex`].
pub(crate) fn index_csv_records(
    path: &Path,
    mut each: impl FnMut(usize, usize, &csv::StringRecord) -> Result<bool>,
) -> Result<(Vec<String>, CsvIndex)> {
    let mut index = CsvIndex::new();
    let header = visit_csv_records(path, None, |i, line, record| {
        if i % CSV_INDEX_ROWS == 0 {
            // Where the record starts: reading from there reads it again.
            let position = record.position().ok_or_else(|| Error::Io {
                path: path.display().to_string(),
                reason: format!("the CSV reader gave no position for line {line}"),
            })?;
            index.push(position.clone());
        }
        each(i, line, record)
    })?;
    Ok((header, index))
}
