//! The row order of mini-batch epochs: drawn by the driver from one seeded
//! generator, the same for every engine, so that their runs can be compared
//! step by step, and continued exactly by a resumed fit.

use crate::data::error::DataError;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};

/// How each mini-batch epoch orders the rows before cutting them into
/// batches (the full batch reads every row each step, in storage order,
/// whatever the shuffle).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Shuffle {
    /// A uniform permutation of all rows each epoch (Fisher–Yates over
    /// 0..n): a batch gathers rows from anywhere in the data.
    #[default]
    Rows,
    /// The rows cut into consecutive blocks of `rows` (the last may be
    /// shorter); each epoch a permutation of the blocks, then, block by
    /// block in that order, a permutation of the rows inside it. A batch's
    /// rows lie within one or two blocks: close together in memory, and
    /// what a source read block by block can serve.
    Blocks {
        /// Rows per block.
        rows: usize,
    },
    /// Storage order every epoch.
    None,
}

impl Shuffle {
    /// Rows per block of a source streamed through an engine that holds
    /// blocks of at most `fitting` rows: the shuffle's own blocks where
    /// its steps are `shuffled` (they must fit), else `fitting`. A row
    /// permutation cannot be streamed. The one rule of both engines.
    pub(crate) fn streamed_block_rows(self, shuffled: bool, fitting: usize, rows: usize) -> Result<usize> {
        match (shuffled, self) {
            (false, _) | (true, Shuffle::None) => Ok(fitting),
            (true, Shuffle::Blocks { rows }) if rows <= fitting => Ok(rows),
            (true, Shuffle::Blocks { rows }) => Err(Error::Data(DataError::ShuffleBlocksBeyondBudget {
                rows,
                budget_rows: fitting,
            })),
            (true, Shuffle::Rows) => Err(Error::Data(DataError::StreamingNeedsBlocks {
                rows,
                budget_rows: fitting,
            })),
        }
    }

    /// Checks the block size.
    pub fn validate(self) -> Result<()> {
        match self {
            Shuffle::Blocks { rows: 0 } => Err(Error::Data(DataError::ZeroBlockRows)),
            _ => Ok(()),
        }
    }
}

impl std::fmt::Display for Shuffle {
    /// As the command line spells it: `rows`, `blocks:N` or `none`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shuffle::Rows => write!(f, "rows"),
            Shuffle::Blocks { rows } => write!(f, "blocks:{rows}"),
            Shuffle::None => write!(f, "none"),
        }
    }
}

impl std::str::FromStr for Shuffle {
    type Err = Error;

    /// `rows`, `blocks:N` or `none`.
    fn from_str(text: &str) -> Result<Self> {
        let text = text.trim();
        let unknown = || Error::UnknownName {
            what: "shuffle",
            name: text.to_string(),
            expected: "rows, blocks:N or none",
        };
        match text {
            "rows" => Ok(Shuffle::Rows),
            "none" => Ok(Shuffle::None),
            _ => {
                let rows = text.strip_prefix("blocks:").ok_or_else(unknown)?;
                let shuffle = Shuffle::Blocks {
                    rows: rows.parse().map_err(|_| unknown())?,
                };
                shuffle.validate()?;
                Ok(shuffle)
            }
        }
    }
}

/// The row order of each epoch, drawn from a ChaCha8 generator seeded by
/// the fit's seed and kept at its word position across resumes.
pub(crate) struct BatchOrder {
    shuffle: Shuffle,
    rng: ChaCha8Rng,
    order: Vec<u32>,
    blocks: Vec<u32>,
    /// Where `order` holds an epoch's order drawn ahead while the last one
    /// ran ([`BatchOrder::run_drawing_ahead`]): the generator's position
    /// before it was drawn, which [`BatchOrder::position`] reports until
    /// the order is used.
    ahead: Option<u64>,
    /// The buffer of the last epoch's order, for the next one drawn ahead.
    spare: Vec<u32>,
}

