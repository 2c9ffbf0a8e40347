//! Where engines get rows from: a [`DataSource`] yields blocks of whole
//! rows (X row-major and y; a weight per row can join `Block` later without
//! touching the engines' contract). Engines read
//! nothing else, so data need not lie in one slice: [`InMemory`] wraps the
//! user's arrays, [`Standardized`] scales another source's blocks as they
//! are read, and sources backed by files fit the same trait.

use std::borrow::Cow;

use ndarray::{ArrayView1, ArrayView2, CowArray, Ix1, Ix2};
use rayon::prelude::*;

use crate::data::{Standardizer, TargetScaling};
use crate::error::Result;

/// Rows `start..start + rows` of a source.
#[derive(Debug, Clone)]
pub(crate) struct Block<'a> {
    /// The rows' features, row-major: `rows × features` values.
    pub(crate) x: Cow<'a, [f32]>,
    /// The rows' targets.
    pub(crate) y: Cow<'a, [f32]>,
}

impl Block<'_> {
    /// Rows in the block.
    pub(crate) fn rows(&self) -> usize {
        self.y.len()
    }
}

/// Rows of a data set, read in blocks.
pub(crate) trait DataSource: Sync {
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
}

/// Every row of `source`: borrowed where it is resident, else read block
/// by block into one block.
pub(crate) fn all_rows(source: &dyn DataSource) -> Result<Block<'_>> {
    if let Some(block) = source.resident() {
        return Ok(block);
    }
    source.block(0, source.rows())
}

/// The user's X and y, in memory.
pub(crate) struct InMemory<'a> {
    x: CowArray<'a, f32, Ix2>,
    y: CowArray<'a, f32, Ix1>,
}

impl<'a> InMemory<'a> {
    /// Borrows `x` and `y`, copying them only where they are not already in
    /// standard (row-major, contiguous) layout.
    pub(crate) fn new(x: ArrayView2<'a, f32>, y: ArrayView1<'a, f32>) -> Self {
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
    fn rows(&self) -> usize {
        self.inner.rows()
    }

    fn features(&self) -> usize {
        self.inner.features()
    }

    fn block(&self, start: usize, rows: usize) -> Result<Block<'_>> {
        let block = self.inner.block(start, rows)?;
        let d = self.features();
        let x = match self.features {
            Some(standardizer) => {
                let (mean, scale) = (standardizer.mean(), standardizer.scale());
                let mut x = block.x.into_owned();
                x.par_chunks_mut(TRANSFORM_ROWS * d).for_each(|rows| {
                    for row in rows.chunks_exact_mut(d) {
                        for ((v, &m), &s) in row.iter_mut().zip(mean.iter()).zip(scale.iter()) {
                            *v = (*v - m) / s;
                        }
                    }
                });
                Cow::Owned(x)
            }
            None => block.x,
        };
        let y = match self.target {
            Some(target) => Cow::Owned(block.y.iter().map(|&y| target.transform(y)).collect()),
            None => block.y,
        };
        Ok(Block { x, y })
    }
}

/// Another source's rows with every target 0: the gradient of the squared
/// error at parameters v is then (2/n) XᵀX v exactly, the curvature times v
/// (how [`crate::curvature`] measures it without the targets' rounding).
pub(crate) struct ZeroTargets<'a> {
    inner: &'a dyn DataSource,
}

impl<'a> ZeroTargets<'a> {
    pub(crate) fn new(inner: &'a dyn DataSource) -> Self {
        ZeroTargets { inner }
    }
}

impl DataSource for ZeroTargets<'_> {
    fn rows(&self) -> usize {
        self.inner.rows()
    }

    fn features(&self) -> usize {
        self.inner.features()
    }

    fn block(&self, start: usize, rows: usize) -> Result<Block<'_>> {
        let block = self.inner.block(start, rows)?;
        Ok(Block {
            x: block.x,
            y: Cow::Owned(vec![0.0; rows]),
        })
    }
}
