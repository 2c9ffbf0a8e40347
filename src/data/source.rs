//! Where engines get rows from: a [`DataSource`] yields blocks of whole
//! rows (X row-major and y; a weight per row can join `Block` later without
//! touching the engines' contract). Engines read nothing else, so data need
//! not lie in one slice: the user's arrays, rows scaled as they are read,
//! a memory-mapped `.npy` file ([`crate::data::npy::NpyData`]) or a source of the
//! caller's own making, fitted with
//! [`GradientDescent::fit_source`](crate::GradientDescent::fit_source).

use crate::data::error::DataError;
use std::borrow::Cow;

use ndarray::{ArrayView1, ArrayView2, CowArray, Ix1, Ix2};
use rayon::prelude::*;

use crate::data::scaling::{Standardizer, TargetScaling};
use crate::error::{Error, Result};
use crate::math::loss::Loss;
use crate::math::model::Model;

/// Rows `start..start + rows` of a source.
#[derive(Debug, Clone)]
pub struct Block<'a> {
    /// The rows' features, row-major: `rows × features` values.
    pub x: Cow<'a, [f32]>,
    /// The rows' targets.
    pub y: Cow<'a, [f32]>,
}

/// Rows in compressed sparse row form, borrowed from a source that holds
/// them so ([`crate::data::sparse::CsrData`]).
#[derive(Debug, Clone, Copy)]
pub struct Csr<'a> {
    /// Features per row, the zeros included.
    pub features: usize,
    /// One more than the rows: row `i`'s entries are
    /// `indptr[i] - indptr[0]..indptr[i + 1] - indptr[0]` of `indices` and
    /// `values` ([`Csr::entries`]; `indptr[0]` is 0 but in a range of
    /// another's rows, whose arrays it slices).
    pub indptr: &'a [usize],
    /// Each entry's feature, strictly increasing within a row.
    pub indices: &'a [u32],
    /// Each entry's value.
    pub values: &'a [f32],
}

impl<'a> Csr<'a> {
    /// Where row `i`'s entries lie in `indices` and `values`.
    #[inline(always)]
    pub fn entries(&self, i: usize) -> std::ops::Range<usize> {
        let base = self.indptr[0];
        self.indptr[i] - base..self.indptr[i + 1] - base
    }

    /// Row `i`'s entries: their features and values.
    #[inline(always)]
    pub fn row(&self, i: usize) -> (&'a [u32], &'a [f32]) {
        let entries = self.entries(i);
        (&self.indices[entries.clone()], &self.values[entries])
    }

    /// Rows `range` of these rows (within them): their share of the arrays.
    pub fn rows(&self, range: std::ops::Range<usize>) -> Csr<'a> {
        let base = self.indptr[0];
        let entries = self.indptr[range.start] - base..self.indptr[range.end] - base;
        Csr {
            features: self.features,
            indptr: &self.indptr[range.start..=range.end],
            indices: &self.indices[entries.clone()],
            values: &self.values[entries],
        }
    }

    /// Rows `start..start + rows` written out dense, row-major, into `x`.
    pub fn write_dense(&self, start: usize, rows: usize, x: &mut Vec<f32>) {
        x.clear();
        x.resize(rows * self.features, 0.0);
        for (row, dense) in x.chunks_exact_mut(self.features.max(1)).take(rows).enumerate() {
            let (indices, values) = self.row(start + row);
            for (&index, &value) in indices.iter().zip(values) {
                dense[index as usize] = value;
            }
        }
    }
}

/// A source's sparse rows as its blocks give them: the CSR arrays, and
/// where the source standardizes its features, each feature's mean and
/// scale, so that feature j of a row is (xᵢⱼ − meanⱼ) / scaleⱼ, its zeros
/// included (the rows are then dense in value, sparse in storage).
#[derive(Debug, Clone, Copy)]
pub struct Sparse<'a> {
    /// The stored entries.
    pub csr: Csr<'a>,
    /// The features' means and scales, where the source standardizes them.
    pub standardization: Option<(&'a [f32], &'a [f32])>,
}

impl Sparse<'_> {
    /// The `parameters` (the weights feature by feature, `margins` each,
    /// then the biases) that a pass over the stored entries takes to give
    /// the standardized rows' margins: with xᵢⱼ standardized to
    /// (xᵢⱼ − μⱼ)/sⱼ, a margin is b − Σⱼ μⱼ wⱼ/sⱼ + Σ over the stored
    /// entries of xᵢⱼ wⱼ/sⱼ. Unchanged without a standardization.
    pub fn fold(&self, parameters: &mut [f64], margins: usize) {
        let Some((means, scales)) = self.standardization else {
            return;
        };
        let (weights, biases) = parameters.split_at_mut(self.csr.features * margins);
        for (j, (&mean, &scale)) in means.iter().zip(scales).enumerate() {
            for (w, b) in weights[j * margins..(j + 1) * margins]
                .iter_mut()
                .zip(biases.iter_mut())
            {
                *w /= f64::from(scale);
                *b -= f64::from(mean) * *w;
            }
        }
    }

    /// The sums Σᵢ ℓ′ᵢ xᵢⱼ of a pass over the stored entries, laid out as
    /// the parameters are (the biases' Σᵢ ℓ′ᵢ last), mapped to the
    /// standardized rows': (Σᵢ ℓ′ᵢ xᵢⱼ − μⱼ Σᵢ ℓ′ᵢ)/sⱼ. Unchanged without a
    /// standardization.
    pub fn unfold(&self, sums: &mut [f64], margins: usize) {
        let Some((means, scales)) = self.standardization else {
            return;
        };
        let (weights, biases) = sums.split_at_mut(self.csr.features * margins);
        for (j, (&mean, &scale)) in means.iter().zip(scales).enumerate() {
            for (w, &b) in weights[j * margins..(j + 1) * margins]
                .iter_mut()
                .zip(biases.iter())
            {
                *w = (*w - f64::from(mean) * b) / f64::from(scale);
            }
        }
    }
}

