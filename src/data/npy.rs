//! NumPy `.npy` files, memory-mapped: X and y as two files, or one matrix
//! whose target is a column named by its index. float32 files in C order
//! are used in place (the operating system pages them in as the engines
//! read, and out again under memory pressure); float64 files are converted
//! to float32 as they are opened. Files in Fortran order (what
//! `np.save(path, dataframe.to_numpy())` writes) are read too: a block of
//! rows is gathered from each column's stretch of the file.

use crate::data::error::DataError;
use std::fs::File;
use std::path::Path;

use memmap2::Mmap;
use std::borrow::Cow;

use ndarray::{
    s, Array1, Array2, ArrayView, ArrayViewMut1, ArrayViewMut2, Axis, CowArray, Dimension, Ix1, Ix2,
};
use ndarray_npy::{ViewElement, ViewNpyError, ViewNpyExt};

use crate::atomic_file::AtomicFile;
use crate::data::source::{Block, DataSource};
use crate::error::{Error, Result};

/// Where the data of an `.npy` file begin: after the magic string, the
/// version, the header's length (two bytes in version 1, four after) and
/// the header. 0 for bytes too short to say.
fn data_offset(bytes: &[u8]) -> usize {
    let length = |at: std::ops::Range<usize>| {
        bytes
            .get(at)
            .map(|b| b.iter().rev().fold(0usize, |n, &d| n << 8 | d as usize))
    };
    match bytes.get(6) {
        Some(1) => length(8..10).map_or(0, |n| 10 + n),
        Some(_) => length(8..12).map_or(0, |n| 12 + n),
        None => 0,
    }
}

/// A memory-mapped `.npy` file.
struct Mapped {
    path: String,
    file: File,
    map: Mmap,
}

