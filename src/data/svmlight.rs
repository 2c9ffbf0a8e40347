//! svmlight / LIBSVM text files, read as scikit-learn's
//! `load_svmlight_file` reads them: one row a line, `label index:value
//! index:value …`, an optional `qid:N` after the label (read and left
//! aside), `#` starting a comment to the line's end, blank and
//! comment-only lines skipped. A row's indices must be strictly increasing
//! (sorted and unique, as scikit-learn demands). The file is read a line
//! at a time into [`CsrData`]; nothing dense is built.
//!
//! Indices are zero- or one-based: [`Indexing::Auto`] (scikit-learn's
//! `zero_based="auto"`) takes a file with any index 0 as zero-based and
//! any other as one-based (each index less one).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use crate::atomic_file::AtomicFile;
use crate::data::error::DataError;
use crate::data::input_file::regular_file_size;
use crate::data::source::DataSource;
use crate::data::sparse::CsrData;
use crate::error::Result;

/// How a file's feature indices count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Indexing {
    /// Zero-based where any index is 0, else one-based (scikit-learn's
    /// `zero_based="auto"`).
    #[default]
    Auto,
    /// The first feature is 0.
    ZeroBased,
    /// The first feature is 1 (svmlight's and LIBSVM's own convention): an
    /// index 0 is an error naming its line.
    OneBased,
}

/// How an svmlight file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SvmlightOptions {
    /// How the indices count.
    pub indexing: Indexing,
    /// The features of each row, where known (a saved model's width):
    /// else one more than the largest index in the file.
    pub features: Option<usize>,
}

/// An svmlight file's rows, and how its indices were read.
#[derive(Debug, Clone, PartialEq)]
pub struct SvmlightRows {
    /// The rows, their features counted from 0.
    pub rows: CsrData,
    /// How the file's indices counted: [`Indexing::ZeroBased`] or
    /// [`Indexing::OneBased`] (what [`Indexing::Auto`] decided).
    pub indexing: Indexing,
}

/// The rows of the svmlight file `path` (see the module's description).
/// A malformed line is [`DataError::MalformedSvmlight`] naming its line
/// and token; indices out of order or repeated are
/// [`DataError::UnsortedSvmlightIndices`]; an index 0 in a file read as
/// one-based is [`DataError::ZeroIndexInOneBased`]; a feature beyond
/// `options.features` is [`DataError::SvmlightIndexBeyondFeatures`]; a file
/// without rows is [`DataError::EmptyFile`].
///
/// ```
/// use downhill::data::svmlight::{read_svmlight, SvmlightOptions};
/// use downhill::data::source::DataSource;
/// let path = std::env::temp_dir().join("downhill_svmlight_doc.svm");
/// std::fs::write(&path, "1 1:0.5 3:2\n# a comment\n0 qid:7 2:1 # the second row\n")?;
/// let rows = read_svmlight(&path, SvmlightOptions::default())?.rows;
/// // One-based: features 0..3.
/// assert_eq!(rows.block(0, 2)?.x.as_ref(), &[0.5, 0.0, 2.0, 0.0, 1.0, 0.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_svmlight(path: impl AsRef<Path>, options: SvmlightOptions) -> Result<SvmlightRows> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    let size = regular_file_size(path)?.unwrap_or(0);
    let io = |e: std::io::Error| crate::error::Error::Io {
        path: shown.clone(),
        reason: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut indptr = vec![0usize];
    // Indices as written, held as u32 (features beyond 2³² are refused as
    // they are met), shifted to zero-based at the end in place.
    let mut indices: Vec<u32> = Vec::new();
    let mut values: Vec<f32> = Vec::new();
    let mut y: Vec<f32> = Vec::new();
    // The first line holding an index 0, and the largest index.
    let mut zero_on: Option<usize> = None;
    let mut largest: Option<(u64, usize)> = None;
    let mut text: Vec<u8> = Vec::new();
    let mut line = 0usize;
    // The arrays are sized once from the first MiB's entries per byte (a
    // tenth more), so that they do not grow by doubling, each growth
    // holding both copies at once.
    let mut bytes_read = 0u64;
    let mut sized = false;
    loop {
        text.clear();
        let read = reader.read_until(b'\n', &mut text).map_err(io)?;
        if read == 0 {
            break;
        }
        line += 1;
        bytes_read += read as u64;
        if !sized && bytes_read >= 1 << 20 {
            sized = true;
            let expected = (size as f64 * indices.len() as f64 / bytes_read as f64 * 1.1) as usize;
            indices.reserve(expected.saturating_sub(indices.len()));
            values.reserve(expected.saturating_sub(values.len()));
            let rows = (size as f64 * y.len() as f64 / bytes_read as f64 * 1.1) as usize;
            y.reserve(rows.saturating_sub(y.len()));
            indptr.reserve(rows.saturating_sub(indptr.len()));
        }
        let malformed = |token: &str, reason: &'static str| DataError::MalformedSvmlight {
            path: shown.clone(),
            line,
            token: token.chars().take(40).collect(),
            reason,
        };
        // A comment may hold any bytes; the data before it is text.
        let data = text.split(|&b| b == b'#').next().unwrap_or(&[]);
        let content = std::str::from_utf8(data).map_err(|e| {
            let start = e.valid_up_to();
            malformed(
                &String::from_utf8_lossy(&data[start..(start + 8).min(data.len())]),
                "the line holds bytes that are not text (UTF-8)",
            )
        })?;
        let mut tokens = content.split_ascii_whitespace();
        let Some(label) = tokens.next() else {
            continue;
        };
        let label_value: f32 = label
            .parse()
            .map_err(|_| malformed(label, "the label is not a number (multilabel rows are not read)"))?;
        if !label_value.is_finite() {
            return Err(malformed(label, "the label is not a finite number").into());
        }
        let mut previous: Option<u64> = None;
        let mut qid_seen = false;
        for token in tokens {
            let Some((index, value)) = token.split_once(':') else {
                return Err(malformed(token, "a feature is written index:value").into());
            };
            if index == "qid" {
                if previous.is_some() || qid_seen {
                    return Err(malformed(token, "qid comes once, right after the label").into());
                }
                qid_seen = true;
                index_of(value.strip_prefix('-').unwrap_or(value))
                    .ok_or_else(|| malformed(token, "qid is a whole number"))?;
                continue;
            }
            let index = match index.strip_prefix('-') {
                Some(_) => return Err(malformed(token, "a feature index is never negative").into()),
                None => index_of(index)
                    .ok_or_else(|| malformed(token, "the feature index is not a whole number"))?,
            };
            let value: f32 = value
                .parse()
                .map_err(|_| malformed(token, "the feature's value is not a number"))?;
            if !value.is_finite() {
                return Err(malformed(token, "the feature's value is not a finite number").into());
            }
            if let Some(previous) = previous.filter(|&p| index <= p) {
                return Err(DataError::UnsortedSvmlightIndices {
                    path: shown.clone(),
                    line,
                    index,
                    previous,
                }
                .into());
            }
            previous = Some(index);
            if index == 0 && zero_on.is_none() {
                zero_on = Some(line);
            }
            if largest.is_none_or(|(l, _)| index > l) {
                largest = Some((index, line));
            }
            let Ok(index) = u32::try_from(index) else {
                return Err(DataError::SvmlightIndexBeyondFeatures {
                    path: shown.clone(),
                    line,
                    index,
                    features: u32::MAX as usize,
                }
                .into());
            };
            indices.push(index);
            values.push(value);
        }
        y.push(label_value);
        indptr.push(indices.len());
    }
    if y.is_empty() {
        return Err(DataError::EmptyFile {
            path: shown,
            missing: "svmlight rows",
        }
        .into());
    }
    let one_based = match options.indexing {
        Indexing::ZeroBased => false,
        Indexing::OneBased => match zero_on {
            Some(line) => return Err(DataError::ZeroIndexInOneBased { path: shown, line }.into()),
            None => true,
        },
        // A file without features is zero-based, as scikit-learn takes it.
        Indexing::Auto => zero_on.is_none() && largest.is_some(),
    };
    let shift = u64::from(one_based);
    // The features the rows span: one more than the largest index.
    let spanned = largest.map_or(0, |(index, _)| index + 1 - shift);
    let features = match options.features {
        Some(features) if (features as u64) < spanned => {
            let (index, line) = largest.unwrap_or_default();
            return Err(DataError::SvmlightIndexBeyondFeatures {
                path: shown,
                line,
                index,
                features,
            }
            .into());
        }
        Some(features) => features,
        None => spanned as usize,
    };
    if features > u32::MAX as usize {
        let (index, line) = largest.unwrap_or_default();
        return Err(DataError::SvmlightIndexBeyondFeatures {
            path: shown,
            line,
            index,
            features: u32::MAX as usize,
        }
        .into());
    }
    if one_based {
        indices.iter_mut().for_each(|i| *i -= 1);
    }
    Ok(SvmlightRows {
        rows: CsrData::new(features, indptr, indices, values, y)?,
        indexing: match one_based {
            true => Indexing::OneBased,
            false => Indexing::ZeroBased,
        },
    })
}

