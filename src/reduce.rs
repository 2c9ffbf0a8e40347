//! The seam of data-parallel training: each rank's engine sums the rows of
//! its own shard, the ranks' [`Collective`] adds every rank's sums, and
//! every rank then takes the same step from the same total, so all ranks
//! hold the same parameters at every step. Also what the ranks agree on
//! before a fit: where each shard lies among all the rows, the
//! statistics of all the rows, and whether every rank is still able to go
//! on ([`Reducer::agree`]).

use std::sync::Arc;

use crate::distributed::Collective;
use crate::error::Result;
use crate::objective::RawSums;

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

    /// Where this rank's `rows` lie among every rank's.
    pub(crate) fn shard(&self, rows: usize) -> Result<Shard> {
        let counts = self.gather(&[rows as f64])?;
        let offset = counts[..self.0.rank()].iter().map(|c| c[0] as usize).sum();
        let total = counts.iter().map(|c| c[0] as usize).sum();
        Ok(Shard { offset, total })
    }
}

/// [`crate::source::one_pass`] over every rank's rows: each rank measures
/// its shard, the ranks agree that all succeeded, and every rank merges
/// the moments in rank order (so all hold the same standardization).
pub(crate) fn one_pass_of_ranks(
    reducer: &Reducer,
    source: &dyn crate::source::DataSource,
    loss: crate::loss::Loss,
    features: bool,
    target: bool,
) -> Result<crate::source::Pass> {
    use crate::source::{pass_moments, PassMoments};
    let local = reducer.agree(pass_moments(source, loss, features))?;
    reducer
        .gather(&local.to_numbers())?
        .iter()
        .map(|numbers| PassMoments::from_numbers(numbers))
        .reduce(|total, part| total.merge(&part))
        .unwrap_or(local)
        .finish(features, target)
}
