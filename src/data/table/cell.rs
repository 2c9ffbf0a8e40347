//! A table's cells as their file holds them: text from a CSV file (read
//! as it always was: a number where it parses as one, missing where it is
//! one of the missing tokens, else a category), and typed values from a
//! Parquet file's Arrow arrays (numbers stay numbers, booleans stay
//! booleans), so that no number is written as text to be parsed back.
//!
//! Each typed cell behaves exactly as the text the Parquet reader used to
//! write for it: a float as the shortest text that reads back as the same
//! float64, an integer as its digits, a boolean as `true`/`false`, a null
//! as the empty cell. A float that is not finite stays text (`NaN` is
//! missing; `inf` is not a number), as that text was.

use std::borrow::Cow;

/// One cell of a record.
#[derive(Debug, Clone, Copy, PartialEq)]
// Only Parquet's typed columns make the cells other than text.
#[cfg_attr(not(feature = "parquet"), allow(dead_code))]
pub(crate) enum Cell<'a> {
    /// Text: every CSV cell, a Parquet string, a float that is not finite.
    Text(&'a str),
    /// A finite number of a float column (a float32 as the float64 that
    /// equals it).
    Number(f64),
    /// A value of an integer column (any width, signed or not).
    Integer(i128),
    /// A value of a boolean column.
    Bool(bool),
    /// A null.
    Missing,
}

/// A cell's number, told apart as its text would be: what a survey
/// remembers of the numbers whose text it has already counted, so that a
/// number is written as text at most once per distinct value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum NumberKey {
    /// A float's bits (distinct floats have distinct shortest texts).
    Float(u64),
    /// An integer (its digits).
    Integer(i128),
}

impl<'a> Cell<'a> {
    /// A float's cell: a number where finite, else the text it was read as.
    #[cfg_attr(not(feature = "parquet"), allow(dead_code))]
    pub(crate) fn float(value: f64) -> Cell<'static> {
        if value.is_finite() {
            Cell::Number(value)
        } else if value.is_nan() {
            Cell::Text("NaN")
        } else if value > 0.0 {
            Cell::Text("inf")
        } else {
            Cell::Text("-inf")
        }
    }

    /// Whether the cell stands for a missing value ([`is_missing`]).
    pub(crate) fn is_missing(&self) -> bool {
        match self {
            Cell::Text(text) => is_missing(text),
            Cell::Missing => true,
            Cell::Number(_) | Cell::Integer(_) | Cell::Bool(_) => false,
        }
    }

    /// The cell's number: a finite number for text that parses as one.
    pub(crate) fn number(&self) -> Option<f64> {
        match *self {
            Cell::Text(text) => number(text),
            Cell::Number(value) => Some(value),
            // Rounded to nearest, as parsing its digits rounds.
            Cell::Integer(value) => Some(value as f64),
            Cell::Bool(_) | Cell::Missing => None,
        }
    }

    /// The key of a number cell's text (`None` for text and the rest).
    pub(crate) fn number_key(&self) -> Option<NumberKey> {
        match *self {
            Cell::Number(value) => Some(NumberKey::Float(value.to_bits())),
            Cell::Integer(value) => Some(NumberKey::Integer(value)),
            _ => None,
        }
    }

    /// The cell as text, untrimmed: a CSV cell as written; a typed cell as
    /// the text a CSV file of the same table holds ("" for a null).
    pub(crate) fn text(&self) -> Cow<'a, str> {
        match *self {
            Cell::Text(text) => Cow::Borrowed(text),
            Cell::Number(value) => Cow::Owned(value.to_string()),
            Cell::Integer(value) => Cow::Owned(value.to_string()),
            Cell::Bool(true) => Cow::Borrowed("true"),
            Cell::Bool(false) => Cow::Borrowed("false"),
            Cell::Missing => Cow::Borrowed(""),
        }
    }

    /// The cell as a label ([`label_key`]): a number as its shortest form.
    pub(crate) fn label_key(&self) -> Cow<'a, str> {
        match *self {
            Cell::Text(text) => label_key(text),
            Cell::Number(_) | Cell::Integer(_) => {
                Cow::Owned(self.number().expect("a number cell").to_string())
            }
            other => other.text(),
        }
    }

    /// The bits of the float64 a number cell's label stands for (two
    /// number cells are one label exactly when these are equal); `None`
    /// for every other cell, whose label is its text.
    pub(crate) fn label_bits(&self) -> Option<u64> {
        match self {
            Cell::Number(_) | Cell::Integer(_) => self.number().map(f64::to_bits),
            _ => None,
        }
    }
}

/// A record: its cells by column, in the order of the header of the file
/// it was read from.
pub(crate) trait Record {
    /// The cell of column `column` (missing past the record's end).
    fn cell(&self, column: usize) -> Cell<'_>;
}

impl Record for csv::StringRecord {
    fn cell(&self, column: usize) -> Cell<'_> {
        Cell::Text(self.get(column).unwrap_or(""))
    }
}

/// Whether a cell's text stands for a missing value.
pub fn is_missing(cell: &str) -> bool {
    let cell = cell.trim();
    cell.is_empty()
        || cell == "?"
        || ["na", "n/a", "nan", "null"]
            .iter()
            .any(|token| cell.eq_ignore_ascii_case(token))
}

