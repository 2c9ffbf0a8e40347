//! SciPy's sparse matrices saved by `scipy.sparse.save_npz`, in CSR form:
//! a zip of `.npy` arrays (`format`, `shape`, `indptr`, `indices`,
//! `data`), compressed or not. Indices and indptr of 32 or 64 bits and
//! values of any float or integer type are read; another format (CSC, COO,
//! …) is an error naming it: convert it with `.tocsr()` first.
//!
//! [`write_npz`] writes rows the same way (compressed, as
//! `save_npz(compressed=True)`), with their targets as one more array,
//! `y`, which `scipy.sparse.load_npz` passes over and `numpy.load(path)["y"]`
//! reads; [`read_npz_array`] reads it back.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use std::io::Write;

use ndarray::{Array1, ArrayView1};
use ndarray_npy::{NpzReader, WriteNpyExt};

use crate::atomic_file::AtomicFile;
use crate::data::source::DataSource;

use crate::data::error::DataError;
use crate::data::sparse::CsrData;
use crate::error::{Error, Result};

/// The CSR matrix in the `.npz` file `path`, with the targets `y` (one per
/// row; zeros where none are given, for predictions), as [`CsrData`]: its
/// arrays are checked as
/// [`CsrData::new`] checks them. A file that is not a SciPy sparse matrix
/// in CSR form is [`DataError::NotCsr`].
///
/// ```no_run
/// use downhill::data::npz::read_npz;
/// let y = downhill::data::npy::read_targets("y.npy")?.to_vec();
/// let rows = read_npz("x.npz", Some(y))?;
/// # Ok::<(), downhill::Error>(())
/// ```
pub fn read_npz(path: impl AsRef<Path>, y: Option<Vec<f32>>) -> Result<CsrData> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    crate::data::input_file::regular_file_size(path)?;
    let io = |e: &dyn std::fmt::Display| Error::Io {
        path: shown.clone(),
        reason: e.to_string(),
    };
    let not_csr = |reason: String| {
        Error::Data(DataError::NotCsr {
            path: shown.clone(),
            reason,
        })
    };
    // The format, a bytes array that the npy reader does not read: the
    // last bytes of its entry.
    let format = {
        let mut archive = zip::ZipArchive::new(File::open(path).map_err(|e| io(&e))?)
            .map_err(|e| not_csr(format!("not a zip of arrays ({e})")))?;
        let mut entry = archive
            .by_name("format.npy")
            .map_err(|_| not_csr("no format array: not saved by scipy.sparse.save_npz".into()))?;
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(|e| io(&e))?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        text.trim_end_matches(['\0', ' ', '\n'])
            .rsplit(['\n', ' '])
            .next()
            .unwrap_or("")
            .to_string()
    };
    if !format.ends_with("csr") {
        return Err(not_csr(format!(
            "its format is {format:?}; save the matrix's .tocsr()"
        )));
    }
    let mut npz = NpzReader::new(File::open(path).map_err(|e| io(&e))?)
        .map_err(|e| not_csr(format!("not a zip of arrays ({e})")))?;
    let shape = integers(&mut npz, "shape").map_err(&not_csr)?;
    let [rows, features] = shape[..] else {
        return Err(not_csr(format!(
            "its shape has {} dimensions, not 2",
            shape.len()
        )));
    };
    let indptr = integers(&mut npz, "indptr").map_err(&not_csr)?;
    let indices = integers(&mut npz, "indices").map_err(&not_csr)?;
    let values = floats(&mut npz, "data").map_err(&not_csr)?;
    if indptr.len() != rows as usize + 1 {
        return Err(not_csr(format!(
            "indptr holds {} values for {rows} rows",
            indptr.len()
        )));
    }
    let to_usize = |v: i64, what: &str| {
        usize::try_from(v).map_err(|_| not_csr(format!("{what} holds {v}, which is no position")))
    };
    let indptr = indptr
        .into_iter()
        .map(|v| to_usize(v, "indptr"))
        .collect::<Result<Vec<_>>>()?;
    let indices = indices
        .into_iter()
        .map(|v| u32::try_from(v).map_err(|_| not_csr(format!("indices holds {v}, which is no feature"))))
        .collect::<Result<Vec<_>>>()?;
    let y = y.unwrap_or_else(|| vec![0.0; rows as usize]);
    if y.len() != rows as usize {
        return Err(DataError::SparseShape {
            what: "targets given (one per row of the matrix)",
            expected: rows as usize,
            found: y.len(),
        }
        .into());
    }
    // indptr must mark out the arrays before their rows are read.
    let ordered = indptr.windows(2).all(|pair| pair[0] <= pair[1]);
    if !ordered || indptr.last() != Some(&indices.len()) || indices.len() != values.len() {
        return Err(not_csr(format!(
            "indptr does not mark out its {} indices and {} values in rows",
            indices.len(),
            values.len()
        )));
    }
    // SciPy allows a row's indices out of order and repeated (its
    // canonical form sorts them and sums the repeats): so do we.
    let (indptr, indices, values) = canonical(indptr, indices, values);
    CsrData::new(to_usize(features, "shape")?, indptr, indices, values, y)
}