impl Mapped {
    fn open(path: &Path) -> Result<Self> {
        let shown = path.display().to_string();
        // A map of a device or a pipe fails or, for /dev/zero, reads zeros
        // without end.
        crate::data::input_file::regular_file_size(path)?;
        let file = File::open(path).map_err(|e| Error::Io {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        // SAFETY: the map is read-only and lives as long as the views taken
        // from it. Another process truncating or rewriting the file while it
        // is mapped is outside what this crate can guard against (as for
        // every memory-mapped reader).
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::Io {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        // Read ahead generously: blocks are read front to back.
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(Mapped {
            path: shown,
            file,
            map,
        })
    }

    /// The values of `values` (a slice of this map), read from the file
    /// with positioned reads rather than through the map: large reads keep
    /// the disk streaming where page faults, one per page, would not.
    fn read(&self, values: &[f32]) -> Result<Vec<f32>> {
        // Fresh pages, backed by huge pages where the system allows: a
        // block of hundreds of megabytes would otherwise take a page fault
        // every 4 KB.
        let mut copy = crate::data::synthetic::huge_page_zeros(values.len());
        self.read_into(values, &mut copy)?;
        Ok(copy)
    }

    /// [`Mapped::read`] into `copy`, as long as `values`.
    fn read_into(&self, values: &[f32], copy: &mut [f32]) -> Result<()> {
        let offset = values.as_ptr() as usize - self.map.as_ptr() as usize;
        // SAFETY: `copy` is a live, initialized slice of plain floats;
        // viewed as its bytes it is written whole by the reads, and every
        // bit pattern is a valid float.
        let bytes = unsafe {
            std::slice::from_raw_parts_mut(copy.as_mut_ptr().cast::<u8>(), std::mem::size_of_val(copy))
        };
        // In pieces of a few readahead windows: one read of hundreds of
        // megabytes runs slower than the same bytes read in pieces.
        const PIECE: usize = 32 << 20;
        for (k, piece) in bytes.chunks_mut(PIECE).enumerate() {
            read_exact_at(&self.file, piece, (offset + k * PIECE) as u64).map_err(|e| Error::Io {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        }
        Ok(())
    }

    /// A copy of `values` (a slice of this map), whose pages the process
    /// then gives back: a streamed file's pages would otherwise stay
    /// mapped into the process as it reads on, until it had touched the
    /// whole file.
    fn copy_and_release<T: Copy>(&self, values: &[T]) -> Vec<T> {
        let copy = values.to_vec();
        let offset = values.as_ptr() as usize - self.map.as_ptr() as usize;
        // SAFETY: the map is a read-only private view of a file: pages
        // dropped here are read from the file again on the next access,
        // with the same contents. No reference into the range outlives
        // this call but the copy.
        let _ = unsafe {
            self.map.unchecked_advise_range(
                memmap2::UncheckedAdvice::DontNeed,
                offset,
                std::mem::size_of_val(values),
            )
        };
        copy
    }

    /// The file as an array of `D` dimensions of float32 or float64, in
    /// place.
    fn floats_in_place<D: Dimension>(&self) -> Result<Floats<'_, D>> {
        self.refuse_unaddressable::<f32>()?;
        match self.view::<f32, D>() {
            Ok(view) => Ok(Floats::Single(view)),
            Err(ViewNpyError::WrongDescriptor(_)) => {
                self.refuse_unaddressable::<f64>()?;
                let view = self.view::<f64, D>().map_err(|e| self.error(e))?;
                Ok(Floats::Double(view))
            }
            Err(e) => Err(self.error(e)),
        }
    }

    /// The file as an array of `D` dimensions of float32 (borrowed) or
    /// float64 (converted), in C order.
    fn floats<D: Dimension>(&self) -> Result<CowArray<'_, f32, D>> {
        Ok(match self.floats_in_place::<D>()? {
            Floats::Single(view) => CowArray::from(view),
            Floats::Double(view) => CowArray::from(view.mapv(|v| v as f32)),
        })
    }

    fn view<T: ViewElement, D: Dimension>(&self) -> std::result::Result<ArrayView<'_, T, D>, ViewNpyError> {
        ArrayView::<T, D>::view_npy(&self.map)
    }

    /// A header whose shape, its zero dimensions aside, is more bytes of
    /// `T` than memory can address is [`crate::DataError::MalformedFile`] naming the
    /// shape: ndarray-npy checks the product of the dimensions, which a
    /// zero makes small (`(0, 2**63)`), and then panics where ndarray
    /// refuses the view. A header that does not parse is left to
    /// ndarray-npy's own error.
    fn refuse_unaddressable<T>(&self) -> Result<()> {
        let Ok(header) = ndarray_npy::npy::header::Header::from_reader(&mut &self.map[..]) else {
            return Ok(());
        };
        let bytes = header
            .shape
            .iter()
            .filter(|&&d| d > 0)
            .try_fold(std::mem::size_of::<T>(), |product, &d| product.checked_mul(d));
        match bytes {
            Some(bytes) if bytes <= isize::MAX as usize => Ok(()),
            _ => Err(Error::Data(DataError::MalformedFile {
                path: self.path.clone(),
                reason: format!(
                    "the shape {:?} is more values than memory can address",
                    header.shape
                ),
            })),
        }
    }

    /// The typed error for what the npy reader found.
    fn error(&self, error: ViewNpyError) -> Error {
        let path = self.path.clone();
        match error {
            ViewNpyError::MissingBytes(missing) => {
                let held = self.map.len().saturating_sub(data_offset(&self.map));
                Error::Data(DataError::TruncatedFile {
                    path,
                    reason: format!(
                        "its header's shape needs {} bytes of data, the file holds {held}: {missing} bytes missing",
                        held + missing
                    ),
                })
            }
            ViewNpyError::WrongDescriptor(descriptor) => Error::Data(DataError::UnsupportedNpy {
                path,
                found: format!("dtype {descriptor}; float32 and float64 are read"),
            }),
            ViewNpyError::WrongNdim(expected, found) => Error::Data(DataError::UnsupportedNpy {
                path,
                found: format!(
                    "{found} dimensions where {} are read",
                    expected.map_or("1 or 2".to_string(), |e| e.to_string())
                ),
            }),
            ViewNpyError::NonNativeEndian => Error::Data(DataError::UnsupportedNpy {
                path,
                found: "big-endian data".into(),
            }),
            other => Error::Data(DataError::MalformedFile {
                path,
                reason: other.to_string(),
            }),
        }
    }

    /// The dimensions of an array of `D` dimensions, read in place.
    fn dim<D: Dimension>(&self) -> Result<D::Pattern> {
        Ok(match self.floats_in_place::<D>()? {
            Floats::Single(view) => view.dim(),
            Floats::Double(view) => view.dim(),
        })
    }

    /// `array` in C order: as it is, or a copy of a Fortran-order file's.
    fn c_order<'a, D: Dimension>(&self, array: CowArray<'a, f32, D>) -> CowArray<'a, f32, D> {
        match array.is_standard_layout() {
            true => array,
            false => CowArray::from(array.as_standard_layout().into_owned()),
        }
    }
}

