//! The full-batch gradient pass of the current kernel generation
//! (shaders/gradient_rows.wgsl), built for one shape of rows: the feature
//! count, the loss and the width of a load are constants of its pipeline,
//! so that the GPU's compiler unrolls its loops and keeps the weights and
//! the sums in registers. The context builds a pipeline per shape on first
//! use and keeps it ([`super::GpuContext`]'s `rows_kernel`).

use super::shared::WORKGROUP_SIZE;
use super::LOOP_BUDGET;
use crate::engine::adapter::AdapterSummary;

/// The most threads that share a row: a warp of NVIDIA's, and the
/// smallest subgroup of most GPUs that have subgroups of 32 or more.
const MAX_ROW_THREADS: usize = 32;

/// The most packets one thread holds of a row: it keeps as many weights,
/// as many sums and two rows' worth in registers, 16 floats a packet of
/// four, so eight keep a thread at 128 floats, under the 255 registers an
/// NVIDIA thread can hold (sixteen would spill). Rows up to 32 × 8 × 4 =
/// 1,024 features (256 where they are read a value at a time) take this
/// pass; wider ones the legacy pass.
const MAX_SLOTS: usize = 8;

/// Rows each group of threads reads before it uses any (UNROLL in
/// gradient_rows.wgsl).
const UNROLL: usize = 2;

/// Workgroups of a pass over all the rows: wgpu does not say how many
/// compute units an adapter has; 4,096 workgroups of 256 threads fill an
/// H100's 132 SMs (8 such workgroups resident on each) almost four times
/// over, so the last wave's idle share is small, while the reduction of
/// their partial sums stays a few microseconds.
const TARGET_GROUPS: usize = 4096;

/// The shape a pipeline of gradient_rows.wgsl is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct RowsShape {
    features: usize,
    /// Values per load: 4 (`vec4<f32>`) where rows are a multiple of 4
    /// long, else 1.
    packet_width: usize,
    /// Threads per row: a power of two.
    row_threads: usize,
    /// Packets each thread of a row holds.
    slots: usize,
    /// The loss's code (LOSS_ in objective.wgsl).
    loss: u32,
    /// Whether the threads of a row add their sums by subgroup shuffles.
    subgroups: bool,
}

impl RowsShape {
    /// The pass for rows of `features` values and one margin on `adapter`,
    /// or `None` where the legacy pass takes them (many margins, very wide
    /// rows).
    pub(crate) fn new(adapter: &AdapterSummary, features: usize, classes: usize, loss: u32) -> Option<Self> {
        if classes != 1 || features == 0 {
            return None;
        }
        let packet_width = if features.is_multiple_of(4) { 4 } else { 1 };
        let packets = features / packet_width;
        let row_threads = packets.next_power_of_two().min(MAX_ROW_THREADS);
        let slots = packets.div_ceil(row_threads);
        if slots > MAX_SLOTS {
            return None;
        }
        let subgroups = adapter.uses_subgroups && adapter.subgroup_sizes.0 as usize >= row_threads;
        Some(RowsShape {
            features,
            packet_width,
            row_threads,
            slots,
            loss,
            subgroups,
        })
    }

    /// Rows a workgroup works on at once.
    fn rows_in_flight(&self) -> usize {
        WORKGROUP_SIZE as usize / self.row_threads
    }

    /// Rows a workgroup takes per round of its loop.
    fn round_rows(&self) -> usize {
        self.rows_in_flight() * UNROLL
    }

    /// Loop iterations one invocation runs per round, and once at the end.
    fn loop_cost(&self) -> (usize, usize) {
        let row_sum = match self.subgroups {
            true => self.row_threads.trailing_zeros() as usize,
            false => self.row_threads,
        };
        let per_round = UNROLL * (2 * self.slots + row_sum + 2) + 2;
        let tree = self.rows_in_flight().trailing_zeros() as usize + 2;
        (per_round, self.slots * (tree + self.packet_width + 1) + tree + 8)
    }

    /// Rows each workgroup sums in a pass over `total_rows` rows: spans
    /// of whole rounds, about [`TARGET_GROUPS`] of them, within
    /// [`LOOP_BUDGET`].
    pub(crate) fn rows_per_group(&self, total_rows: usize) -> usize {
        let round = self.round_rows();
        let (per_round, once) = self.loop_cost();
        let most_rounds = (LOOP_BUDGET.saturating_sub(once) / per_round).max(1);
        total_rows
            .div_ceil(TARGET_GROUPS)
            .div_ceil(round)
            .clamp(1, most_rounds)
            * round
    }

    /// The kernel's source: the shape's constants, the pass and its entry
    /// point (the context puts the shared declarations before them).
    pub(crate) fn source(&self) -> String {
        let (packet, helpers) = match self.packet_width {
            4 => (
                "vec4<f32>",
                "fn packet_dot(a: Packet, b: Packet) -> f32 { return dot(a, b); }\n\
                 fn packet_lane(p: Packet, c: u32) -> f32 { return p[c]; }\n\
                 fn weights_of(p: u32) -> Packet {\n    \
                     return vec4<f32>(params[4u * p], params[4u * p + 1u], params[4u * p + 2u], params[4u * p + 3u]);\n\
                 }\n",
            ),
            _ => (
                "f32",
                "fn packet_dot(a: Packet, b: Packet) -> f32 { return a * b; }\n\
                 fn packet_lane(p: Packet, c: u32) -> f32 { return p; }\n\
                 fn weights_of(p: u32) -> Packet { return params[p]; }\n",
            ),
        };
        let entry = match self.subgroups {
            true => include_str!("../../../shaders/gradient_rows_subgroup.wgsl"),
            false => include_str!("../../../shaders/gradient_rows_workgroup.wgsl"),
        };
        format!(
            "const FEATURES: u32 = {features}u;\n\
             const PACKET_WIDTH: u32 = {width}u;\n\
             const PACKETS: u32 = {packets}u;\n\
             const ROW_THREADS: u32 = {threads}u;\n\
             const SLOTS: u32 = {slots}u;\n\
             const LOSS: u32 = {loss}u;\n\
             alias Packet = {packet};\n\
             {body}\n{helpers}\n{entry}",
            features = self.features,
            width = self.packet_width,
            packets = self.features / self.packet_width,
            threads = self.row_threads,
            slots = self.slots,
            loss = self.loss,
            body = include_str!("../../../shaders/gradient_rows.wgsl"),
        )
    }

    /// The kernel's name in wgpu's messages.
    pub(crate) fn label(&self) -> String {
        format!(
            "gradient_rows.wgsl ({} features, {}-wide loads, {} threads a row{})",
            self.features,
            self.packet_width,
            self.row_threads,
            if self.subgroups { ", subgroups" } else { "" }
        )
    }
}
