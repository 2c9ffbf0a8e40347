//! Blocks of a source read ahead on a thread, for the engines that stream
//! a source larger than their budget: the reader fills one pair of
//! buffers while the engine computes on another and a third waits, read,
//! so at most [`BUFFERS`] blocks are held at a time whatever the source's
//! size.

use crate::data::error::DataError;
use std::borrow::Cow;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use crate::data::source::{Block, DataSource};
use crate::error::{Error, Result};

/// Blocks held at once: the one computed on, one read and waiting, one
/// being read. A streamed block is the budget over this many.
pub(crate) const BUFFERS: usize = 3;

/// A block read into buffers that go back to the reader once used.
pub(crate) struct Buffers {
    pub(crate) x: Vec<f32>,
    pub(crate) y: Vec<f32>,
    /// The rows' sample weights, where the source has them.
    pub(crate) weights: Option<Vec<f32>>,
}

impl Buffers {
    pub(crate) fn block(&self) -> Block<'_> {
        Block {
            x: Cow::Borrowed(&self.x),
            y: Cow::Borrowed(&self.y),
        }
    }
}

/// A block's index and its rows, or the error reading it.
pub(crate) type ReadBlock = (usize, Result<Buffers>);

/// Reads blocks `sequence` (block indices) of `block_rows` rows from
/// `source` on a thread of `scope`, ahead of the receiver, into
/// [`BUFFERS`] pairs of buffers that the receiver sends back through the
/// returned sender once it is done with each. The reader stops after the
/// first error it sends.
pub(crate) fn read_ahead<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    source: &'scope dyn DataSource,
    block_rows: usize,
    sequence: Vec<usize>,
) -> (Receiver<ReadBlock>, SyncSender<Buffers>) {
    let (sender, receiver) = sync_channel(1);
    let (give_back, returned) = sync_channel::<Buffers>(BUFFERS);
    for _ in 0..BUFFERS {
        give_back
            .send(Buffers {
                x: Vec::new(),
                y: Vec::new(),
                weights: None,
            })
            .expect("room for every buffer");
    }
    let rows = source.rows();
    scope.spawn(move || {
        for index in sequence {
            let Ok(mut buffers) = returned.recv() else { break };
            let start = index * block_rows;
            let count = block_rows.min(rows - start);
            let read = source
                .read_into(start, count, &mut buffers.x, &mut buffers.y)
                .and_then(|()| crate::data::source::weights_of(source, start, count))
                .map(|weights| match (weights, &mut buffers.weights) {
                    (None, kept) => *kept = None,
                    (Some(weights), Some(kept)) => {
                        kept.clear();
                        kept.extend_from_slice(&weights);
                    }
                    (Some(weights), kept) => *kept = Some(weights.into_owned()),
                });
            let failed = read.is_err();
            if sender.send((index, read.map(|()| buffers))).is_err() || failed {
                break;
            }
        }
    });
    (receiver, give_back)
}

/// The blocks of `block_rows` rows of a source of `rows` rows in the order
/// the rows of `order` first appear in them: what a streamed mini-batch
/// epoch reads. An order that returns to a block it has left (one that
/// does not keep blocks together) is [`crate::DataError::StreamingNeedsBlocks`].
pub(crate) fn block_sequence(order: &[u32], rows: usize, block_rows: usize) -> Result<Vec<usize>> {
    let mut sequence: Vec<usize> = Vec::new();
    let mut seen = vec![false; rows.div_ceil(block_rows)];
    for &row in order {
        let block = row as usize / block_rows;
        if sequence.last() != Some(&block) {
            if std::mem::replace(&mut seen[block], true) {
                return Err(Error::Data(DataError::StreamingNeedsBlocks {
                    rows,
                    budget_rows: block_rows,
                }));
            }
            sequence.push(block);
        }
    }
    Ok(sequence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_follow_the_order_and_may_not_be_revisited() {
        assert_eq!(block_sequence(&[4, 5, 0, 1, 2, 3], 6, 2).unwrap(), vec![2, 0, 1]);
        assert_eq!(block_sequence(&[1, 0, 3, 2, 4], 5, 2).unwrap(), vec![0, 1, 2]);
        assert_eq!(
            block_sequence(&[0, 2, 1, 3], 4, 2),
            Err(Error::Data(DataError::StreamingNeedsBlocks {
                rows: 4,
                budget_rows: 2
            }))
        );
    }
}