/// Fills `buffer` from `file` at `offset`.
#[cfg(unix)]
fn read_exact_at(file: &File, buffer: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buffer, offset)
}

/// Fills `buffer` from `file` at `offset`.
#[cfg(not(unix))]
fn read_exact_at(mut file: &File, buffer: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buffer)
}

/// A memory-mapped array of float32 or float64.
enum Floats<'a, D: Dimension> {
    Single(ArrayView<'a, f32, D>),
    Double(ArrayView<'a, f64, D>),
}

/// Features and targets from `.npy` files, a [`DataSource`]: the engines
/// read it whole where it fits their memory budget, else block by block.
/// A float32 X is read with positioned reads (into the engine's reused
/// buffers when streaming), other blocks are copied out of the map and its
/// pages given back, so that reading a file larger than memory keeps the
/// process's memory bounded.
pub struct NpyData {
    x: Mapped,
    /// Rows and columns of the X file.
    shape: (usize, usize),
    y: Option<Mapped>,
    /// The target's column in `x`, when the targets are one of its columns.
    target: Option<usize>,
}

impl NpyData {
    /// X from a 2-D file and y from a 1-D one, with as many rows.
    pub fn open(x: impl AsRef<Path>, y: impl AsRef<Path>) -> Result<Self> {
        let mut data = NpyData {
            x: Mapped::open(x.as_ref())?,
            shape: (0, 0),
            y: Some(Mapped::open(y.as_ref())?),
            target: None,
        };
        data.shape = data.x.dim::<Ix2>()?;
        data.refuse_no_rows()?;
        let rows = data.shape.0;
        let targets = match &data.y {
            Some(y) => y.dim::<Ix1>()?,
            None => 0,
        };
        if rows != targets {
            return Err(Error::ShapeMismatch {
                x_rows: rows,
                y_len: targets,
            });
        }
        Ok(data)
    }

    /// One 2-D file whose column `target` (from 0) holds y and whose other
    /// columns are X.
    pub fn open_matrix(path: impl AsRef<Path>, target: usize) -> Result<Self> {
        let mut data = NpyData {
            x: Mapped::open(path.as_ref())?,
            shape: (0, 0),
            y: None,
            target: Some(target),
        };
        data.shape = data.x.dim::<Ix2>()?;
        data.refuse_no_rows()?;
        let columns = data.shape.1;
        if target >= columns {
            return Err(Error::Data(DataError::TargetColumnOutOfRange {
                path: data.x.path.clone(),
                index: target,
                columns,
            }));
        }
        Ok(data)
    }

    /// A file of no rows is [`crate::DataError::EmptyFile`]: it holds no data, and
    /// its columns are a number the header claims that no byte of the
    /// file bounds (`(0, 2**62)` is a valid header of an empty file),
    /// which a reader that named them would allocate.
    fn refuse_no_rows(&self) -> Result<()> {
        match self.shape.0 {
            0 => Err(Error::Data(DataError::EmptyFile {
                path: self.x.path.clone(),
                missing: "data rows",
            })),
            _ => Ok(()),
        }
    }

    fn matrix(&self) -> Result<CowArray<'_, f32, Ix2>> {
        Ok(self.x.c_order(self.x.floats::<Ix2>()?))
    }

    fn targets(&self) -> Result<CowArray<'_, f32, Ix1>> {
        match (&self.y, self.target) {
            (Some(y), _) => y.floats::<Ix1>(),
            // The column alone, in place: not a copy of the matrix.
            (None, Some(column)) => Ok(CowArray::from(match self.x.floats_in_place::<Ix2>()? {
                Floats::Single(view) => view.column(column).to_owned(),
                Floats::Double(view) => view.column(column).mapv(|v| v as f32),
            })),
            (None, None) => unreachable!("a target file or a target column"),
        }
    }

    /// The features: the X file in place where it is float32 in C order
    /// and holds no target column; else a float32 copy.
    pub fn x(&self) -> Result<CowArray<'_, f32, Ix2>> {
        let matrix = self.matrix()?;
        match self.target {
            None => Ok(matrix),
            Some(column) => {
                let kept: Vec<usize> = (0..matrix.ncols()).filter(|&j| j != column).collect();
                Ok(CowArray::from(matrix.select(Axis(1), &kept)))
            }
        }
    }

    /// The targets.
    pub fn y(&self) -> Result<CowArray<'_, f32, Ix1>> {
        self.targets()
    }

    /// The names of the features: `x0`, `x1`, … by their column in the X
    /// file (the target's column skipped).
    pub fn feature_names(&self) -> Result<Vec<String>> {
        Ok((0..self.shape.1)
            .filter(|&j| Some(j) != self.target)
            .map(|j| format!("x{j}"))
            .collect())
    }

    /// The target's name: `x{index}` for a column, else the y file's stem.
    pub fn target_name(&self) -> String {
        match (&self.y, self.target) {
            (_, Some(column)) => format!("x{column}"),
            (Some(y), None) => Path::new(&y.path)
                .file_stem()
                .map_or("y".into(), |s| s.to_string_lossy().into_owned()),
            (None, None) => "y".into(),
        }
    }
}

