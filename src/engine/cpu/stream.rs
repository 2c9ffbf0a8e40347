//! Sources larger than the memory budget, streamed block by block: a
//! reader thread ([`crate::data::read_ahead`]) reads ahead while the pool
//! computes on the current block.
//!
//! A full-batch epoch adds the raw sums of every block, then steps once.
//! A mini-batch epoch follows the driver's order, which must keep the rows
//! of a block together (`Shuffle::Blocks` with this engine's block rows,
//! or `Shuffle::None`): blocks are read in the order their rows first
//! appear, and each batch's rows are gathered from the one or two blocks
//! that hold them.

use std::borrow::Cow;

use super::kernel::{self, Rows, Workspace};
use super::Stepper;
use crate::data::read_ahead::{block_sequence, read_ahead, Buffers};
use crate::data::source::{Block, DataSource};
use crate::engine::{EngineRun, EpochStats, RunSpec, SumsRun, WorkCounts};
use crate::error::Result;
use crate::math::objective::{Objective, RawSums};
use crate::math::optim::OptimizerState;

/// The raw sums of every row of `source` at `parameters`, block by block.
fn sums_over_blocks(
    source: &dyn DataSource,
    block_rows: usize,
    workspace: &mut Workspace,
    loss: crate::math::loss::Loss,
    parameters: &[f32],
) -> Result<RawSums> {
    let features = source.features();
    let blocks = source.rows().div_ceil(block_rows);
    let mut total = RawSums::zeros(features, loss.margins());
    std::thread::scope(|scope| {
        let (receiver, give_back) = read_ahead(scope, source, block_rows, (0..blocks).collect());
        for (_, buffers) in receiver.iter().take(blocks) {
            let buffers = buffers?;
            let block = buffers.block();
            let data = kernel::Data::new(&block, buffers.weights.as_deref(), features, loss);
            let rows = Rows::Contiguous {
                start: 0,
                len: block.rows(),
            };
            let sums = rayon::scope(|_| workspace.accumulate(&data, parameters, rows).clone());
            total.add(&sums);
            drop(block);
            let _ = give_back.send(buffers);
        }
        Ok(total)
    })
}

/// Raw sums over a streamed source.
pub(super) struct StreamedSums<'s> {
    pub(super) source: &'s dyn DataSource,
    pub(super) block_rows: usize,
    pub(super) workspace: Workspace,
    pub(super) objective: Objective,
}

impl SumsRun for StreamedSums<'_> {
    fn raw_sums(&mut self, parameters: &[f32]) -> Result<RawSums> {
        sums_over_blocks(
            self.source,
            self.block_rows,
            &mut self.workspace,
            self.objective.loss,
            parameters,
        )
    }
}

/// A run over a streamed source.
pub(super) struct StreamedRun<'s> {
    source: &'s dyn DataSource,
    block_rows: usize,
    workspace: Workspace,
    stepper: Stepper,
    /// A batch's rows gathered from their blocks.
    batch_x: Vec<f32>,
    batch_y: Vec<f32>,
    batch_weights: Vec<f32>,
}

impl<'s> StreamedRun<'s> {
    /// A run of `spec` on `source`, read in blocks of `block_rows` rows
    /// (the shuffle's blocks for mini-batches).
    pub(super) fn new(source: &'s dyn DataSource, spec: RunSpec, block_rows: usize) -> Result<Self> {
        let block_rows = spec
            .shuffle
            .streamed_block_rows(spec.steps.shuffled, block_rows, source.rows())?;
        let features = source.features();
        Ok(StreamedRun {
            source,
            block_rows,
            workspace: Workspace::new(
                features,
                spec.objective.loss.margins(),
                spec.steps.batch_rows.min(block_rows),
            ),
            stepper: Stepper::new(spec),
            batch_x: Vec::new(),
            batch_y: Vec::new(),
            batch_weights: Vec::new(),
        })
    }

