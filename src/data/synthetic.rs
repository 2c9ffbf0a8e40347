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
    /// Seeded sparse rows shaped like text (RCV1): `rows` rows of about
    /// `per_row` entries among `features` features, the features drawn with
    /// power-law frequencies (the k-th most frequent about k^−0.9), values
    /// exponential and each row scaled to unit length (as tf-idf rows are),
    /// targets from a sparse linear model (one weight in 20 non-zero):
    /// x·w + noise of standard deviation 0.1 (linear), or Bernoulli draws of
    /// σ(x·w − median) (logistic). Blocks of rows come from their own ChaCha
    /// streams, so the rows depend on the seed alone.
    ///
    /// ```
    /// use downhill::data::source::DataSource;
    /// use downhill::{Model, Synthetic};
    /// let rows = Synthetic::sparse(Model::Logistic, 1000, 5000, 20, 7)?;
    /// assert_eq!((rows.rows(), rows.features()), (1000, 5000));
    /// assert!(rows.entries() <= 1000 * 20);
    /// # Ok::<(), downhill::Error>(())
    /// ```
    pub fn sparse(
        model: Model,
        rows: usize,
        features: usize,
        per_row: usize,
        seed: u64,
    ) -> Result<crate::data::sparse::CsrData> {
        use rand::RngExt;
        if rows == 0 || features == 0 || per_row == 0 {
            return Err(Error::EmptyData { rows, features });
        }
        if features > u32::MAX as usize {
            return Err(Error::Data(DataError::ShapeOverflow { rows, features }));
        }
        // The features' cumulative frequencies.
        let mut cumulative: Vec<f64> = (0..features).map(|k| (k as f64 + 10.0).powf(-0.9)).collect();
        for k in 1..features {
            cumulative[k] += cumulative[k - 1];
        }
        let total = cumulative[features - 1];
        let mut weights_rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
        let truth: Vec<f64> = (0..features)
            .map(|_| match weights_rng.random::<f64>() < 0.05 {
                true => 20.0 * f64::from(weights_rng.sample::<f32, _>(StandardNormal)),
                false => 0.0,
            })
            .collect();
        let blocks: Vec<SparseBlock> = (0..rows.div_ceil(SCAN_ROWS))
            .into_par_iter()
            .map(|block| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(block as u64));
                let exponential = rand_distr::Exp1;
                let block_rows = SCAN_ROWS.min(rows - block * SCAN_ROWS);
                let (mut lengths, mut indices, mut values, mut margins) =
                    (Vec::new(), Vec::new(), Vec::new(), Vec::new());
                let mut row: Vec<u32> = Vec::with_capacity(per_row);
                for _ in 0..block_rows {
                    row.clear();
                    for _ in 0..per_row {
                        let u = rng.random::<f64>() * total;
                        row.push(cumulative.partition_point(|&c| c < u).min(features - 1) as u32);
                    }
                    row.sort_unstable();
                    row.dedup();
                    let raw: Vec<f64> = row.iter().map(|_| exponential.sample(&mut rng)).collect();
                    let norm = raw.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
                    let mut margin = 0.0;
                    for (&j, v) in row.iter().zip(&raw) {
                        let value = (v / norm) as f32;
                        indices.push(j);
                        values.push(value);
                        margin += f64::from(value) * truth[j as usize];
                    }
                    lengths.push(row.len());
                    margins.push(margin);
                }
                (lengths, indices, values, margins)
            })
            .collect();
        let mut indptr = Vec::with_capacity(rows + 1);
        indptr.push(0);
        let (mut indices, mut values, mut margins) = (Vec::new(), Vec::new(), Vec::with_capacity(rows));
        for (lengths, block_indices, block_values, block_margins) in blocks {
            for length in lengths {
                indptr.push(indptr[indptr.len() - 1] + length);
            }
            indices.extend(block_indices);
            values.extend(block_values);
            margins.extend(block_margins);
        }
        let mut sorted = margins.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[rows / 2];
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7a26e7);
        let y: Vec<f32> = margins
            .iter()
            .map(|&z| match model {
                Model::Logistic => f32::from(u8::from(
                    rng.random::<f64>() < f64::from(sigmoid((z - median) as f32)),
                )),
                Model::Linear => (z + 0.1 * f64::from(rng.sample::<f32, _>(StandardNormal))) as f32,
            })
            .collect();
        crate::data::sparse::CsrData::new(features, indptr, indices, values, y)
    }

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
    crate::memory::advise_huge_pages(&values);
    values
}

/// A block of [`Synthetic::sparse`]'s rows: each row's entries, their
/// features and values, and each row's margin x·w.
type SparseBlock = (Vec<usize>, Vec<u32>, Vec<f32>, Vec<f64>);
