//! The seam of data-parallel training: each rank's engine sums the rows of
//! its own shard, a [`SumsReducer`] adds every rank's sums, and every rank
//! then takes the same step from the same total, so all ranks hold the
//! same parameters at every step. The reducer of a multi-process fit is
//! MPI's all-reduce (issue 13, to come); the tests' (src/reduce_tests.rs)
//! is a group of threads, which proves the seam without MPI.

use std::sync::Arc;

use crate::error::Result;
use crate::objective::RawSums;

/// Adds what every rank of a data-parallel fit computed.
pub(crate) trait SumsReducer: Send + Sync {
    /// Replaces `values` by their sum over every rank, added in the same
    /// order on every rank, so that every rank ends with the same bits.
    fn all_reduce(&self, values: &mut [f64]) -> Result<()>;
}

/// A reducer shared by a run's plan.
#[derive(Clone)]
pub(crate) struct Reducer(pub(crate) Arc<dyn SumsReducer>);

impl std::fmt::Debug for Reducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reducer")
    }
}

impl PartialEq for Reducer {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Reducer {
    /// `sums` (of this rank's rows) replaced by the sums over every rank's
    /// rows: the derivative sums, the loss, the weight and the rows, in
    /// one all-reduce.
    pub(crate) fn all_reduce(&self, sums: &RawSums) -> Result<RawSums> {
        let mut values = sums.derivative.clone();
        values.extend([sums.loss, sums.weight, sums.rows as f64]);
        self.0.all_reduce(&mut values)?;
        let n = sums.derivative.len();
        Ok(RawSums {
            derivative: values[..n].to_vec(),
            loss: values[n],
            weight: values[n + 1],
            rows: values[n + 2] as usize,
        })
    }
}
