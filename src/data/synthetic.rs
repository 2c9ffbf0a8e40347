//! Seeded synthetic data with known parameters ([`Synthetic`]), in
//! memory that asks for huge pages where the system has them.

use crate::data::error::DataError;
use ndarray::{Array1, Array2, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal, Uniform};
use rayon::prelude::*;

use crate::data::SCAN_ROWS;
use crate::error::{Error, Result};
use crate::math::model::{sigmoid, Model};

/// Seeded synthetic data with known parameters.
#[derive(Debug, Clone)]
pub struct Synthetic {
    /// Features, standard normal.
    pub x: Array2<f32>,
    /// Targets: x·w + b + noise (linear) or Bernoulli(σ(x·w + b)) (logistic).
    pub y: Array1<f32>,
    /// The weights that generated y.
    pub weights: Array1<f32>,
    /// The bias that generated y.
    pub bias: f32,
}

impl Synthetic {
    /// `rows` × `features` standard-normal features with weights drawn
    /// uniformly from [−2, 2] and bias 0.5. Linear targets get Gaussian
    /// noise of standard deviation `noise`; logistic ones are Bernoulli
    /// draws (the noise is then the draw itself and `noise` is unused).
    ///
    /// Rows are generated in parallel blocks, each from its own ChaCha
    /// stream, so the data depend on the seed alone.
    pub fn generate(model: Model, rows: usize, features: usize, noise: f32, seed: u64) -> Result<Self> {
        let values = Self::x_bytes(rows, features)? / 4;
        let mut x = Array2::from_shape_vec((rows, features), huge_page_zeros(values))
            .expect("the length is rows × features");
        let mut y = Array1::from(huge_page_zeros(rows));
        let (weights, bias) = Self::fill(model, noise, seed, x.view_mut(), y.view_mut());
        Ok(Synthetic { x, y, weights, bias })
    }

    /// The bytes of X (float32) for `rows` × `features`:
    /// [`Error::EmptyData`] for no rows or features, and
    /// [`crate::DataError::ShapeOverflow`] where the values or their bytes (with y's)
    /// do not fit in `usize` (ndarray would panic on the shape).
    pub fn x_bytes(rows: usize, features: usize) -> Result<usize> {
        if rows == 0 || features == 0 {
            return Err(Error::EmptyData { rows, features });
        }
        features
            .checked_add(1)
            .and_then(|columns| rows.checked_mul(columns))
            .and_then(|values| values.checked_mul(std::mem::size_of::<f32>()))
            .ok_or(Error::Data(DataError::ShapeOverflow { rows, features }))?;
        Ok(rows * features * std::mem::size_of::<f32>())
    }

    /// [`Synthetic::x_bytes`], refused with [`crate::DataError::BeyondMemoryBudget`]
    /// where X would take more than `budget` bytes: generating it would
    /// abort the process on a failed allocation, or swap for hours.
    pub fn check_within(rows: usize, features: usize, budget: u64) -> Result<usize> {
        let bytes = Self::x_bytes(rows, features)?;
        if bytes as u64 > budget {
            return Err(Error::Data(DataError::BeyondMemoryBudget {
                rows,
                features,
                bytes: bytes as u64,
                budget,
            }));
        }
        Ok(bytes)
    }

    /// Fills `x` and `y` (as many rows) with the data [`Synthetic::generate`]
    /// makes for their shape, in place (a memory-mapped file of any size);
    /// returns the weights and the bias.
    pub fn fill(
        model: Model,
        noise: f32,
        seed: u64,
        mut x: ndarray::ArrayViewMut2<f32>,
        mut y: ndarray::ArrayViewMut1<f32>,
    ) -> (Array1<f32>, f32) {
        let features = x.ncols();
        let mut parameter_rng = ChaCha8Rng::seed_from_u64(seed);
        let uniform = Uniform::new_inclusive(-2.0f32, 2.0).expect("constant bounds are ordered");
        let weights: Array1<f32> = (0..features)
            .map(|_| uniform.sample(&mut parameter_rng))
            .collect();
        let bias = 0.5f32;
        x.axis_chunks_iter_mut(Axis(0), SCAN_ROWS)
            .into_par_iter()
            .zip(y.axis_chunks_iter_mut(Axis(0), SCAN_ROWS))
            .enumerate()
            .for_each(|(block, (mut xb, mut yb))| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(block as u64 + 1);
                for (mut row, target) in xb.rows_mut().into_iter().zip(yb.iter_mut()) {
                    row.iter_mut().for_each(|v| *v = StandardNormal.sample(&mut rng));
                    let z = row.dot(&weights) + bias;
                    *target = match model {
                        Model::Linear => {
                            let e: f32 = StandardNormal.sample(&mut rng);
                            z + noise * e
                        }
                        Model::Logistic => {
                            let u: f32 = rand::RngExt::random(&mut rng);
                            if u < sigmoid(z) {
                                1.0
                            } else {
                                0.0
                            }
                        }
                    };
                }
            });
        (weights, bias)
    }
}

/// A zeroed vector whose memory Linux is asked to back with transparent huge
/// pages before it is first written (NumPy does the same for its arrays).
/// Steps that read rows in a random order then miss the TLB far less often.
pub(crate) fn huge_page_zeros(len: usize) -> Vec<f32> {
    // Large zeroed allocations come straight from mmap, untouched until the
    // generator writes them, so the advice applies to every page.
    let values = vec![0.0f32; len];
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let start = values.as_ptr() as usize;
        let aligned = start.next_multiple_of(PAGE);
        let end = start + std::mem::size_of_val(values.as_slice());
        if end > aligned + PAGE {
            // SAFETY: the range lies inside the allocation, which stays alive
            // and in place; the advice changes how pages are backed, never
            // their contents, and a refusal is harmless.
            unsafe {
                libc::madvise(
                    aligned as *mut libc::c_void,
                    (end - aligned) / PAGE * PAGE,
                    libc::MADV_HUGEPAGE,
                )
            };
        }
    }
    values
}
