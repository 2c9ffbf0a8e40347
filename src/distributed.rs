//! Data-parallel training: one fit over rows split among processes
//! (ranks), each holding its own shard.
//!
//! Every rank runs the same fit on its shard with the same settings,
//! joined by a [`Collective`] ([`GradientDescent::distributed`]). Before
//! the fit the ranks add up what it needs from all the rows: the row
//! counts, the standardization's moments, the class counts of balanced
//! weights and the curvature behind the automatic learning rate and
//! momentum. Each step, every rank's engine sums its own rows (Σ ℓ′(z)·x,
//! Σ ℓ′(z), the loss, the weight and the rows: d + 3 numbers for one
//! margin) and one all-reduce adds them, in float64; every rank then takes
//! the same step from the same total, so all ranks hold the same
//! parameters at every step. Mini-batches follow the order one process
//! would draw over all the rows for the same seed: each rank takes the
//! rows of every global batch that lie in its shard (a share in proportion
//! to its rows), and the steps add every rank's share.
//!
//! A rank that fails before the fit (an unreadable shard, a bad value)
//! fails the fit on every rank with [`Error::RankFailed`], naming the rank
//! and the cause; the ranks agree on it in a collective, so none waits for
//! ever.
//!
//! The `distributed` feature brings `Mpi`, the collective of an MPI job
//! (rsmpi over the system's MPI library); without it a caller can join
//! ranks by any transport implementing [`Collective`].
//!
//! [`GradientDescent::distributed`]: crate::GradientDescent::distributed
//! [`Error::RankFailed`]: crate::Error::RankFailed

use crate::error::Result;

/// The ranks of a data-parallel fit, as one rank sees them.
pub trait Collective: Send + Sync {
    /// This rank, from 0 to [`Collective::size`] − 1.
    fn rank(&self) -> usize;
    /// The number of ranks.
    fn size(&self) -> usize;
    /// Replaces `values` by their sum over every rank (every rank passes
    /// as many values). Every rank must end with the same bits. The MPI
    /// standard advises, without requiring, that a reduction give every
    /// rank the same result; Open MPI's algorithms (recursive doubling,
    /// ring, reduce-scatter then gather) do. A fit checks after every epoch
    /// that all ranks hold the same parameters and fails with
    /// [`Error::Distributed`] where they do not, rather than let them
    /// drift apart.
    ///
    /// [`Error::Distributed`]: crate::Error::Distributed
    fn all_reduce_sum(&self, values: &mut [f64]) -> Result<()>;
}

/// Every rank's `local` (each rank passing as many values), in rank order:
/// one all-reduce of slots that only their own rank fills, exact since
/// the other ranks add zeros.
pub fn gather(collective: &dyn Collective, local: &[f64]) -> Result<Vec<Vec<f64>>> {
    let (rank, size, k) = (collective.rank(), collective.size(), local.len());
    if rank >= size {
        return Err(crate::error::Error::Distributed {
            reason: format!("the collective says this is rank {rank} of {size}"),
        });
    }
    let mut slots = vec![0.0; size * k];
    slots[rank * k..(rank + 1) * k].copy_from_slice(local);
    collective.all_reduce_sum(&mut slots)?;
    Ok((0..size).map(|r| slots[r * k..(r + 1) * k].to_vec()).collect())
}

/// Every rank's bytes, in rank order (for small things: names, messages,
/// encodings).
pub fn gather_bytes(collective: &dyn Collective, local: &[u8]) -> Result<Vec<Vec<u8>>> {
    let lengths = gather(collective, &[local.len() as f64])?;
    let longest = lengths.iter().map(|l| l[0] as usize).max().unwrap_or(0);
    let mut padded: Vec<f64> = local.iter().map(|&b| f64::from(b)).collect();
    padded.resize(longest, 0.0);
    let gathered = gather(collective, &padded)?;
    Ok(gathered
        .into_iter()
        .zip(lengths)
        .map(|(bytes, length)| bytes[..length[0] as usize].iter().map(|&b| b as u8).collect())
        .collect())
}