impl Block<'_> {
    /// Rows in the block.
    pub fn rows(&self) -> usize {
        self.y.len()
    }

    /// Copies the rows into `x` and `y`, replacing what they held.
    pub fn copy_into(&self, x: &mut Vec<f32>, y: &mut Vec<f32>) {
        x.clear();
        x.extend_from_slice(&self.x);
        y.clear();
        y.extend_from_slice(&self.y);
    }
}

/// The methods of [`DataSource`] that a wrapper around another source
/// (its field `inner`) passes on unchanged, written once.
macro_rules! pass_on_to_inner {
    (rows) => {
        fn rows(&self) -> usize {
            self.inner.rows()
        }
    };
    (features) => {
        fn features(&self) -> usize {
            self.inner.features()
        }
    };
    (block) => {
        fn block(&self, start: usize, rows: usize) -> Result<Block<'_>> {
            self.inner.block(start, rows)
        }
    };
    (resident) => {
        fn resident(&self) -> Option<Block<'_>> {
            self.inner.resident()
        }
    };
    (targets) => {
        fn targets(&self, start: usize, rows: usize) -> Result<Cow<'_, [f32]>> {
            self.inner.targets(start, rows)
        }
    };
    (weights) => {
        fn weights(&self, start: usize, rows: usize) -> Result<Option<Cow<'_, [f32]>>> {
            self.inner.weights(start, rows)
        }
    };
    (sparse) => {
        fn sparse(&self) -> Option<Sparse<'_>> {
            self.inner.sparse()
        }
    };
    (read_into) => {
        fn read_into(&self, start: usize, rows: usize, x: &mut Vec<f32>, y: &mut Vec<f32>) -> Result<()> {
            self.inner.read_into(start, rows, x, y)
        }
    };
    ($($method:ident),+) => {
        $(pass_on_to_inner!($method);)+
    };
}

/// Rows of a data set, read in blocks. Engines read a source whole when
/// it fits the memory budget, else block by block (any `start` and `rows`
/// within the source, in any order the shuffle asks for), from several
/// threads: reading must not change the source.
pub trait DataSource: Sync {
    /// Rows in the whole source.
    fn rows(&self) -> usize;
    /// Features per row.
    fn features(&self) -> usize;
    /// Rows `start..start + rows`; the range lies within the source.
    fn block(&self, start: usize, rows: usize) -> Result<Block<'_>>;
    /// Every row as one block borrowed from memory the source already
    /// holds, where it holds them so; `None` otherwise.
    fn resident(&self) -> Option<Block<'_>> {
        None
    }
    /// The targets of rows `start..start + rows`: what a pass that needs
    /// no features reads (the default reads the block).
    fn targets(&self, start: usize, rows: usize) -> Result<Cow<'_, [f32]>> {
        Ok(self.block(start, rows)?.y)
    }
    /// The sample weights of rows `start..start + rows`, where the source
    /// has them (each finite and at least 0; [`Weighted`] checks them);
    /// `None` where every row weighs 1 (the default).
    fn weights(&self, start: usize, rows: usize) -> Result<Option<Cow<'_, [f32]>>> {
        let _ = (start, rows);
        Ok(None)
    }
    /// Rows `start..start + rows` into `x` and `y`, replacing what they
    /// held: what a streaming engine calls, with the same two buffers over
    /// and over, so that a source reading a file can fill them in place
    /// (the default copies [`DataSource::block`]).
    fn read_into(&self, start: usize, rows: usize, x: &mut Vec<f32>, y: &mut Vec<f32>) -> Result<()> {
        self.block(start, rows)?.copy_into(x, y);
        Ok(())
    }

    /// The rows in compressed sparse row form, where the source holds them
    /// so, with the standardization its blocks apply to them: an engine
    /// with a pass over CSR reads them there, in place of dense blocks.
    fn sparse(&self) -> Option<Sparse<'_>> {
        None
    }
}

/// A range of a source's rows as a source of its own: one rank's shard of
/// a file split among the ranks of a data-parallel fit
/// ([`crate::distributed::shard_of`]). Only the range's rows are read.
pub struct RowRange<'a> {
    inner: &'a dyn DataSource,
    range: std::ops::Range<usize>,
}

