// The full-batch gradient pass built for real GPUs (the "current" kernel
// generation; gradient.wgsl is the "legacy" one). Same bindings and the
// same output as gradient.wgsl: each workgroup takes a fixed span of rows
// and writes one slot of partial raw sums, Σ sᵢ ℓ′ᵢ xᵢ (FEATURES values),
// Σ sᵢ ℓ′ᵢ, Σ sᵢ lossᵢ and Σ sᵢ, which reduce.wgsl adds.
//
// The host prepends the shape it was built for (src/engine/gpu/specialized.rs),
// so that loops have constant trip counts, unroll, and keep the weights and
// the sums in registers:
//   const FEATURES: u32      features of a row
//   const PACKETS: u32       packets of a row (FEATURES / PACKET_WIDTH)
//   const ROW_THREADS: u32   threads sharing a row (a power of two ≤ 32)
//   const SLOTS: u32         packets each of them holds (⌈PACKETS / ROW_THREADS⌉)
//   const LOSS: u32          the loss (LOSS_ in objective.wgsl)
//   alias Packet             vec4<f32> where FEATURES is a multiple of 4, else f32
//   const PACKET_WIDTH: u32  4 or 1
//   fn packet_dot(a, b)      a · b
//   fn packet_lane(p, c)     value c of packet p
//   fn weights_of(p)         the weights of packet p of a row, from params
// and one of gradient_rows_subgroup.wgsl or gradient_rows_workgroup.wgsl
// after it, which define row_sum and the entry point.
//
// Threads to data: the workgroup's WORKGROUP_SIZE threads form
// ROWS_IN_FLIGHT groups of ROW_THREADS; a group takes a row, each of its
// threads the packets lane, lane + ROW_THREADS, … of it, and UNROLL rows
// are read before any is used, so that several loads are in flight per
// thread. Each thread keeps its share of Σ ℓ′ x in registers over the
// whole span; the workgroup adds them once, at the end, by a fixed tree
// (no atomics), so results are the same run to run on one adapter.

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> x: array<Packet>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> params: array<f32>;
@group(0) @binding(4) var<storage, read> control: Control;
@group(0) @binding(5) var<storage, read_write> partials: array<f32>;

const ROWS_IN_FLIGHT: u32 = WORKGROUP_SIZE / ROW_THREADS;
const UNROLL: u32 = 2u;

var<workgroup> packet_sums: array<Packet, WORKGROUP_SIZE>;
var<workgroup> scalar_sums: array<vec4<f32>, ROWS_IN_FLIGHT>;

// The pass of one workgroup; `position` places this thread so that the
// ROW_THREADS threads of a row are neighbours (and, on the subgroup path,
// in one subgroup).
fn rows_body(position: u32, group: u32) {
    let lane = position % ROW_THREADS;
    let row_in_flight = position / ROW_THREADS;
    var rows = shape.rows;
    if shape.rows_from_control == 1u {
        rows = batch_len(shape, control.epoch_step);
    }
    // A grid laid out in two dimensions may hold more workgroups than the
    // slots of the pass (one per span of shape.rows, the buffer's rows or a
    // whole batch's): those leave at once (the whole workgroup, before any
    // barrier), writing no slot of another's. A slot whose span this step
    // leaves empty (the epoch's short last batch) is still written, with
    // zeros, for the reduction adds every slot.
    if group > 0u && group * shape.rows_per_group >= shape.rows {
        return;
    }
    let first = min(group * shape.rows_per_group, rows);
    let end = min(first + shape.rows_per_group, rows);
    let stride = 1u + shape.weighted;
    let bias = params[FEATURES];
    // Where x binds a window of several steps' gathered rows: this step's.
    var window_first = 0u;
    if shape.windowed == 1u {
        window_first = (control.epoch_step % shape.steps_per_window) * shape.batch_size;
    }
    // The loss is a constant of this pipeline: the driver folds its switch.
    var objective = shape;
    objective.loss = LOSS;

    var weights: array<Packet, SLOTS>;
    var sums: array<Packet, SLOTS>;
    for (var s = 0u; s < SLOTS; s++) {
        let p = lane + s * ROW_THREADS;
        weights[s] = Packet(0.0);
        sums[s] = Packet(0.0);
        if p < PACKETS {
            weights[s] = weights_of(p);
        }
    }
    // Σ sᵢ ℓ′ᵢ, Σ sᵢ lossᵢ, Σ sᵢ of the rows this group took (lane 0's).
    var scalars = vec4<f32>(0.0);

    let span = ROWS_IN_FLIGHT * UNROLL;
    let rounds = (end - first + span - 1u) / span;
    for (var round = 0u; round < rounds; round++) {
        let base = first + round * span + row_in_flight;
        var xs: array<array<Packet, SLOTS>, UNROLL>;
        var partial: array<f32, UNROLL>;
        for (var u = 0u; u < UNROLL; u++) {
            let row = base + u * ROWS_IN_FLIGHT;
            partial[u] = 0.0;
            for (var s = 0u; s < SLOTS; s++) {
                let p = lane + s * ROW_THREADS;
                xs[u][s] = Packet(0.0);
                if row < end && p < PACKETS {
                    xs[u][s] = x[(window_first + row) * PACKETS + p];
                }
                partial[u] += packet_dot(xs[u][s], weights[s]);
            }
        }
        for (var u = 0u; u < UNROLL; u++) {
            let row = base + u * ROWS_IN_FLIGHT;
            // Every thread of the row gets its x·w.
            let z = row_sum(partial[u], position) + bias;
            var slope = 0.0;
            if row < end {
                let target_value = y[(window_first + row) * stride];
                var weight = 1.0;
                if shape.weighted == 1u {
                    weight = y[(window_first + row) * stride + 1u];
                }
                slope = weight * loss_derivative(objective, z, target_value);
                if lane == 0u {
                    scalars += vec4<f32>(slope, weight * sample_loss(objective, z, target_value), weight, 0.0);
                }
            }
            for (var s = 0u; s < SLOTS; s++) {
                sums[s] += slope * xs[u][s];
            }
        }
    }

    // The rows in flight's sums, added by a fixed tree: packet by packet,
    // then the scalars.
    let slot = (shape.group_offset + group) * (FEATURES + 3u);
    for (var s = 0u; s < SLOTS; s++) {
        packet_sums[position] = sums[s];
        workgroupBarrier();
        for (var half = ROWS_IN_FLIGHT / 2u; half > 0u; half /= 2u) {
            if row_in_flight < half {
                packet_sums[position] += packet_sums[position + half * ROW_THREADS];
            }
            workgroupBarrier();
        }
        let p = lane + s * ROW_THREADS;
        if row_in_flight == 0u && p < PACKETS {
            let total = packet_sums[position];
            for (var c = 0u; c < PACKET_WIDTH; c++) {
                partials[slot + p * PACKET_WIDTH + c] = packet_lane(total, c);
            }
        }
        workgroupBarrier();
    }
    if lane == 0u {
        scalar_sums[row_in_flight] = scalars;
    }
    workgroupBarrier();
    for (var half = ROWS_IN_FLIGHT / 2u; half > 0u; half /= 2u) {
        if lane == 0u && row_in_flight < half {
            scalar_sums[row_in_flight] += scalar_sums[row_in_flight + half];
        }
        workgroupBarrier();
    }
    if position == 0u {
        partials[slot + FEATURES] = scalar_sums[0].x;
        partials[slot + FEATURES + 1u] = scalar_sums[0].y;
        partials[slot + FEATURES + 2u] = scalar_sums[0].z;
    }
}
