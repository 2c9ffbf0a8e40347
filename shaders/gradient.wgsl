// The fused gradient pass: each workgroup takes a fixed span of rows and
// writes one slot of partial raw sums: Σ sᵢ ℓ′ᵢ xᵢ (features values),
// Σ sᵢ ℓ′ᵢ, Σ sᵢ lossᵢ and Σ sᵢ, where ℓ′ᵢ = dℓ/dz at zᵢ = xᵢ·w + b
// (objective.wgsl) and sᵢ the row's sample weight (1 unless
// shape.weighted, when y holds each target followed by its weight). Each
// row of X is read from memory once per step: its dot product and its
// share of Σ ℓ′ᵢ xᵢ are computed
// from the same tile while it is in cache. The spans and the order of every
// sum are fixed, so results are reproducible; reduce.wgsl adds the slots.

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> params: array<f32>;
@group(0) @binding(4) var<storage, read> control: Control;
@group(0) @binding(5) var<storage, read_write> partials: array<f32>;

// A tile is TILE_ROWS rows; LANES threads share each row's dot product so
// that neighbouring threads read neighbouring values of X. Which threads
// are the lanes of a row, and how their partial sums are added, is decided
// by the entry point: gradient_workgroup.wgsl (workgroup memory, every
// adapter) or gradient_subgroup.wgsl (subgroup shuffles, where the adapter
// has subgroups of at least LANES invocations). TILE_ROWS and LANES are
// in common.wgsl, shared with gradient_classes.wgsl.

var<workgroup> tile_derivatives: array<f32, TILE_ROWS>;
var<workgroup> derivative_sums: array<f32, WORKGROUP_SIZE>;
var<workgroup> loss_sums: array<f32, WORKGROUP_SIZE>;
var<workgroup> weight_sums: array<f32, WORKGROUP_SIZE>;

// The pass of one workgroup; `row_in_tile` and `lane` place this thread
// among the TILE_ROWS × LANES of a tile.
fn partials_body(thread: u32, row_in_tile: u32, lane: u32, group: u32) {
    let d = shape.features;
    var rows = shape.rows;
    if shape.rows_from_control == 1u {
        rows = batch_len(shape, control.epoch_step);
    }
    let first = min(group * shape.rows_per_group, rows);
    let end = min(first + shape.rows_per_group, rows);
    let slot = (shape.group_offset + group) * (d + 3u);
    let stride = 1u + shape.weighted;

    for (var j = thread; j < d; j += WORKGROUP_SIZE) {
        partials[slot + j] = 0.0;
    }
    var derivative_sum = 0.0;
    var loss_sum = 0.0;
    var weight_sum = 0.0;
    for (var tile = first; tile < end; tile += TILE_ROWS) {
        let row = tile + row_in_tile;
        var partial = 0.0;
        if row < end {
            let base = row * d;
            for (var j = lane; j < d; j += LANES) {
                partial += x[base + j] * params[j];
            }
        }
        // The row's x·w, in the thread of lane 0.
        let dot = row_dot(partial, thread, lane);
        if lane == 0u {
            var r = 0.0;
            if row < end {
                let z = dot + params[d];
                let target_value = y[row * stride];
                var weight = 1.0;
                if shape.weighted == 1u {
                    weight = y[row * stride + 1u];
                }
                r = weight * loss_derivative(shape, z, target_value);
                derivative_sum += r;
                loss_sum += weight * sample_loss(shape, z, target_value);
                weight_sum += weight;
            }
            tile_derivatives[row_in_tile] = r;
        }
        workgroupBarrier();
        let tile_len = min(TILE_ROWS, end - tile);
        for (var j = thread; j < d; j += WORKGROUP_SIZE) {
            var acc = 0.0;
            for (var k = 0u; k < tile_len; k++) {
                acc += tile_derivatives[k] * x[(tile + k) * d + j];
            }
            partials[slot + j] += acc;
        }
        workgroupBarrier();
    }

    derivative_sums[thread] = derivative_sum;
    loss_sums[thread] = loss_sum;
    weight_sums[thread] = weight_sum;
    workgroupBarrier();
    for (var half = WORKGROUP_SIZE / 2u; half > 0u; half /= 2u) {
        if thread < half {
            derivative_sums[thread] += derivative_sums[thread + half];
            loss_sums[thread] += loss_sums[thread + half];
            weight_sums[thread] += weight_sums[thread + half];
        }
        workgroupBarrier();
    }
    if thread == 0u {
        partials[slot + d] = derivative_sums[0];
        partials[slot + d + 1u] = loss_sums[0];
        partials[slot + d + 2u] = weight_sums[0];
    }
}