impl<'a> RowRange<'a> {
    /// Rows `range` of `inner`; [`crate::DataError::RowRange`] where the range goes
    /// beyond its rows.
    pub fn new(inner: &'a dyn DataSource, range: std::ops::Range<usize>) -> Result<Self> {
        if range.start > range.end || range.end > inner.rows() {
            return Err(Error::Data(DataError::RowRange {
                start: range.start,
                end: range.end,
                rows: inner.rows(),
            }));
        }
        Ok(RowRange { inner, range })
    }

    /// The inner source's index of this range's row `start`, where rows
    /// `start..start + rows` lie within the range.
    fn at(&self, start: usize, rows: usize) -> Result<usize> {
        match start.checked_add(rows) {
            Some(end) if end <= self.range.len() => Ok(self.range.start + start),
            _ => Err(Error::Data(DataError::RowRange {
                start,
                end: start.saturating_add(rows),
                rows: self.range.len(),
            })),
        }
    }
}

impl DataSource for RowRange<'_> {
    pass_on_to_inner!(features);

    fn rows(&self) -> usize {
        self.range.len()
    }

    fn block(&self, start: usize, rows: usize) -> Result<Block<'_>> {
        self.inner.block(self.at(start, rows)?, rows)
    }

    fn resident(&self) -> Option<Block<'_>> {
        let whole = self.inner.resident()?;
        let d = self.inner.features();
        let (from, to) = (self.range.start, self.range.end);
        Some(Block {
            x: match whole.x {
                Cow::Borrowed(x) => Cow::Borrowed(&x[from * d..to * d]),
                Cow::Owned(x) => Cow::Owned(x[from * d..to * d].to_vec()),
            },
            y: match whole.y {
                Cow::Borrowed(y) => Cow::Borrowed(&y[from..to]),
                Cow::Owned(y) => Cow::Owned(y[from..to].to_vec()),
            },
        })
    }

    fn targets(&self, start: usize, rows: usize) -> Result<Cow<'_, [f32]>> {
        self.inner.targets(self.at(start, rows)?, rows)
    }

    fn weights(&self, start: usize, rows: usize) -> Result<Option<Cow<'_, [f32]>>> {
        self.inner.weights(self.at(start, rows)?, rows)
    }

    fn read_into(&self, start: usize, rows: usize, x: &mut Vec<f32>, y: &mut Vec<f32>) -> Result<()> {
        self.inner.read_into(self.at(start, rows)?, rows, x, y)
    }

    /// The range's share of the inner rows' CSR arrays, where it has them.
    fn sparse(&self) -> Option<Sparse<'_>> {
        let inner = self.inner.sparse()?;
        Some(Sparse {
            csr: inner.csr.rows(self.range.clone()),
            standardization: inner.standardization,
        })
    }
}

/// Rows `start..start + rows` of `source` read into new buffers through
/// [`DataSource::read_into`]: the `block` of a source that reads into
/// buffers natively.
pub(crate) fn read_block(source: &dyn DataSource, start: usize, rows: usize) -> Result<Block<'static>> {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    source.read_into(start, rows, &mut x, &mut y)?;
    Ok(Block {
        x: Cow::Owned(x),
        y: Cow::Owned(y),
    })
}

/// Every row of `source`: borrowed where it is resident, else read block
/// by block into one block.
pub(crate) fn all_rows(source: &dyn DataSource) -> Result<Block<'_>> {
    if let Some(block) = source.resident() {
        return Ok(block);
    }
    source.block(0, source.rows())
}

/// Another source's rows read into memory once, for many runs over them to
/// borrow (the models of a lockstep fit, [`crate::engine::lockstep`]):
/// the same rows, targets and weights as the source, resident.
pub(crate) struct ReadWhole<'a> {
    inner: &'a dyn DataSource,
    x: Vec<f32>,
    y: Vec<f32>,
}

impl<'a> ReadWhole<'a> {
    /// `inner`'s rows, read.
    pub(crate) fn new(inner: &'a dyn DataSource) -> Result<Self> {
        let (mut x, mut y) = (Vec::new(), Vec::new());
        inner.read_into(0, inner.rows(), &mut x, &mut y)?;
        Ok(ReadWhole { inner, x, y })
    }
}

impl DataSource for ReadWhole<'_> {
    pass_on_to_inner!(rows, features, weights);

    fn block(&self, start: usize, rows: usize) -> Result<Block<'_>> {
        let d = self.inner.features();
        Ok(Block {
            x: Cow::Borrowed(&self.x[start * d..(start + rows) * d]),
            y: Cow::Borrowed(&self.y[start..start + rows]),
        })
    }

    fn resident(&self) -> Option<Block<'_>> {
        Some(Block {
            x: Cow::Borrowed(&self.x),
            y: Cow::Borrowed(&self.y),
        })
    }
}

/// Rows and targets in memory, as a [`DataSource`] (what
/// [`crate::GradientDescent::fit`] fits); the rows are checked by the fit.
pub struct InMemory<'a> {
    x: CowArray<'a, f32, Ix2>,
    y: CowArray<'a, f32, Ix1>,
}

