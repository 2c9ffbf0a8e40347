//! NumPy `.npy` files, memory-mapped: X and y as two files, or one matrix
//! whose target is a column named by its index. float32 files in C order
//! are used in place (the operating system pages them in as the engines
//! read, and out again under memory pressure); float64 files are converted
//! to float32 as they are opened.

use std::fs::File;
use std::path::Path;

use memmap2::Mmap;
use ndarray::{Array2, ArrayView, Axis, CowArray, Dimension, Ix1, Ix2};
use ndarray_npy::{ViewElement, ViewNpyError, ViewNpyExt};

use crate::error::{Error, Result};

/// A memory-mapped `.npy` file.
struct Mapped {
    path: String,
    map: Mmap,
}

impl Mapped {
    fn open(path: &Path) -> Result<Self> {
        let shown = path.display().to_string();
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
        Ok(Mapped { path: shown, map })
    }

    /// The file as an array of `D` dimensions of float32 (borrowed) or
    /// float64 (converted), in C order.
    fn floats<D: Dimension>(&self) -> Result<CowArray<'_, f32, D>> {
        match self.view::<f32, D>() {
            Ok(view) => Ok(CowArray::from(view)),
            Err(ViewNpyError::WrongDescriptor(_)) => {
                let view = self.view::<f64, D>().map_err(|e| self.error(e))?;
                Ok(CowArray::from(view.mapv(|v| v as f32)))
            }
            Err(e) => Err(self.error(e)),
        }
    }

    fn view<T: ViewElement, D: Dimension>(&self) -> std::result::Result<ArrayView<'_, T, D>, ViewNpyError> {
        ArrayView::<T, D>::view_npy(&self.map)
    }

    /// The typed error for what the npy reader found.
    fn error(&self, error: ViewNpyError) -> Error {
        let path = self.path.clone();
        match error {
            ViewNpyError::MissingBytes(missing) => Error::TruncatedFile {
                path,
                reason: format!("{missing} bytes of data missing"),
            },
            ViewNpyError::WrongDescriptor(descriptor) => Error::UnsupportedNpy {
                path,
                found: format!("dtype {descriptor}; float32 and float64 are read"),
            },
            ViewNpyError::WrongNdim(expected, found) => Error::UnsupportedNpy {
                path,
                found: format!(
                    "{found} dimensions where {} are read",
                    expected.map_or("1 or 2".to_string(), |e| e.to_string())
                ),
            },
            ViewNpyError::NonNativeEndian => Error::UnsupportedNpy {
                path,
                found: "big-endian data".into(),
            },
            other => Error::MalformedFile {
                path,
                reason: other.to_string(),
            },
        }
    }

    /// Refuses Fortran order, whose rows are not contiguous.
    fn c_order<'a, D: Dimension>(&self, array: CowArray<'a, f32, D>) -> Result<CowArray<'a, f32, D>> {
        if array.ndim() > 1 && !array.is_standard_layout() {
            return Err(Error::UnsupportedNpy {
                path: self.path.clone(),
                found: "Fortran order; C order is read (numpy.ascontiguousarray)".into(),
            });
        }
        Ok(array)
    }
}

/// Features and targets from `.npy` files.
pub struct NpyData {
    x: Mapped,
    y: Option<Mapped>,
    /// The target's column in `x`, when the targets are one of its columns.
    target: Option<usize>,
}

impl NpyData {
    /// X from a 2-D file and y from a 1-D one, with as many rows.
    pub fn open(x: impl AsRef<Path>, y: impl AsRef<Path>) -> Result<Self> {
        let data = NpyData {
            x: Mapped::open(x.as_ref())?,
            y: Some(Mapped::open(y.as_ref())?),
            target: None,
        };
        let (rows, targets) = (data.matrix()?.nrows(), data.targets()?.len());
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
        let data = NpyData {
            x: Mapped::open(path.as_ref())?,
            y: None,
            target: Some(target),
        };
        let columns = data.matrix()?.ncols();
        if target >= columns {
            return Err(Error::TargetColumnOutOfRange {
                path: data.x.path.clone(),
                index: target,
                columns,
            });
        }
        Ok(data)
    }

    fn matrix(&self) -> Result<CowArray<'_, f32, Ix2>> {
        self.x.c_order(self.x.floats::<Ix2>()?)
    }

    fn targets(&self) -> Result<CowArray<'_, f32, Ix1>> {
        match (&self.y, self.target) {
            (Some(y), _) => y.floats::<Ix1>(),
            (None, Some(column)) => Ok(CowArray::from(self.matrix()?.column(column).to_owned())),
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
        let columns = self.matrix()?.ncols();
        Ok((0..columns)
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

/// A 2-D file's rows as float32 features (a copy), for predictions.
pub fn read_features(path: impl AsRef<Path>) -> Result<Array2<f32>> {
    let mapped = Mapped::open(path.as_ref())?;
    let x = mapped.c_order(mapped.floats::<Ix2>()?)?;
    Ok(x.into_owned())
}