impl BatchOrder {
    pub(crate) fn new(rows: usize, shuffle: Shuffle, seed: u64, position: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_word_pos(u128::from(position));
        let blocks = match shuffle {
            Shuffle::Blocks { rows: block } => rows.div_ceil(block.max(1)),
            _ => 0,
        };
        BatchOrder {
            shuffle,
            rng,
            order: vec![0; rows],
            blocks: vec![0; blocks],
            ahead: None,
            spare: Vec::new(),
        }
    }

    /// The order of the next epoch.
    pub(crate) fn next_epoch(&mut self) -> &[u32] {
        if self.ahead.take().is_some() {
            return &self.order;
        }
        self.draw()
    }

    /// Runs `epoch` on the next epoch's order while another thread draws
    /// the order of the epoch after it, so that the host's shuffle leaves
    /// the critical path of an engine whose epochs run elsewhere (the
    /// GPU). The orders are those [`BatchOrder::next_epoch`] would give.
    pub(crate) fn run_drawing_ahead<T>(&mut self, epoch: impl FnOnce(&[u32]) -> T) -> T {
        self.next_epoch();
        let rows = self.order.len();
        let current = std::mem::replace(&mut self.order, std::mem::take(&mut self.spare));
        self.order.resize(rows, 0);
        let before = self.position();
        let outcome = std::thread::scope(|scope| {
            let drawing = scope.spawn(|| {
                self.draw();
            });
            let outcome = epoch(&current);
            if let Err(panic) = drawing.join() {
                std::panic::resume_unwind(panic);
            }
            outcome
        });
        self.ahead = Some(before);
        self.spare = current;
        outcome
    }

    /// Draws the next epoch's order into `self.order`.
    fn draw(&mut self) -> &[u32] {
        let rows = self.order.len();
        match self.shuffle {
            Shuffle::Rows => {
                fill_identity(&mut self.order, 0);
                self.order.shuffle(&mut self.rng);
            }
            Shuffle::None => fill_identity(&mut self.order, 0),
            Shuffle::Blocks { rows: block } => {
                fill_identity(&mut self.blocks, 0);
                self.blocks.shuffle(&mut self.rng);
                let mut filled = 0;
                for &b in &self.blocks {
                    let start = b as usize * block;
                    let len = block.min(rows - start);
                    let slot = &mut self.order[filled..filled + len];
                    fill_identity(slot, start as u32);
                    slot.shuffle(&mut self.rng);
                    filled += len;
                }
            }
        }
        &self.order
    }

    /// Words the generator has produced for the orders used so far.
    pub(crate) fn position(&self) -> u64 {
        self.ahead
            .unwrap_or_else(|| u64::try_from(self.rng.get_word_pos()).unwrap_or(u64::MAX))
    }
}

/// A rank's share of an epoch's global batches: the rows of `order` (a
/// permutation of every rank's rows) that lie in `shard` (this rank's
/// rows, as global indices), cut into batches of `batch` rows, written to
/// `local` as indices into the shard, batch by batch, and where each batch
/// ends to `ends`.
pub(crate) fn share_of_batches(
    order: &[u32],
    batch: usize,
    shard: std::ops::Range<usize>,
    local: &mut Vec<u32>,
    ends: &mut Vec<usize>,
) {
    local.clear();
    ends.clear();
    for rows in order.chunks(batch) {
        local.extend(
            rows.iter()
                .map(|&row| row as usize)
                .filter(|row| shard.contains(row))
                .map(|row| (row - shard.start) as u32),
        );
        ends.push(local.len());
    }
}

