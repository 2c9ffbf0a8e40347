//! The seam of data-parallel training: each rank's engine sums the rows of
//! its own shard, the ranks' [`Collective`] adds every rank's sums, and
//! every rank then takes the same step from the same total, so all ranks
//! hold the same parameters at every step. Also what the ranks agree on
//! before a fit: where each shard lies among all the rows, the
//! statistics of all the rows, and whether every rank is still able to go
//! on ([`Reducer::agree`]).

use std::sync::Arc;

use crate::distributed::Collective;
use crate::error::{Error, Result};
use crate::math::objective::RawSums;

/// The ranks of a data-parallel fit, shared by its plan.
#[derive(Clone)]
pub(crate) struct Reducer(pub(crate) Arc<dyn Collective>);

impl std::fmt::Debug for Reducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reducer(rank {} of {})", self.0.rank(), self.0.size())
    }
}

impl PartialEq for Reducer {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Where one rank's rows lie among every rank's, in rank order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shard {
    /// The global index of this rank's first row.
    pub(crate) offset: usize,
    /// Every rank's rows.
    pub(crate) total: usize,
}

impl Reducer {
    /// `sums` (of this rank's rows) replaced by the sums over every rank's
    /// rows: the derivative sums, the loss, the weight and the rows, in
    /// one all-reduce.
    pub(crate) fn all_reduce(&self, sums: &RawSums) -> Result<RawSums> {
        let mut values = sums.derivative.clone();
        values.extend([sums.loss, sums.weight, sums.rows as f64]);
        self.0.all_reduce_sum(&mut values)?;
        let n = sums.derivative.len();
        Ok(RawSums {
            derivative: values[..n].to_vec(),
            loss: values[n],
            weight: values[n + 1],
            rows: values[n + 2] as usize,
        })
    }

    /// Every rank's `local`, in rank order ([`crate::distributed::gather`]).
    pub(crate) fn gather(&self, local: &[f64]) -> Result<Vec<Vec<f64>>> {
        crate::distributed::gather(self.0.as_ref(), local)
    }

    /// `local` where every rank succeeded, else every rank's error naming
    /// the first that failed ([`crate::distributed::agree`]).
    pub(crate) fn agree<T>(&self, local: Result<T>) -> Result<T> {
        crate::distributed::agree(self.0.as_ref(), local)
    }

    /// The first collective of a fit: every rank's settings (their
    /// `fingerprint`) and feature count must be rank 0's, and the
    /// collective must name this rank among its ranks. Every rank fails
    /// alike where they are not ([`Error::Distributed`]).
    pub(crate) fn enter(&self, fingerprint: u64, features: usize) -> Result<()> {
        let [high, low] = halves(fingerprint);
        let all = self.gather(&[high, low, features as f64])?;
        if let Some(rank) = all.iter().position(|a| a[2] != all[0][2]) {
            return Err(Error::Distributed {
                reason: format!(
                    "rank {rank}'s rows have {} features, rank 0's {}",
                    all[rank][2], all[0][2]
                ),
            });
        }
        if let Some(rank) = all.iter().position(|a| a[..2] != all[0][..2]) {
            return Err(Error::Distributed {
                reason: format!(
                    "rank {rank} fits with other settings (or from another start) than rank 0; every rank must fit the same settings"
                ),
            });
        }
        Ok(())
    }

    /// Checks that every rank holds the same `parameters` and `loss` after
    /// epoch `epoch`, as the same step from the same sums gives: where the
    /// MPI library's sums differed between ranks they would drift apart,
    /// and their stop rules could part ways.
    pub(crate) fn same_on_every_rank(&self, epoch: usize, parameters: &[f32], loss: f64) -> Result<()> {
        let bits = parameters
            .iter()
            .map(|p| u64::from(p.to_bits()))
            .chain([loss.to_bits()]);
        match self.first_other(bits)? {
            None => Ok(()),
            Some(rank) => Err(Error::Distributed {
                reason: format!(
                    "after epoch {epoch} rank {rank} holds other parameters than rank 0: the MPI library's sums differ between ranks"
                ),
            }),
        }
    }

    /// The first rank whose `bits` differ from rank 0's (compared by a
    /// hash, in one small gather).
    fn first_other(&self, bits: impl Iterator<Item = u64>) -> Result<Option<usize>> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        bits.for_each(|b| b.hash(&mut hasher));
        let all = self.gather(&halves(hasher.finish()))?;
        Ok(all.iter().position(|a| *a != all[0]))
    }

    /// `sums` after the all-reduce, checked to be the same on every rank
    /// (for the evaluations that a search builds on: the curvature's and
    /// L-BFGS's, one small gather beside a pass over the rows).
    pub(crate) fn checked(&self, sums: RawSums) -> Result<RawSums> {
        let bits = sums
            .derivative
            .iter()
            .chain([&sums.loss, &sums.weight])
            .map(|v| v.to_bits());
        match self.first_other(bits)? {
            None => Ok(sums),
            Some(rank) => Err(Error::Distributed {
                reason: format!(
                    "rank {rank}'s sum over every rank differs from rank 0's: the MPI library's sums differ between ranks"
                ),
            }),
        }
    }

    /// Where this rank's `rows` lie among every rank's.
    pub(crate) fn shard(&self, rows: usize) -> Result<Shard> {
        let counts = self.gather(&[rows as f64])?;
        let offset = counts[..self.0.rank()].iter().map(|c| c[0] as usize).sum();
        let total = counts.iter().map(|c| c[0] as usize).sum();
        Ok(Shard { offset, total })
    }
}

/// A 64-bit hash as two numbers that float64 holds exactly, for a gather.
fn halves(print: u64) -> [f64; 2] {
    [(print >> 32) as f64, (print & 0xffff_ffff) as f64]
}

/// [`crate::data::source::one_pass`] over every rank's rows: each rank measures
/// its shard, the ranks agree that all succeeded, and every rank merges
/// the moments in rank order (so all hold the same standardization).
pub(crate) fn one_pass_of_ranks(
    reducer: &Reducer,
    source: &dyn crate::data::source::DataSource,
    loss: crate::math::loss::Loss,
    features: bool,
    target: bool,
) -> Result<crate::data::source::Pass> {
    use crate::data::source::{pass_moments, PassMoments};
    let local = match source.rows() {
        0 => Err(Error::EmptyShard),
        _ => pass_moments(source, loss, features),
    };
    let local = reducer.agree(local)?;
    reducer
        .gather(&local.to_numbers())?
        .iter()
        .map(|numbers| PassMoments::from_numbers(numbers))
        .reduce(|total, part| total.merge(&part))
        .unwrap_or(local)
        .finish(features, target)
}