/// A 1-D file's values as float32 targets (a copy).
pub fn read_targets(path: impl AsRef<Path>) -> Result<Array1<f32>> {
    let mapped = Mapped::open(path.as_ref())?;
    let y = mapped.c_order(mapped.floats::<Ix1>()?);
    Ok(y.into_owned())
}

/// A 2-D file's rows as float32 features (a copy), for predictions.
pub fn read_features(path: impl AsRef<Path>) -> Result<Array2<f32>> {
    let mapped = Mapped::open(path.as_ref())?;
    let x = mapped.c_order(mapped.floats::<Ix2>()?);
    Ok(x.into_owned())
}

impl NpyData {
    /// Targets `start..start + rows`, from the y file or the `matrix`'s
    /// target column.
    fn block_targets<'a>(
        &'a self,
        start: usize,
        rows: usize,
        matrix: &Floats<'a, Ix2>,
    ) -> Result<Cow<'a, [f32]>> {
        Ok(match (&self.y, self.target) {
            (Some(file), _) => match file.floats_in_place::<Ix1>()? {
                Floats::Single(view) => Cow::Owned(
                    file.copy_and_release(
                        view.slice_move(s![start..start + rows])
                            .to_slice()
                            .expect("a 1-D file is contiguous"),
                    ),
                ),
                Floats::Double(view) => Cow::Owned(
                    view.slice(s![start..start + rows])
                        .iter()
                        .map(|&v| v as f32)
                        .collect(),
                ),
            },
            (None, Some(target)) => Cow::Owned(match matrix {
                Floats::Single(view) => view.slice(s![start..start + rows, target]).to_vec(),
                Floats::Double(view) => view
                    .slice(s![start..start + rows, target])
                    .iter()
                    .map(|&v| v as f32)
                    .collect(),
            }),
            (None, None) => unreachable!("a target file or a target column"),
        })
    }
}

