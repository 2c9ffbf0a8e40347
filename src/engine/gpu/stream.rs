//! Rows that do not fit the device's memory budget, streamed through it
//! every epoch: a reader thread ([`crate::data::read_ahead`]) reads block k+1
//! from the source while block k is uploaded into one of [`SLOTS`] device
//! buffers and computed on, so the device holds [`SLOTS`] blocks and the
//! host [`crate::data::read_ahead::BUFFERS`] whatever the source's size.
//!
//! A full-batch epoch runs the gradient pass over each block as it
//! arrives, each block's workgroups writing their own partial sums, then
//! reduces them all and steps once: the same sums as the resident pass,
//! grouped by block. A mini-batch epoch follows the driver's order, which
//! must keep the rows of a block together (as on the CPU): after each
//! block it runs the steps whose rows have all arrived, gathering them
//! from the slots that hold the last three blocks.

use super::{Chunk, OnDevice, Shape};
use crate::data::read_ahead::{block_sequence, read_ahead};
use crate::data::source::DataSource;
use crate::engine::error::EngineError;
use crate::error::{Error, Result};

/// Blocks held on the device at once. A batch no longer than a block
/// spans at most three blocks (two whole ones and, between them, the short
/// last block of the source), so three slots hold every row of the steps
/// that run once a block has arrived.
pub(super) const SLOTS: usize = 3;

/// A source streamed through the device.
pub(super) struct Stream<'s> {
    pub(super) source: &'s dyn DataSource,
    pub(super) block_rows: usize,
    /// The run's shape; each block's copy says which rows it holds.
    pub(super) base: Shape,
    /// The buffers the blocks take turns in.
    pub(super) slots: Vec<Chunk>,
    /// The full batch's gradient pass over each slot (empty for mini-batches).
    pub(super) slot_passes: Vec<wgpu::BindGroup>,
}

impl OnDevice<'_> {
    /// Streams the source through the slots once: for the full batch
    /// (`order` `None`) the partial sums of every row, for mini-batches
    /// every step of the epoch in `order`.
    pub(super) fn stream_epoch(&self, stream: &Stream, order: Option<&[u32]>) -> Result<()> {
        let context = self.context;
        let (source, block_rows, d) = (stream.source, stream.block_rows, self.features);
        let n = source.rows();
        let sequence = match order {
            None => (0..n.div_ceil(block_rows)).collect(),
            Some(order) => block_sequence(order, n, block_rows)?,
        };
        let blocks = sequence.len();
        std::thread::scope(|scope| {
            let (receiver, give_back) = read_ahead(scope, source, block_rows, sequence);
            let mut previous = None;
            let (mut group_offset, mut rows_read, mut steps_done) = (0usize, 0usize, 0usize);
            for turn in 0..blocks {
                let (index, buffers) = receiver.recv().map_err(|_| {
                    Error::Engine(EngineError::GpuFailure {
                        reason: "the reader of the streamed source stopped".into(),
                    })
                })?;
                let buffers = buffers?;
                let rows = buffers.y.len();
                let span = self.partials_pass.rows_per_group(rows, n, d, self.classes);
                let shape = Shape {
                    rows: rows as u32,
                    rows_per_group: span as u32,
                    group_offset: group_offset as u32,
                    chunk_start: (index * block_rows) as u32,
                    ..stream.base
                };
                let slot = &stream.slots[turn % SLOTS];
                // The writes take effect before the next submission and after
                // every earlier one, which used the block this slot held.
                self.upload(&slot.x, bytemuck::cast_slice(&buffers.x));
                if stream.base.weighted == 1 && buffers.weights.is_none() {
                    // Weights for some blocks and not others.
                    return Err(Error::WeightCountMismatch { rows, weights: 0 });
                }
                let targets = super::targets_and_weights(&buffers.y, buffers.weights.as_deref());
                self.upload(&slot.y, bytemuck::cast_slice(&targets));
                self.upload(&slot.shape, bytemuck::bytes_of(&shape));
                // The data is in wgpu's staging memory: the reader may refill
                // the buffers.
                let _ = give_back.send(buffers);
                rows_read += rows;
                let mut encoder = context.device.create_command_encoder(&Default::default());
                match order {
                    None => {
                        let groups = rows.div_ceil(span);
                        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
                        pass.set_pipeline(&self.partials_pass.kernel(context, self.classes).pipeline);
                        pass.set_bind_group(0, &stream.slot_passes[turn % SLOTS], &[]);
                        self.dispatch(&mut pass, groups);
                        group_offset += groups;
                    }
                    Some(_) => {
                        let batch = stream.base.batch_size as usize;
                        let through = if rows_read == n {
                            self.steps_per_epoch
                        } else {
                            rows_read / batch
                        };
                        self.encode_steps(&mut encoder, steps_done, through - steps_done);
                        steps_done = through;
                    }
                }
                let submitted = self.submit("streaming a block", encoder)?;
                // Wait for the block before this one, so that the staging
                // memory of at most two blocks is in flight.
                if let Some(earlier) = previous.replace(submitted) {
                    context.wait_for(Some(earlier))?;
                }
            }
            Ok(())
        })
    }
}