impl<'a> InMemory<'a> {
    /// Borrows `x` and `y`, copying them only where they are not already in
    /// standard (row-major, contiguous) layout.
    /// ([`Error::ShapeMismatch`] where `x` and `y` hold different numbers
    /// of rows).
    pub fn new(x: ArrayView2<'a, f32>, y: ArrayView1<'a, f32>) -> Result<Self> {
        if x.nrows() != y.len() {
            return Err(Error::ShapeMismatch {
                x_rows: x.nrows(),
                y_len: y.len(),
            });
        }
        Ok(Self::unchecked(x, y))
    }

    /// As [`InMemory::new`], for rows whose shapes the caller has checked.
    pub(crate) fn unchecked(x: ArrayView2<'a, f32>, y: ArrayView1<'a, f32>) -> Self {
        InMemory {
            x: if x.is_standard_layout() {
                CowArray::from(x)
            } else {
                CowArray::from(x.as_standard_layout().into_owned())
            },
            y: if y.is_standard_layout() {
                CowArray::from(y)
            } else {
                CowArray::from(y.to_owned())
            },
        }
    }

    fn x(&self) -> &[f32] {
        self.x.as_slice().expect("standard layout is contiguous")
    }

    fn y(&self) -> &[f32] {
        self.y.as_slice().expect("standard layout is contiguous")
    }
}

impl DataSource for InMemory<'_> {
    fn rows(&self) -> usize {
        self.x.nrows()
    }

    fn features(&self) -> usize {
        self.x.ncols()
    }

    fn block(&self, start: usize, rows: usize) -> Result<Block<'_>> {
        let d = self.features();
        Ok(Block {
            x: Cow::Borrowed(&self.x()[start * d..(start + rows) * d]),
            y: Cow::Borrowed(&self.y()[start..start + rows]),
        })
    }

    fn resident(&self) -> Option<Block<'_>> {
        Some(Block {
            x: Cow::Borrowed(self.x()),
            y: Cow::Borrowed(self.y()),
        })
    }

    fn targets(&self, start: usize, rows: usize) -> Result<Cow<'_, [f32]>> {
        Ok(Cow::Borrowed(&self.y()[start..start + rows]))
    }
}

/// Another source's rows scaled as they are read: each feature standardized
/// ((x − mean) / scale) and, for a linear model, the target too. The
/// source's own rows are never copied whole.
pub(crate) struct Standardized<'a> {
    inner: &'a dyn DataSource,
    features: Option<&'a Standardizer>,
    target: Option<TargetScaling>,
}

impl<'a> Standardized<'a> {
    pub(crate) fn new(
        inner: &'a dyn DataSource,
        features: Option<&'a Standardizer>,
        target: Option<TargetScaling>,
    ) -> Self {
        Standardized {
            inner,
            features,
            target,
        }
    }
}

/// Rows per parallel task when a block is standardized.
const TRANSFORM_ROWS: usize = 4096;

impl DataSource for Standardized<'_> {
    pass_on_to_inner!(rows, features, weights);

    /// The inner rows' CSR arrays, with this standardization (a source
    /// standardized twice has none: its blocks are read dense).
    fn sparse(&self) -> Option<Sparse<'_>> {
        let inner = self
            .inner
            .sparse()
            .filter(|inner| inner.standardization.is_none())?;
        let standardization = match self.features {
            Some(standardizer) => Some((standardizer.mean().to_slice()?, standardizer.scale().to_slice()?)),
            None => None,
        };
        Some(Sparse {
            csr: inner.csr,
            standardization,
        })
    }

    fn block(&self, start: usize, rows: usize) -> Result<Block<'_>> {
        let block = self.inner.block(start, rows)?;
        let x = match self.features {
            Some(_) => {
                let mut x = block.x.into_owned();
                self.scale_features(&mut x);
                Cow::Owned(x)
            }
            None => block.x,
        };
        let y = match self.target {
            Some(_) => {
                let mut y = block.y.into_owned();
                self.scale_targets(&mut y);
                Cow::Owned(y)
            }
            None => block.y,
        };
        Ok(Block { x, y })
    }

    fn targets(&self, start: usize, rows: usize) -> Result<Cow<'_, [f32]>> {
        let targets = self.inner.targets(start, rows)?;
        Ok(match self.target {
            Some(_) => {
                let mut y = targets.into_owned();
                self.scale_targets(&mut y);
                Cow::Owned(y)
            }
            None => targets,
        })
    }

    /// The inner source's rows read into the engine's buffers, then scaled
    /// there: a streamed fit reuses its buffers through the scaling too.
    fn read_into(&self, start: usize, rows: usize, x: &mut Vec<f32>, y: &mut Vec<f32>) -> Result<()> {
        self.inner.read_into(start, rows, x, y)?;
        self.scale_features(x);
        self.scale_targets(y);
        Ok(())
    }
}