/// A target cell as a label: a number as its shortest form (so that `1`,
/// `1.0` and ` 1 ` are one class), any other text trimmed.
pub(crate) fn label_key(cell: &str) -> Cow<'_, str> {
    let cell = cell.trim();
    match number(cell) {
        Some(value) => value.to_string().into(),
        None => cell.into(),
    }
}

/// Distinct values counted per column (and for the target), unless the
/// cap on categories asks for more: enough for any category list, bounded
/// for columns of numbers with millions of values.
pub(crate) const DISTINCT_COUNTED: usize = 10_000;

/// `values` distinct values of a column, said as "at least" where the
/// survey stopped counting them (at [`DISTINCT_COUNTED`], or past a larger
/// `cap`).
pub(crate) fn distinct_count(values: usize, cap: usize) -> String {
    match values >= DISTINCT_COUNTED.max(cap.saturating_add(1)) {
        true => format!("at least {values}"),
        false => values.to_string(),
    }
}

/// A cell's text as a finite number, where it is one.
pub(crate) fn number(cell: &str) -> Option<f64> {
    cell.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// How a number is written where a cell reads as text but holds one: with
/// a decimal comma (`2,5`), with thousands separators (`1,000`, `1 000`,
/// `1_000`, `1'000`), or in hexadecimal (`0x10`). `None` for a number as
/// the reader takes it, and for text that is no number.
pub fn number_written_as_text(cell: &str) -> Option<NumberWriting> {
    let cell = cell.trim();
    if number(cell).is_some() {
        return None;
    }
    if let Some(hex) = cell.strip_prefix("0x").or_else(|| cell.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16)
            .ok()
            .map(|_| NumberWriting::Hexadecimal);
    }
    let digits: String = cell
        .chars()
        .filter(|c| !matches!(c, ',' | '_' | ' ' | '\''))
        .collect();
    if digits == cell || number(&digits).is_none() {
        return None;
    }
    // One comma not followed by a group of three digits is a decimal mark.
    match cell.split_once(',') {
        Some((_, after)) if !after.contains(',') && after.len() != 3 => Some(NumberWriting::DecimalComma),
        _ => Some(NumberWriting::Separators),
    }
}

/// How a number written as text is written ([`number_written_as_text`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberWriting {
    /// `2,5` for 2.5.
    DecimalComma,
    /// `1,000` or `1 000` for 1000.
    Separators,
    /// `0x10` for 16.
    Hexadecimal,
}

impl std::fmt::Display for NumberWriting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NumberWriting::DecimalComma => "numbers with a decimal comma",
            NumberWriting::Separators => "numbers with thousands separators",
            NumberWriting::Hexadecimal => "hexadecimal numbers",
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::data::table::cell::*;

    #[test]
    fn numbers_written_as_text_are_told_apart_from_text_and_numbers() {
        for (cell, expected) in [
            ("2,5", Some(NumberWriting::DecimalComma)),
            ("1,000", Some(NumberWriting::Separators)),
            ("1 000 000", Some(NumberWriting::Separators)),
            ("0x10", Some(NumberWriting::Hexadecimal)),
            ("12.5", None),
            ("red", None),
            ("a,b", None),
            ("0xZZ", None),
        ] {
            assert_eq!(number_written_as_text(cell), expected, "{cell}");
        }
    }

    /// Each typed cell reads as the text the Parquet reader used to write
    /// for it, whatever the reader asks of it.
    #[test]
    fn typed_cells_read_as_their_text() {
        let cases: Vec<(Cell, String)> = vec![
            (Cell::float(f64::from(0.1f32)), f64::from(0.1f32).to_string()),
            (Cell::float(-0.0), "-0".into()),
            (Cell::float(1e300), 1e300f64.to_string()),
            (Cell::float(f64::NAN), "NaN".into()),
            (Cell::float(f64::INFINITY), "inf".into()),
            (Cell::float(f64::NEG_INFINITY), "-inf".into()),
            (Cell::Integer(-7), "-7".into()),
            (Cell::Integer(i128::from(u64::MAX)), u64::MAX.to_string()),
            (Cell::Integer(9_007_199_254_740_993), "9007199254740993".into()),
            (Cell::Bool(true), "true".into()),
            (Cell::Bool(false), "false".into()),
            (Cell::Missing, String::new()),
        ];
        for (cell, text) in cases {
            let as_text = Cell::Text(&text);
            assert_eq!(cell.text(), text, "{cell:?}");
            assert_eq!(cell.is_missing(), as_text.is_missing(), "{cell:?}");
            assert_eq!(
                cell.number().map(f64::to_bits),
                as_text.number().map(f64::to_bits),
                "{cell:?}"
            );
            assert_eq!(cell.label_key(), as_text.label_key(), "{cell:?}");
        }
    }

    /// Number cells are one label exactly when their labels' texts are.
    #[test]
    fn label_bits_tell_labels_apart_as_their_text_does() {
        let cells = [
            Cell::Number(1.0),
            Cell::Integer(1),
            Cell::Number(-0.0),
            Cell::Number(0.0),
            Cell::Integer(9_007_199_254_740_993),
            Cell::Integer(9_007_199_254_740_992),
            Cell::Number(0.1),
        ];
        for a in &cells {
            for b in &cells {
                assert_eq!(
                    a.label_bits() == b.label_bits(),
                    a.label_key() == b.label_key(),
                    "{a:?} {b:?}"
                );
            }
        }
    }
}