impl DataSource for NpyData {
    fn read_into(&self, start: usize, rows: usize, x: &mut Vec<f32>, y: &mut Vec<f32>) -> Result<()> {
        // Only a float32 X in C order without a target column is read in
        // place.
        let view = match self.x.floats_in_place::<Ix2>()? {
            Floats::Single(view) if self.target.is_none() && view.is_standard_layout() => view,
            _ => return self.block(start, rows).map(|block| block.copy_into(x, y)),
        };
        let targets = self.block_targets(start, rows, &Floats::Single(view))?;
        let values = view
            .slice_move(s![start..start + rows, ..])
            .to_slice()
            .expect("C-order rows are contiguous");
        // Grown (and zeroed) only the first time: the engine passes the
        // same buffers block after block.
        x.resize(values.len(), 0.0);
        self.x.read_into(values, x)?;
        y.clear();
        y.extend_from_slice(&targets);
        Ok(())
    }

    fn targets(&self, start: usize, rows: usize) -> Result<Cow<'_, [f32]>> {
        let matrix = self.x.floats_in_place::<Ix2>()?;
        self.block_targets(start, rows, &matrix)
    }

    fn rows(&self) -> usize {
        self.shape.0
    }

    fn features(&self) -> usize {
        self.shape.1 - usize::from(self.target.is_some())
    }

    fn block(&self, start: usize, rows: usize) -> Result<Block<'_>> {
        let range = s![start..start + rows, ..];
        let matrix = self.x.floats_in_place::<Ix2>()?;
        let x: Cow<'_, [f32]> = match (&matrix, self.target) {
            (Floats::Single(view), None) if view.is_standard_layout() => Cow::Owned(
                self.x.read(
                    (*view)
                        .slice_move(range)
                        .to_slice()
                        .expect("C-order rows are contiguous"),
                )?,
            ),
            // The rows in order, however the file lays them out.
            (Floats::Single(view), target) => Cow::Owned(
                view.slice(range)
                    .indexed_iter()
                    .filter(|((_, j), _)| Some(*j) != target)
                    .map(|(_, &v)| v)
                    .collect(),
            ),
            (Floats::Double(view), target) => Cow::Owned(
                view.slice(range)
                    .indexed_iter()
                    .filter(|((_, j), _)| Some(*j) != target)
                    .map(|(_, &v)| v as f32)
                    .collect(),
            ),
        };
        let y = self.block_targets(start, rows, &matrix)?;
        Ok(Block { x, y })
    }
}