impl Standardized<'_> {
    /// Standardizes rows of features in place, where the features are
    /// standardized.
    fn scale_features(&self, x: &mut [f32]) {
        let Some(standardizer) = self.features else {
            return;
        };
        let d = self.features();
        let (mean, scale) = (standardizer.mean(), standardizer.scale());
        x.par_chunks_mut(TRANSFORM_ROWS * d).for_each(|rows| {
            for row in rows.chunks_exact_mut(d) {
                for ((v, &m), &s) in row.iter_mut().zip(mean.iter()).zip(scale.iter()) {
                    *v = (*v - m) / s;
                }
            }
        });
    }

    /// Scales targets in place, where the target is scaled.
    fn scale_targets(&self, y: &mut [f32]) {
        if let Some(target) = self.target {
            y.iter_mut().for_each(|v| *v = target.transform(*v));
        }
    }
}

/// Another source's rows with every target 0: the gradient of the squared
/// error at parameters v is then (2/n) XᵀX v exactly, the curvature times v
/// (how [`crate::train::curvature`] measures it without the targets' rounding).
pub(crate) struct ZeroTargets<'a> {
    inner: &'a dyn DataSource,
}

impl<'a> ZeroTargets<'a> {
    pub(crate) fn new(inner: &'a dyn DataSource) -> Self {
        ZeroTargets { inner }
    }
}

impl DataSource for ZeroTargets<'_> {
    pass_on_to_inner!(rows, features, weights, sparse);

    fn targets(&self, _start: usize, rows: usize) -> Result<Cow<'_, [f32]>> {
        Ok(Cow::Owned(vec![0.0; rows]))
    }

    fn block(&self, start: usize, rows: usize) -> Result<Block<'_>> {
        let block = self.inner.block(start, rows)?;
        Ok(Block {
            x: block.x,
            y: Cow::Owned(vec![0.0; rows]),
        })
    }
}

/// Another source's rows with a sample weight each: its loss and gradient
/// are then weighted means, Σ sᵢ ℓᵢ / Σ sᵢ (scikit-learn's `sample_weight`).
///
/// ```
/// use downhill::data::source::{InMemory, Weighted};
/// use downhill::GradientDescent;
/// use ndarray::array;
///
/// let x = array![[0.0f32], [1.0], [2.0]];
/// let y = array![0.0f32, 1.0, 5.0];
/// let rows = InMemory::new(x.view(), y.view())?;
/// // The last row weighs nothing: the line through the first two.
/// let weighted = Weighted::new(&rows, &[1.0, 1.0, 0.0])?;
/// let fitted = GradientDescent::linear()
///     .optimizer(downhill::Optimizer::sgd(0.3))
///     .max_epochs(5000)
///     .fit_source(&weighted)?;
/// assert!((fitted.weights()[0] - 1.0).abs() < 1e-3);
/// # Ok::<(), downhill::Error>(())
/// ```
pub struct Weighted<'a> {
    inner: &'a dyn DataSource,
    weights: Cow<'a, [f32]>,
}

impl<'a> Weighted<'a> {
    /// `inner`'s rows with `weights`, one per row: each finite and at least
    /// 0 ([`Error::InvalidWeight`] names the first that is not), not all 0
    /// ([`Error::ZeroWeights`]), as many as the rows
    /// ([`Error::WeightCountMismatch`]).
    pub fn new(inner: &'a dyn DataSource, weights: impl Into<Cow<'a, [f32]>>) -> Result<Self> {
        let weights = weights.into();
        if weights.len() != inner.rows() {
            return Err(Error::WeightCountMismatch {
                rows: inner.rows(),
                weights: weights.len(),
            });
        }
        check_weights(&weights, 0)?;
        if weights.iter().all(|&w| w == 0.0) {
            return Err(Error::ZeroWeights);
        }
        Ok(Weighted { inner, weights })
    }

    /// Held-out rows with their weights, checked (with
    /// [`check_weights`]) before the rows were split; they may all be 0,
    /// when the held-out loss is not recorded.
    pub(crate) fn held_out(inner: &'a dyn DataSource, weights: Vec<f32>) -> Self {
        Weighted {
            inner,
            weights: Cow::Owned(weights),
        }
    }
}

/// Another source's labels (0 and 1) weighted per class: each row's weight
/// is its class's factor times its own sample weight, where it has one.
pub(crate) struct ClassWeighted<'a> {
    inner: &'a dyn DataSource,
    /// The factor of each class, by its label 0, 1, ….
    factors: Vec<f32>,
}

impl<'a> ClassWeighted<'a> {
    pub(crate) fn new(inner: &'a dyn DataSource, factors: Vec<f32>) -> Self {
        ClassWeighted { inner, factors }
    }
}

impl DataSource for ClassWeighted<'_> {
    pass_on_to_inner!(rows, features, block, resident, targets, read_into, sparse);

    fn weights(&self, start: usize, rows: usize) -> Result<Option<Cow<'_, [f32]>>> {
        let targets = self.inner.targets(start, rows)?;
        // Labels were checked to be classes; anything else weighs nothing.
        let factor = |y: f32| self.factors.get(y as usize).copied().unwrap_or(0.0);
        Ok(Some(Cow::Owned(match self.inner.weights(start, rows)? {
            Some(weights) => targets
                .iter()
                .zip(weights.iter())
                .map(|(&y, &w)| factor(y) * w)
                .collect(),
            None => targets.iter().map(|&y| factor(y)).collect(),
        })))
    }
}