/// A whole number of decimal digits, a `+` before them allowed.
fn index_of(text: &str) -> Option<u64> {
    let text = text.strip_prefix('+').unwrap_or(text);
    match !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        true => text.parse().ok(),
        false => None,
    }
}

/// Writes the rows of `source` to `path` as svmlight text, `rows` rows of
/// it read at a time: each row's target as its label, then its non-zero
/// features one-based (`index:value`, the shortest text that reads back to
/// the same float32), so that [`read_svmlight`] gives the same rows back.
/// The file is written whole or not at all ([`crate::atomic_file`]).
pub fn write_svmlight(source: &dyn DataSource, path: impl AsRef<Path>, rows: usize) -> Result<()> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    let io = |e: std::io::Error| crate::error::Error::Write {
        path: shown.clone(),
        reason: e.to_string(),
    };
    let mut file = AtomicFile::create(path)?;
    {
        let mut writer = std::io::BufWriter::new(file.file());
        let (n, d) = (source.rows(), source.features());
        let sparse = source.sparse().filter(|s| s.standardization.is_none());
        let mut line = String::new();
        for start in (0..n).step_by(rows.max(1)) {
            let count = rows.max(1).min(n - start);
            let targets = source.targets(start, count)?;
            let block = match sparse {
                Some(_) => None,
                None => Some(source.block(start, count)?),
            };
            for (k, label) in targets.iter().enumerate() {
                use std::fmt::Write as _;
                line.clear();
                let _ = write!(line, "{label}");
                match (&block, sparse) {
                    (_, Some(sparse)) => {
                        let csr = sparse.csr;
                        let (indices, values) = csr.row(start + k);
                        for (&j, &v) in indices.iter().zip(values) {
                            if v != 0.0 {
                                let _ = write!(line, " {}:{v}", j as u64 + 1);
                            }
                        }
                    }
                    (Some(block), None) => {
                        for (j, &v) in block.x[k * d..(k + 1) * d].iter().enumerate() {
                            if v != 0.0 {
                                let _ = write!(line, " {}:{v}", j + 1);
                            }
                        }
                    }
                    (None, None) => {}
                }
                line.push('\n');
                writer.write_all(line.as_bytes()).map_err(io)?;
            }
        }
        writer.flush().map_err(io)?;
    }
    file.commit()
}