/// The 1-D array `name` of the `.npz` archive `path` as float32 values
/// (stored as float32, float64 or integers): the targets `write_npz`
/// stores as `y`. An archive without it is [`DataError::MalformedFile`]
/// naming the arrays it holds.
pub fn read_npz_array(path: impl AsRef<Path>, name: &str) -> Result<Vec<f32>> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    let malformed = |reason: String| {
        Error::Data(DataError::MalformedFile {
            path: shown.clone(),
            reason,
        })
    };
    let mut npz = NpzReader::new(File::open(path).map_err(|e| Error::Io {
        path: shown.clone(),
        reason: e.to_string(),
    })?)
    .map_err(|e| malformed(format!("not a zip of arrays ({e})")))?;
    let names = npz.names().map_err(|e| malformed(e.to_string()))?;
    if !names.iter().any(|held| held.trim_end_matches(".npy") == name) {
        return Err(malformed(format!(
            "it holds no array {name:?} (its arrays: {})",
            names
                .iter()
                .map(|held| held.trim_end_matches(".npy"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    floats(&mut npz, name).map_err(malformed)
}

/// Writes the rows of `source` to `path` as `scipy.sparse.save_npz`
/// writes a CSR matrix (deflated), their non-zero values alone, with the
/// targets as the array `y`, reading `block_rows` rows at a time. The
/// CSR arrays are gathered in memory first (the non-zeros' bytes, not the
/// table's); the file appears whole or not at all.
pub fn write_npz(source: &dyn DataSource, path: impl AsRef<Path>, block_rows: usize) -> Result<()> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    let io = |e: &dyn std::fmt::Display| Error::Write {
        path: shown.clone(),
        reason: e.to_string(),
    };
    let (n, d) = (source.rows(), source.features());
    let mut indptr = Vec::with_capacity(n + 1);
    indptr.push(0u64);
    let (mut indices, mut values) = (Vec::new(), Vec::new());
    let mut y = Vec::with_capacity(n);
    let block_rows = block_rows.max(1);
    for start in (0..n).step_by(block_rows) {
        let count = block_rows.min(n - start);
        y.extend_from_slice(&source.targets(start, count)?);
        match source.sparse().filter(|s| s.standardization.is_none()) {
            Some(sparse) => {
                let csr = sparse.csr;
                for i in start..start + count {
                    let (row_indices, row_values) = csr.row(i);
                    for (&j, &v) in row_indices.iter().zip(row_values) {
                        if v != 0.0 {
                            indices.push(j as u64);
                            values.push(v);
                        }
                    }
                    indptr.push(indices.len() as u64);
                }
            }
            None => {
                let block = source.block(start, count)?;
                for row in block.x.chunks_exact(d.max(1)).take(count) {
                    for (j, &v) in row.iter().enumerate() {
                        if v != 0.0 {
                            indices.push(j as u64);
                            values.push(v);
                        }
                    }
                    indptr.push(indices.len() as u64);
                }
                if d == 0 {
                    indptr.resize(indptr.len() + count, 0);
                }
            }
        }
    }
    // SciPy's index type: 32 bits where every position fits.
    let narrow = indices.len() <= i32::MAX as usize && d <= i32::MAX as usize;
    let mut file = AtomicFile::create(path)?;
    {
        let mut zip = zip::ZipWriter::new(file.file());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(8 * (values.len().max(indptr.len()).max(y.len()) as u64) > u64::from(u32::MAX) / 2);
        if narrow {
            let to32 = |v: &[u64]| v.iter().map(|&v| v as i32).collect::<Vec<i32>>();
            add_array(&mut zip, options, "indices", &to32(&indices)).map_err(|e| io(&e))?;
            add_array(&mut zip, options, "indptr", &to32(&indptr)).map_err(|e| io(&e))?;
        } else {
            let to64 = |v: &[u64]| v.iter().map(|&v| v as i64).collect::<Vec<i64>>();
            add_array(&mut zip, options, "indices", &to64(&indices)).map_err(|e| io(&e))?;
            add_array(&mut zip, options, "indptr", &to64(&indptr)).map_err(|e| io(&e))?;
        }
        // SciPy's format: a 0-d array of 3 bytes, which numpy writes with
        // this header (padded to 64 bytes with the magic and its length).
        zip.start_file("format.npy", options).map_err(|e| io(&e))?;
        let header = "{'descr': '|S3', 'fortran_order': False, 'shape': (), }";
        let unpadded = 10 + header.len() + 1;
        let padded = format!(
            "{header}{}\n",
            " ".repeat(unpadded.next_multiple_of(64) - unpadded)
        );
        let mut format = b"\x93NUMPY\x01\x00".to_vec();
        format.extend_from_slice(&(padded.len() as u16).to_le_bytes());
        format.extend_from_slice(padded.as_bytes());
        format.extend_from_slice(b"csr");
        zip.write_all(&format).map_err(|e| io(&e))?;
        add_array(&mut zip, options, "shape", &[n as i64, d as i64]).map_err(|e| io(&e))?;
        add_array(&mut zip, options, "data", &values).map_err(|e| io(&e))?;
        add_array(&mut zip, options, "y", &y).map_err(|e| io(&e))?;
        zip.finish().map_err(|e| io(&e))?;
    }
    file.commit()
}

/// `values` as the `.npy` entry `name` of `zip`.
fn add_array<W: Write + std::io::Seek, T: ndarray_npy::WritableElement>(
    zip: &mut zip::ZipWriter<W>,
    options: zip::write::SimpleFileOptions,
    name: &str,
    values: &[T],
) -> std::result::Result<(), String> {
    zip.start_file(format!("{name}.npy"), options)
        .map_err(|e| e.to_string())?;
    ArrayView1::from(values).write_npy(zip).map_err(|e| e.to_string())
}

/// The array `name` of the archive as 64-bit integers (stored as 32- or
/// 64-bit integers).
fn integers(npz: &mut NpzReader<File>, name: &str) -> std::result::Result<Vec<i64>, String> {
    let file = format!("{name}.npy");
    if let Ok(array) = npz.by_name::<ndarray::OwnedRepr<i32>, ndarray::Ix1>(&file) {
        return Ok(array.iter().map(|&v| i64::from(v)).collect());
    }
    npz.by_name::<ndarray::OwnedRepr<i64>, ndarray::Ix1>(&file)
        .map(|array: Array1<i64>| array.to_vec())
        .map_err(|e| format!("{name}: not a 1-D array of 32- or 64-bit integers ({e})"))
}

/// The array `name` of the archive as float32 values (stored as float32,
/// float64 or integers).
fn floats(npz: &mut NpzReader<File>, name: &str) -> std::result::Result<Vec<f32>, String> {
    let file = format!("{name}.npy");
    if let Ok(array) = npz.by_name::<ndarray::OwnedRepr<f32>, ndarray::Ix1>(&file) {
        return Ok(array.to_vec());
    }
    if let Ok(array) = npz.by_name::<ndarray::OwnedRepr<f64>, ndarray::Ix1>(&file) {
        return Ok(array.iter().map(|&v| v as f32).collect());
    }
    integers(npz, name).map(|values| values.into_iter().map(|v| v as f32).collect())
}

/// The rows' entries sorted by feature within each row and repeated
/// features summed (SciPy's canonical form: `sort_indices`,
/// `sum_duplicates`), where any row needs it: new CSR arrays.
fn canonical(indptr: Vec<usize>, indices: Vec<u32>, values: Vec<f32>) -> (Vec<usize>, Vec<u32>, Vec<f32>) {
    let ordered = indptr
        .windows(2)
        .all(|row| indices[row[0]..row[1]].windows(2).all(|pair| pair[0] < pair[1]));
    if ordered {
        return (indptr, indices, values);
    }
    let mut new_indptr = Vec::with_capacity(indptr.len());
    new_indptr.push(0);
    let (mut new_indices, mut new_values) = (
        Vec::with_capacity(indices.len()),
        Vec::with_capacity(values.len()),
    );
    let mut row: Vec<(u32, f32)> = Vec::new();
    for range in indptr.windows(2) {
        row.clear();
        row.extend(
            indices[range[0]..range[1]]
                .iter()
                .copied()
                .zip(values[range[0]..range[1]].iter().copied()),
        );
        row.sort_by_key(|&(j, _)| j);
        let row_start = new_indices.len();
        for &(j, v) in &row {
            if new_indices.len() > row_start && new_indices.last() == Some(&j) {
                *new_values.last_mut().expect("an index has its value") += v;
            } else {
                new_indices.push(j);
                new_values.push(v);
            }
        }
        new_indptr.push(new_indices.len());
    }
    (new_indptr, new_indices, new_values)
}