/// `source`'s weights of rows `start..start + rows`, checked to be one per
/// row ([`Error::WeightCountMismatch`]): what the engines read, so that a
/// source of the caller's making cannot make them index past its weights.
pub(crate) fn weights_of(
    source: &dyn DataSource,
    start: usize,
    rows: usize,
) -> Result<Option<Cow<'_, [f32]>>> {
    let weights = source.weights(start, rows)?;
    match &weights {
        Some(weights) if weights.len() != rows => Err(Error::WeightCountMismatch {
            rows,
            weights: weights.len(),
        }),
        _ => Ok(weights),
    }
}

/// The sum of `source`'s sample weights, in float64 and in row order, a
/// block of rows at a time; `None` where its rows weigh 1.
pub(crate) fn weight_sum(source: &dyn DataSource) -> Result<Option<f64>> {
    const BLOCK_ROWS: usize = 1 << 16;
    let n = source.rows();
    if weights_of(source, 0, n.min(1))?.is_none() {
        return Ok(None);
    }
    let mut sum = 0.0;
    for start in (0..n).step_by(BLOCK_ROWS) {
        let rows = BLOCK_ROWS.min(n - start);
        if let Some(weights) = weights_of(source, start, rows)? {
            sum += weights.iter().map(|&w| f64::from(w)).sum::<f64>();
        }
    }
    Ok(Some(sum))
}

/// The first weight that is negative or not finite, named by its row
/// (`first_row` the row of `weights[0]`).
pub(crate) fn check_weights(weights: &[f32], first_row: usize) -> Result<()> {
    match weights.iter().position(|w| !(w.is_finite() && *w >= 0.0)) {
        Some(i) => Err(Error::InvalidWeight {
            row: first_row + i,
            value: weights[i],
        }),
        None => Ok(()),
    }
}

impl DataSource for Weighted<'_> {
    pass_on_to_inner!(rows, features, block, resident, targets, read_into, sparse);

    fn weights(&self, start: usize, rows: usize) -> Result<Option<Cow<'_, [f32]>>> {
        Ok(Some(Cow::Borrowed(&self.weights[start..start + rows])))
    }
}

/// Some of another source's rows, in its order: a cross-validation
/// fold's training or held-out rows where the rows are not in memory
/// (a file streamed, a shard of a data-parallel fit). A block of them
/// reads the inner rows that span it, a bounded piece at a time, and
/// keeps the chosen ones; the rows' weights come with them. Sparse rows
/// stay sparse: their CSR arrays copied once, the chosen rows' entries
/// alone.
pub(crate) struct RowSubset<'a> {
    inner: &'a dyn DataSource,
    /// The inner source's indices of these rows, increasing.
    rows: Vec<usize>,
    /// The chosen rows' CSR arrays (indptr, indices, values), where the
    /// inner source holds its rows so.
    csr: Option<(Vec<usize>, Vec<u32>, Vec<f32>)>,
}

impl<'a> RowSubset<'a> {
    /// Rows `rows` of `inner` (increasing indices within it).
    pub(crate) fn new(inner: &'a dyn DataSource, rows: Vec<usize>) -> Self {
        debug_assert!(rows.windows(2).all(|w| w[0] < w[1]));
        debug_assert!(rows.last().is_none_or(|&last| last < inner.rows()));
        let csr = inner.sparse().map(|sparse| {
            let entries: usize = rows.iter().map(|&row| sparse.csr.entries(row).len()).sum();
            let (mut indptr, mut indices, mut values) = (
                Vec::with_capacity(rows.len() + 1),
                Vec::with_capacity(entries),
                Vec::with_capacity(entries),
            );
            indptr.push(0);
            for &row in &rows {
                let (row_indices, row_values) = sparse.csr.row(row);
                indices.extend_from_slice(row_indices);
                values.extend_from_slice(row_values);
                indptr.push(indices.len());
            }
            (indptr, indices, values)
        });
        RowSubset { inner, rows, csr }
    }

    /// Calls `keep` with each piece of the inner rows that spans rows
    /// `start..start + rows` of this subset: the piece's first inner row
    /// and the subset's rows that lie in it. The pieces hold at most
    /// `rows` rows or 4,096, whichever is more.
    fn pieces(
        &self,
        start: usize,
        rows: usize,
        mut keep: impl FnMut(usize, usize, &[usize]) -> Result<()>,
    ) -> Result<()> {
        let chosen = &self.rows[start..start + rows];
        let most = rows.max(1 << 12);
        let mut at = 0;
        while at < chosen.len() {
            let first = chosen[at];
            let end = chosen[at..].partition_point(|&row| row < first + most) + at;
            let length = chosen[end - 1] + 1 - first;
            keep(first, length, &chosen[at..end])?;
            at = end;
        }
        Ok(())
    }
}