/// `local` where every rank succeeded; else, on every rank, the error of
/// the first rank that failed: [`Error::RankFailed`] naming it and its
/// error, or [`Error::EveryRankFailed`] where every rank failed alike.
/// Every rank calls it at the same point, failed or not, so that a
/// failure (an unreadable shard) ends the fit on all of them instead of
/// leaving the others waiting in the next collective.
///
/// [`Error::RankFailed`]: crate::Error::RankFailed
/// [`Error::EveryRankFailed`]: crate::Error::EveryRankFailed
pub fn agree<T, E: std::fmt::Display>(
    collective: &dyn Collective,
    local: std::result::Result<T, E>,
) -> Result<T> {
    // The first byte marks a failure, whatever its message.
    let mut marked = vec![u8::from(local.is_err())];
    if let Err(e) = &local {
        marked.extend(e.to_string().as_bytes());
    }
    let all = gather_bytes(collective, &marked)?;
    match (all.iter().position(|m| m[0] == 1), local) {
        (None, Ok(value)) => Ok(value),
        (failed, _) => {
            let rank = failed.unwrap_or(collective.rank());
            let cause = String::from_utf8_lossy(&all[rank][1..]).into_owned();
            // The same failure on every rank (one file that all read) is
            // the file's, not a rank's.
            match all.iter().all(|m| *m == all[rank]) {
                true => Err(crate::error::Error::EveryRankFailed { cause }),
                false => Err(crate::error::Error::RankFailed { rank, cause }),
            }
        }
    }
}

/// The rows of `rows` that rank `rank` of `size` holds when one file is
/// split among the ranks: consecutive ranges, in rank order, whose sizes
/// differ by at most one row (empty where there are fewer rows than
/// ranks). `None` unless `rank < size`.
pub fn shard_of(rows: usize, rank: usize, size: usize) -> Option<std::ops::Range<usize>> {
    let at = |r: usize| (rows as u128 * r as u128 / size as u128) as usize;
    (rank < size).then(|| at(rank)..at(rank + 1))
}

/// The rows that rank `rank` of `size` holds of a file stored in groups
/// of `groups` rows (Parquet's row groups), whole groups to each rank, in
/// order: each rank's first group is the one whose start lies nearest its
/// even share's. `None` where there are fewer groups than ranks (then
/// [`shard_of`] splits the rows, and ranks share a group's reading).
pub fn shard_of_groups(groups: &[usize], rank: usize, size: usize) -> Option<std::ops::Range<usize>> {
    if rank >= size || groups.len() < size {
        return None;
    }
    let mut starts = vec![0usize];
    for &rows in groups {
        starts.push(starts.last().copied().unwrap_or(0) + rows);
    }
    let total = starts[groups.len()];
    // The group each rank starts at: the nearest to its share, leaving at
    // least one group to each rank before and after it.
    let mut first = vec![0usize; size + 1];
    first[size] = groups.len();
    for r in 1..size {
        let share = (total as u128 * r as u128 / size as u128) as usize;
        let (lowest, highest) = (first[r - 1] + 1, groups.len() - (size - r));
        first[r] = (lowest..=highest)
            .min_by_key(|&g| starts[g].abs_diff(share))
            .unwrap_or(lowest);
    }
    Some(starts[first[rank]]..starts[first[rank + 1]])
}

#[cfg(feature = "distributed")]
pub use mpi_ranks::Mpi;

#[cfg(feature = "distributed")]
mod mpi_ranks {
    use std::sync::Mutex;

    use mpi::collective::SystemOperation;
    use mpi::environment::Universe;
    use mpi::topology::{Communicator, SimpleCommunicator};
    use mpi::traits::CommunicatorCollectives;

    use super::Collective;
    use crate::error::{Error, Result};