fn fill_identity(slots: &mut [u32], first: u32) {
    for (i, slot) in slots.iter_mut().enumerate() {
        *slot = first + i as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epochs(shuffle: Shuffle, rows: usize, seed: u64, count: usize) -> Vec<Vec<u32>> {
        let mut order = BatchOrder::new(rows, shuffle, seed, 0);
        (0..count).map(|_| order.next_epoch().to_vec()).collect()
    }

    fn is_permutation(order: &[u32]) -> bool {
        let mut sorted = order.to_vec();
        sorted.sort_unstable();
        sorted.iter().enumerate().all(|(i, &v)| v as usize == i)
    }

    #[test]
    fn blocks_keep_their_rows_together_and_permute_both_levels() {
        let (rows, block) = (103, 10);
        let all = epochs(Shuffle::Blocks { rows: block }, rows, 7, 4);
        for order in &all {
            assert!(is_permutation(order));
            // Cut where the block changes: every run of one block's rows
            // holds that whole block, and the blocks appear once each.
            let block_of = |v: u32| v as usize / block;
            let mut seen = Vec::new();
            for run in order.chunk_by(|a, b| block_of(*a) == block_of(*b)) {
                let b = block_of(run[0]);
                assert_eq!(run.len(), block.min(rows - b * block), "{order:?}");
                assert!(!seen.contains(&b), "{order:?}");
                seen.push(b);
            }
            assert_eq!(seen.len(), rows.div_ceil(block));
        }
        // Both the blocks' order and the rows inside them change by epoch.
        let firsts: Vec<u32> = all.iter().map(|o| o[0] / block as u32).collect();
        assert!(firsts.windows(2).any(|p| p[0] != p[1]), "{firsts:?}");
        assert!(all
            .iter()
            .any(|o| o[..block.min(rows)].windows(2).any(|p| p[1] != p[0] + 1)));
        // Deterministic per seed, different across seeds.
        assert_eq!(all, epochs(Shuffle::Blocks { rows: block }, rows, 7, 4));
        assert_ne!(all, epochs(Shuffle::Blocks { rows: block }, rows, 8, 4));
    }

    #[test]
    fn rows_permute_everything_and_none_keeps_storage_order() {
        let rows = epochs(Shuffle::Rows, 50, 3, 2);
        assert!(rows.iter().all(|o| is_permutation(o)));
        assert_ne!(rows[0], rows[1]);
        let identity: Vec<u32> = (0..50).collect();
        assert_eq!(epochs(Shuffle::None, 50, 3, 2), vec![identity.clone(), identity]);
    }

    /// Drawing each next order while an epoch runs gives the orders, and
    /// the positions a checkpoint records (a resumed fit starts there),
    /// that drawing them in turn gives; the two ways mix.
    #[test]
    fn orders_drawn_ahead_are_the_orders_drawn_in_turn() {
        for shuffle in [Shuffle::Rows, Shuffle::Blocks { rows: 6 }, Shuffle::None] {
            let mut in_turn = BatchOrder::new(41, shuffle, 9, 0);
            let mut ahead = BatchOrder::new(41, shuffle, 9, 0);
            for epoch in 0..5 {
                let expected = in_turn.next_epoch().to_vec();
                let expected_position = in_turn.position();
                let got = match epoch {
                    3 => ahead.next_epoch().to_vec(),
                    _ => ahead.run_drawing_ahead(|order| order.to_vec()),
                };
                assert_eq!(got, expected, "{shuffle:?} epoch {epoch}");
                assert_eq!(ahead.position(), expected_position, "{shuffle:?} epoch {epoch}");
            }
        }
    }

    #[test]
    fn a_resumed_order_continues_where_it_stopped() {
        let shuffle = Shuffle::Blocks { rows: 6 };
        let mut whole = BatchOrder::new(40, shuffle, 5, 0);
        let first: Vec<u32> = whole.next_epoch().to_vec();
        let second: Vec<u32> = whole.next_epoch().to_vec();
        let mut start = BatchOrder::new(40, shuffle, 5, 0);
        assert_eq!(start.next_epoch(), first);
        let mut resumed = BatchOrder::new(40, shuffle, 5, start.position());
        assert_eq!(resumed.next_epoch(), second);
    }

    #[test]
    fn shuffles_read_and_write_as_the_command_line_spells_them() {
        for shuffle in [Shuffle::Rows, Shuffle::Blocks { rows: 4096 }, Shuffle::None] {
            assert_eq!(shuffle.to_string().parse::<Shuffle>().unwrap(), shuffle);
        }
        assert_eq!(
            "blocks:0".parse::<Shuffle>(),
            Err(Error::Data(DataError::ZeroBlockRows))
        );
        assert!(matches!(
            "blocks".parse::<Shuffle>(),
            Err(Error::UnknownName { .. })
        ));
    }
}