impl DataSource for RowSubset<'_> {
    fn rows(&self) -> usize {
        self.rows.len()
    }

    fn features(&self) -> usize {
        self.inner.features()
    }

    fn block(&self, start: usize, rows: usize) -> Result<Block<'_>> {
        let d = self.inner.features();
        let (mut x, mut y) = (Vec::with_capacity(rows * d), Vec::with_capacity(rows));
        self.pieces(start, rows, |first, length, chosen| {
            let block = self.inner.block(first, length)?;
            for &row in chosen {
                let i = row - first;
                x.extend_from_slice(&block.x[i * d..(i + 1) * d]);
                y.push(block.y[i]);
            }
            Ok(())
        })?;
        Ok(Block {
            x: Cow::Owned(x),
            y: Cow::Owned(y),
        })
    }

    fn targets(&self, start: usize, rows: usize) -> Result<Cow<'_, [f32]>> {
        let mut y = Vec::with_capacity(rows);
        self.pieces(start, rows, |first, length, chosen| {
            let targets = self.inner.targets(first, length)?;
            y.extend(chosen.iter().map(|&row| targets[row - first]));
            Ok(())
        })?;
        Ok(Cow::Owned(y))
    }

    fn weights(&self, start: usize, rows: usize) -> Result<Option<Cow<'_, [f32]>>> {
        let mut weights: Option<Vec<f32>> = None;
        self.pieces(start, rows, |first, length, chosen| {
            if let Some(inner) = self.inner.weights(first, length)? {
                weights
                    .get_or_insert_with(|| Vec::with_capacity(rows))
                    .extend(chosen.iter().map(|&row| inner[row - first]));
            }
            Ok(())
        })?;
        Ok(weights.map(Cow::Owned))
    }

    fn sparse(&self) -> Option<Sparse<'_>> {
        let (indptr, indices, values) = self.csr.as_ref()?;
        Some(Sparse {
            csr: Csr {
                features: self.inner.features(),
                indptr,
                indices,
                values,
            },
            standardization: self.inner.sparse()?.standardization,
        })
    }
}

/// Rows read at a time by [`one_pass`] and [`find_non_finite`].
const PASS_ROWS: usize = 1 << 14;

/// Count, mean and sum of squared deviations of one column, in float64,
/// merged block by block (Chan, Golub and LeVeque's pairwise update).
#[derive(Debug, Clone, Copy, Default)]
struct Moments {
    count: f64,
    mean: f64,
    squares: f64,
}

impl Moments {
    /// The moments of `values` (two passes over a block in memory).
    fn of(values: impl Iterator<Item = f64> + Clone) -> Moments {
        let (count, sum) = values.clone().fold((0.0, 0.0), |(c, s), v| (c + 1.0, s + v));
        let mean = if count > 0.0 { sum / count } else { 0.0 };
        let squares = values.map(|v| (v - mean) * (v - mean)).sum();
        Moments { count, mean, squares }
    }

    fn merge(self, other: Moments) -> Moments {
        let count = self.count + other.count;
        if count == 0.0 {
            return self;
        }
        let delta = other.mean - self.mean;
        Moments {
            count,
            mean: self.mean + delta * other.count / count,
            squares: self.squares + other.squares + delta * delta * self.count * other.count / count,
        }
    }

    /// The population standard deviation, 1 where it is 0 (a constant).
    fn scale(&self) -> f32 {
        let sd = (self.squares / self.count).sqrt();
        if sd > 0.0 && sd.is_finite() {
            sd as f32
        } else {
            1.0
        }
    }
}

/// What one pass over a source learns.
pub(crate) struct Pass {
    /// The features' standardization, where asked for.
    pub(crate) features: Option<Standardizer>,
    /// The target's, where asked for.
    pub(crate) target: Option<TargetScaling>,
    /// The targets' mean (the Poisson loss's automatic rate reads it).
    pub(crate) target_mean: f64,
}

/// The moments one pass over a source measures: each feature's (where
/// asked for) and the targets'.
#[derive(Debug, Clone, Default)]
pub(crate) struct PassMoments {
    columns: Vec<Moments>,
    targets: Moments,
}

impl PassMoments {
    /// The moments as numbers (count, mean, squares for each feature, then
    /// the targets), for ranks to gather.
    pub(crate) fn to_numbers(&self) -> Vec<f64> {
        self.columns
            .iter()
            .chain([&self.targets])
            .flat_map(|m| [m.count, m.mean, m.squares])
            .collect()
    }

    /// The moments of [`PassMoments::to_numbers`].
    pub(crate) fn from_numbers(numbers: &[f64]) -> PassMoments {
        let mut moments: Vec<Moments> = numbers
            .chunks_exact(3)
            .map(|m| Moments {
                count: m[0],
                mean: m[1],
                squares: m[2],
            })
            .collect();
        let targets = moments.pop().unwrap_or_default();
        PassMoments {
            columns: moments,
            targets,
        }
    }

    /// Each feature's mean and (population) spread, then the targets'.
    pub(crate) fn means_and_spreads(&self) -> (Vec<(f64, f64)>, (f64, f64)) {
        let of = |m: &Moments| (m.mean, (m.squares / m.count).sqrt());
        (self.columns.iter().map(of).collect(), of(&self.targets))
    }

    /// The moments of both parts' rows together.
    pub(crate) fn merge(mut self, other: &PassMoments) -> PassMoments {
        for (total, part) in self.columns.iter_mut().zip(&other.columns) {
            *total = total.merge(*part);
        }
        self.targets = self.targets.merge(other.targets);
        self
    }