    /// The ranks of an MPI job (`mpirun -np N …`): its world communicator.
    ///
    /// MPI is started with [`Mpi::initialize`] and finalized when the value
    /// is dropped; there is one per process, and the thread that made it
    /// should drop it (the last clone of an `Arc<Mpi>`), as MPI asks. Calls are serialized by a
    /// lock, so that any thread (a rayon worker running a step) may make
    /// them.
    pub struct Mpi {
        world: Mutex<SimpleCommunicator>,
        rank: usize,
        size: usize,
        // Dropped last: MPI_Finalize.
        _universe: Universe,
    }

    // SAFETY: MPI is initialized with `Threading::Serialized` (checked in
    // `initialize`), which allows calls from any thread one at a time; the
    // communicator is only reached through the mutex.
    unsafe impl Send for Mpi {}
    unsafe impl Sync for Mpi {}

    impl Mpi {
        /// Starts MPI. Run under `mpirun` the process is one rank of the
        /// job; run alone it is the only rank. [`Error::Distributed`] where
        /// MPI is already started or cannot give the threading downhill
        /// needs.
        pub fn initialize() -> Result<Mpi> {
            let (universe, threading) = mpi::initialize_with_threading(mpi::Threading::Serialized)
                .ok_or_else(|| Error::Distributed {
                    reason: "MPI was already initialized in this process".into(),
                })?;
            if threading < mpi::Threading::Serialized {
                return Err(Error::Distributed {
                    reason: format!(
                        "the MPI library offers {threading:?} threading; downhill needs Serialized"
                    ),
                });
            }
            let world = universe.world();
            let (rank, size) = (world.rank() as usize, world.size() as usize);
            Ok(Mpi {
                world: Mutex::new(world),
                rank,
                size,
                _universe: universe,
            })
        }

        /// Ends every rank of the job at once with `code` (MPI_Abort):
        /// for a failure in the middle of a fit, where the other ranks
        /// wait in a collective that this rank will not join.
        pub fn abort(&self, code: i32) -> ! {
            // Not through the lock: another thread may hold it, waiting in
            // a collective that will never end.
            SimpleCommunicator::world().abort(code)
        }
    }

    impl Collective for Mpi {
        fn rank(&self) -> usize {
            self.rank
        }

        fn size(&self) -> usize {
            self.size
        }

        fn all_reduce_sum(&self, values: &mut [f64]) -> Result<()> {
            let local = values.to_vec();
            // A thread that panicked in a call left MPI as it was: go on,
            // as every other rank does.
            let world = self.world.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            world.all_reduce_into(&local[..], values, SystemOperation::sum());
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{shard_of, shard_of_groups};

    #[test]
    fn shards_cover_every_row_once_in_rank_order() {
        for (rows, size) in [(10, 3), (7, 7), (1_000_003, 4), (2, 3)] {
            let shards: Vec<_> = (0..size).map(|r| shard_of(rows, r, size).unwrap()).collect();
            assert_eq!(shards[0].start, 0);
            assert_eq!(shards[size - 1].end, rows);
            for pair in shards.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
                assert!(pair[0].len().abs_diff(pair[1].len()) <= 1, "{shards:?}");
            }
        }
    }

    #[test]
    fn row_groups_go_whole_to_the_rank_nearest_their_share() {
        // 10 groups of 100 rows over 3 ranks: shares start at 333 and 666.
        let groups = [100; 10];
        let shards: Vec<_> = (0..3).map(|r| shard_of_groups(&groups, r, 3).unwrap()).collect();
        assert_eq!(shards, vec![0..300, 300..700, 700..1000]);
        // Uneven groups: every rank still gets one.
        let groups = [5000, 10, 10, 10];
        let shards: Vec<_> = (0..4).map(|r| shard_of_groups(&groups, r, 4).unwrap()).collect();
        assert_eq!(shards, vec![0..5000, 5000..5010, 5010..5020, 5020..5030]);
        // Fewer groups than ranks, or no such rank: none.
        assert_eq!(shard_of_groups(&[100, 100], 0, 3), None);
        assert_eq!(shard_of_groups(&[100, 100], 2, 2), None);
        assert_eq!(shard_of(10, 3, 3), None);
        assert_eq!(shard_of(10, 0, 0), None);
    }
}
