//! SciPy's sparse matrices saved by `scipy.sparse.save_npz`, in CSR form:
//! a zip of `.npy` arrays (`format`, `shape`, `indptr`, `indices`,
//! `data`), compressed or not. Indices and indptr of 32 or 64 bits and
//! values of any float or integer type are read; another format (CSC, COO,
//! …) is an error naming it: convert it with `.tocsr()` first.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use ndarray::Array1;
use ndarray_npy::NpzReader;

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
    // SciPy allows a row's indices out of order and repeated (its
    // canonical form sorts them and sums the repeats): so do we.
    let (indptr, indices, values) = canonical(indptr, indices, values);
    CsrData::new(to_usize(features, "shape")?, indptr, indices, values, y)
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