/// Writes [`crate::Synthetic`] data of any size straight into `.npy` files
/// (X float32 `rows × features` and y float32), filled in place through a
/// memory map, so that a file larger than memory can be made; returns the
/// weights and bias that generated it. The rows equal
/// `Synthetic::generate(model, rows, features, noise, seed)`'s.
pub fn write_synthetic(
    model: crate::math::model::Model,
    rows: usize,
    features: usize,
    noise: f32,
    seed: u64,
    x_path: impl AsRef<Path>,
    y_path: impl AsRef<Path>,
) -> Result<(ndarray::Array1<f32>, f32)> {
    use ndarray_npy::ViewMutNpyExt;
    // No rows, or a shape whose bytes overflow, before any file is made.
    crate::data::synthetic::Synthetic::x_bytes(rows, features)?;
    let (x_path, y_path) = (x_path.as_ref(), y_path.as_ref());
    let shape = |rows: usize, columns: usize| {
        rows.checked_mul(columns)
            .and_then(|cells| cells.checked_mul(4))
            .map(|_| vec![rows, columns])
            .ok_or(Error::EmptyData { rows, features })
    };
    let (x_file, y_file) = (AtomicFile::create(x_path)?, AtomicFile::create(y_path)?);
    let mut x_map = create_mapped(&x_file, &shape(rows, features)?)?;
    let mut y_map = create_mapped(&y_file, &[rows])?;
    let malformed = |path: &Path, e: &dyn std::fmt::Display| {
        Error::Data(DataError::MalformedFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    };
    let x = ArrayViewMut2::<f32>::view_mut_npy(&mut x_map).map_err(|e| malformed(x_path, &e))?;
    let y = ArrayViewMut1::<f32>::view_mut_npy(&mut y_map).map_err(|e| malformed(y_path, &e))?;
    let parameters = crate::data::synthetic::Synthetic::fill(model, noise, seed, x, y);
    for (map, file) in [(&x_map, &x_file), (&y_map, &y_file)] {
        map.flush().map_err(|e| file.error(e))?;
    }
    drop((x_map, y_map));
    x_file.commit()?;
    y_file.commit()?;
    Ok(parameters)
}

/// Makes `output` a float32 `.npy` file of `shape`, zeroed, with its
/// blocks on the disk, and maps it for writing in place.
fn create_mapped(output: &AtomicFile, shape: &[usize]) -> Result<memmap2::MmapMut> {
    let file = output.temporary_file();
    ndarray_npy::write_zeroed_npy::<f32, _>(file, shape.to_vec()).map_err(|e| output.error(e))?;
    reserve_blocks(file).map_err(|e| output.error(e))?;
    // SAFETY: the file was just created by this process and is mapped
    // once, for writing by the caller.
    unsafe { memmap2::MmapMut::map_mut(file) }.map_err(|e| output.error(e))
}

/// Allocates the disk blocks of the whole of `file` (zeroed), so that
/// writing through a memory map cannot find the disk full: a sparse file
/// whose pages find no block on the disk would kill the process by SIGBUS.
fn reserve_blocks(file: &std::fs::File) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        let length = file.metadata()?.len();
        let length = libc::off_t::try_from(length).map_err(std::io::Error::other)?;
        // SAFETY: the descriptor belongs to a live, open file.
        let code = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, length) };
        if code != 0 {
            return Err(std::io::Error::from_raw_os_error(code));
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
    Ok(())
}

/// Writes the rows of `source` to `path` as one float32 matrix whose last
/// column is the target, `blocks` rows at a time (the file is filled in
/// place, so the rows are never all in memory).
pub(crate) fn write_matrix(source: &dyn DataSource, path: &Path, block_rows: usize) -> Result<()> {
    use ndarray_npy::ViewMutNpyExt;
    let (n, d) = (source.rows(), source.features());
    let output = AtomicFile::create(path)?;
    let mut map = create_mapped(&output, &[n, d + 1])?;
    {
        let mut matrix = ArrayViewMut2::<f32>::view_mut_npy(&mut map).map_err(|e| {
            Error::Data(DataError::MalformedFile {
                path: path.display().to_string(),
                reason: e.to_string(),
            })
        })?;
        for start in (0..n).step_by(block_rows.max(1)) {
            let rows = block_rows.min(n - start);
            let block = source.block(start, rows)?;
            for (k, mut row) in matrix
                .slice_mut(s![start..start + rows, ..])
                .rows_mut()
                .into_iter()
                .enumerate()
            {
                row.slice_mut(s![..d])
                    .assign(&ndarray::ArrayView1::from(&block.x[k * d..(k + 1) * d]));
                row[d] = block.y[k];
            }
        }
    }
    map.flush().map_err(|e| output.error(e))?;
    drop(map);
    output.commit()
}