    fn full_batch(&mut self, learning_rate: f32) -> Result<EpochStats> {
        let sums = sums_over_blocks(
            self.source,
            self.block_rows,
            &mut self.workspace,
            self.stepper.objective.loss,
            &self.stepper.parameters,
        )?;
        let loss_sum = self.stepper.step(&sums, learning_rate)?;
        Ok(EpochStats {
            loss_sum,
            steps: 1,
            parameters: self.stepper.parameters.clone(),
            work: WorkCounts {
                x_bytes_read: (self.source.rows() * self.source.features() * 4) as u64,
                ..WorkCounts::epoch(1)
            },
        })
    }

    fn mini_batches(&mut self, order: &[u32], learning_rate: f32) -> Result<EpochStats> {
        let (source, block_rows, features) = (self.source, self.block_rows, self.source.features());
        let sequence = block_sequence(order, source.rows(), block_rows)?;
        let loss = self.stepper.objective.loss;
        std::thread::scope(|scope| {
            let (receiver, give_back) = read_ahead(scope, source, block_rows, sequence);
            // The block the current rows come from; the order never returns
            // to one it has left.
            let mut held: Option<(usize, Buffers)> = None;
            let (mut loss_sum, mut steps) = (0.0, 0);
            let batch = self.stepper.steps.batch_rows;
            for k in 0..self.stepper.steps.steps_per_epoch() {
                let rows = &order[k * batch..(k * batch + batch).min(order.len())];
                self.batch_x.clear();
                self.batch_y.clear();
                self.batch_weights.clear();
                let mut weighted = false;
                for &row in rows {
                    let (row, index) = (row as usize, row as usize / block_rows);
                    if held.as_ref().is_none_or(|(i, _)| *i != index) {
                        let (i, block) = receiver
                            .recv()
                            .expect("the reader sends every block of the sequence or an error");
                        debug_assert_eq!(i, index);
                        if let Some((_, done)) = held.replace((i, block?)) {
                            let _ = give_back.send(done);
                        }
                    }
                    let (_, block) = held.as_ref().expect("the row's block was just read");
                    let at = row - index * block_rows;
                    self.batch_x
                        .extend_from_slice(&block.x[at * features..(at + 1) * features]);
                    self.batch_y.push(block.y[at]);
                    if let Some(weights) = &block.weights {
                        self.batch_weights.push(weights[at]);
                        weighted = true;
                    }
                }
                let gathered = Block {
                    x: Cow::Borrowed(&self.batch_x),
                    y: Cow::Borrowed(&self.batch_y),
                };
                let weights = weighted.then_some(self.batch_weights.as_slice());
                let data = kernel::Data::new(&gathered, weights, features, loss);
                let span = Rows::Contiguous {
                    start: 0,
                    len: rows.len(),
                };
                let parameters = &self.stepper.parameters;
                let workspace = &mut self.workspace;
                let sums = rayon::scope(|_| workspace.accumulate(&data, parameters, span).clone());
                loss_sum += self.stepper.step(&sums, learning_rate)?;
                steps += 1;
            }
            // Each row is read from its block into the batch, then by the
            // kernel from the batch.
            Ok(EpochStats {
                loss_sum,
                steps,
                parameters: self.stepper.parameters.clone(),
                work: WorkCounts {
                    x_bytes_read: 2 * (order.len() * features * 4) as u64,
                    ..WorkCounts::epoch(steps)
                },
            })
        })
    }
}

impl EngineRun for StreamedRun<'_> {
    fn run_epoch(&mut self, order: Option<&[u32]>, learning_rate: f32) -> Result<EpochStats> {
        match order {
            None => self.full_batch(learning_rate),
            Some(order) => self.mini_batches(order, learning_rate),
        }
    }

    fn optimizer_state(&mut self) -> Result<OptimizerState> {
        Ok(self.stepper.state.clone())
    }
}