    /// What the pass learns: the features' standardization where
    /// measured, the target's where `target`.
    pub(crate) fn finish(self, features: bool, target: bool) -> Result<Pass> {
        let standardizer = match features {
            true => Some(Standardizer::from_parts(
                self.columns.iter().map(|m| m.mean as f32).collect(),
                self.columns.iter().map(Moments::scale).collect(),
            )?),
            false => None,
        };
        let target = target.then(|| TargetScaling {
            mean: self.targets.mean as f32,
            scale: self.targets.scale(),
        });
        Ok(Pass {
            features: standardizer,
            target,
            target_mean: self.targets.mean,
        })
    }
}

/// One pass over `source`'s blocks: checks every target (finite; 0 or 1
/// for the logistic model) and, where asked, measures the features' and
/// the target's mean and spread in float64, block moments merged as they
/// come. A non-finite feature is found by the fit itself (its loss is not
/// finite), not here.
pub(crate) fn one_pass(source: &dyn DataSource, loss: Loss, features: bool, target: bool) -> Result<Pass> {
    pass_moments(source, loss, features)?.finish(features, target)
}

/// Each column's moments over `rows` sparse rows: its stored entries and
/// as many zeros as it does not store (float64 sums: a column's mean and
/// spread from Σ x and Σ x²).
fn sparse_moments(csr: Csr, rows: usize) -> Vec<Moments> {
    let d = csr.features;
    let (mut first, mut second) = (vec![0.0f64; d], vec![0.0f64; d]);
    for (&j, &v) in csr.indices.iter().zip(csr.values) {
        let v = f64::from(v);
        first[j as usize] += v;
        second[j as usize] += v * v;
    }
    let count = rows as f64;
    first
        .into_iter()
        .zip(second)
        .map(|(s, q)| {
            let mean = s / count;
            Moments {
                count,
                mean,
                squares: (q - count * mean * mean).max(0.0),
            }
        })
        .collect()
}

/// The moments of [`one_pass`]: the features' where `features`.
pub(crate) fn pass_moments(source: &dyn DataSource, loss: Loss, features: bool) -> Result<PassMoments> {
    let model = loss.model();
    let (n, d) = (source.rows(), source.features());
    if n == 0 || d == 0 {
        return Err(Error::EmptyData { rows: n, features: d });
    }
    if n > u32::MAX as usize {
        return Err(Error::TooManyRows { rows: n });
    }
    let mut columns = vec![Moments::default(); if features { d } else { 0 }];
    // Sparse rows: the columns' moments from their stored entries, the
    // zeros counted; the pass below then reads the targets alone.
    let sparse = source
        .sparse()
        .filter(|s| s.standardization.is_none() && features);
    if let Some(sparse) = sparse {
        columns = sparse_moments(sparse.csr, n);
    }
    let read_features = features && sparse.is_none();
    let mut targets = Moments::default();
    for start in (0..n).step_by(PASS_ROWS) {
        let rows = PASS_ROWS.min(n - start);
        // Without the features' moments, only the targets are read.
        let block = match read_features {
            true => source.block(start, rows)?,
            false => Block {
                x: Cow::Borrowed(&[]),
                y: source.targets(start, rows)?,
            },
        };
        for (k, &value) in block.y.iter().enumerate() {
            if !value.is_finite() {
                return Err(Error::Data(DataError::NonFiniteTarget {
                    row: start + k,
                    value,
                }));
            }
            if model == Model::Logistic && loss.margins() == 1 && value != 0.0 && value != 1.0 {
                return Err(Error::InvalidLabel {
                    row: start + k,
                    value,
                });
            }
        }
        loss.check_targets(block.y.iter().copied(), start)?;
        targets = targets.merge(Moments::of(block.y.iter().map(|&v| f64::from(v))));
        let x = &block.x;
        // Named here, or the moments would report a NaN mean instead.
        if let Some((at, &value)) = x.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::Data(DataError::NonFiniteFeature {
                row: start + at / d,
                column: at % d,
                value,
            }));
        }
        if !read_features {
            continue;
        }
        let merged: Vec<Moments> = (0..columns.len())
            .into_par_iter()
            .map(|j| Moments::of((0..rows).map(move |i| f64::from(x[i * d + j]))))
            .collect();
        for (total, part) in columns.iter_mut().zip(merged) {
            *total = total.merge(part);
        }
    }
    Ok(PassMoments { columns, targets })
}

/// The first non-finite feature of `source`, as the error that names its
/// row and column.
pub(crate) fn find_non_finite(source: &dyn DataSource) -> Result<()> {
    // Sparse rows' values were checked finite when they were built.
    if source.sparse().is_some() {
        return Ok(());
    }
    let (n, d) = (source.rows(), source.features());
    for start in (0..n).step_by(PASS_ROWS) {
        let block = source.block(start, PASS_ROWS.min(n - start))?;
        if let Some((at, &value)) = block.x.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::Data(DataError::NonFiniteFeature {
                row: start + at / d,
                column: at % d,
                value,
            }));
        }
    }
    Ok(())
}
