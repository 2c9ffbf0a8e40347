// Sparse rows on the device, in CSR form: each row's margins from its
// stored entries, its loss and its slopes sᵢ ∂ℓ/∂zᵢₖ (kept for
// sparse_columns.wgsl), and per workgroup of rows the sums of the losses,
// the weights and each margin's slopes (the bias columns), added in a
// fixed tree. Mirrors src/engine/cpu/sparse.rs.
//
// sparse_batch_rows_main does the same for the rows of one mini-batch
// step, read through the epoch's order, and keeps each row's slopes, loss
// and weight for sparse_batch.wgsl.

@group(0) @binding(0) var<uniform> shape: Shape;
// The weights (feature by feature, shape.classes each), then the biases.
@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read> indptr: array<u32>;
@group(0) @binding(3) var<storage, read> indices: array<u32>;
@group(0) @binding(4) var<storage, read> values: array<f32>;
// Each target, followed by its row's weight where shape.weighted is 1.
@group(0) @binding(5) var<storage, read> y: array<f32>;
// Row by row, shape.classes slopes each (a mini-batch's rows: their
// slopes, then sᵢ lossᵢ and sᵢ, shape.classes + 2 values each).
@group(0) @binding(6) var<storage, read_write> slopes: array<f32>;
// Of each workgroup's rows: Σ sᵢ lossᵢ, Σ sᵢ, then Σ sᵢ ∂ℓ/∂zᵢₖ of each
// margin k (2 + shape.classes values a group).
@group(0) @binding(7) var<storage, read_write> partials: array<f32>;
// Mini-batches: the rows of the epoch in the order its steps take them,
// and the loop's control (the step under way).
@group(0) @binding(8) var<storage, read> order: array<u32>;
@group(0) @binding(9) var<storage, read> control: Control;

// What one row gives the sums: its slopes sᵢ ∂ℓ/∂zᵢₖ, sᵢ lossᵢ and sᵢ.
struct RowOutcome {
    slopes: array<f32, MAX_CLASSES>,
    loss: f32,
    weight: f32,
}

// The margins of stored row `row` at the parameters, then its loss and
// slopes, each times the row's weight.
fn row_outcome(row: u32) -> RowOutcome {
    let classes = shape.classes;
    var z: array<f32, MAX_CLASSES>;
    let biases = shape.features * classes;
    for (var k = 0u; k < classes; k++) {
        z[k] = params[biases + k];
    }
    for (var e = indptr[row]; e < indptr[row + 1u]; e++) {
        let x = values[e];
        let at = indices[e] * classes;
        for (var k = 0u; k < classes; k++) {
            z[k] += x * params[at + k];
        }
    }
    let stride = 1u + shape.weighted;
    let label = y[row * stride];
    var s = 1.0;
    if shape.weighted == 1u {
        s = y[row * stride + 1u];
    }
    var loss: f32;
    if shape.loss == LOSS_MULTINOMIAL {
        // z is left holding the slopes.
        loss = s * multinomial_loss_and_slopes(classes, &z, label);
    } else {
        loss = s * sample_loss(shape, z[0], label);
        z[0] = loss_derivative(shape, z[0], label);
    }
    for (var k = 0u; k < classes; k++) {
        z[k] *= s;
    }
    return RowOutcome(z, loss, s);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn sparse_rows_main(
    @builtin(local_invocation_index) thread: u32,
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let group = flat_group(group_id, groups);
    let classes = shape.classes;
    // The grid's spare workgroups (a second dimension rounds up): none of
    // their invocations waits on a barrier, nor writes.
    if group >= arrayLength(&partials) / (2u + classes) {
        return;
    }
    let row = group * WORKGROUP_SIZE + thread;
    // Rows past the end add nothing.
    var outcome: RowOutcome;
    if row < shape.rows {
        outcome = row_outcome(row);
        for (var k = 0u; k < classes; k++) {
            slopes[row * classes + k] = outcome.slopes[k];
        }
    }
    let first = group * (2u + classes);
    let loss_sum = workgroup_sum(thread, outcome.loss);
    let weight_sum = workgroup_sum(thread, outcome.weight);
    if thread == 0u {
        partials[first] = loss_sum;
        partials[first + 1u] = weight_sum;
    }
    for (var k = 0u; k < classes; k++) {
        let slope_sum = workgroup_sum(thread, outcome.slopes[k]);
        if thread == 0u {
            partials[first + 2u + k] = slope_sum;
        }
    }
}

// One invocation a row of the step's batch: the batch's i-th row is the
// order's (step · batch_size + i)-th.
@compute @workgroup_size(WORKGROUP_SIZE)
fn sparse_batch_rows_main(
    @builtin(local_invocation_index) thread: u32,
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let i = flat_group(group_id, groups) * WORKGROUP_SIZE + thread;
    let step = control.epoch_step;
    if i >= batch_len(shape, step) {
        return;
    }
    let outcome = row_outcome(order[step * shape.batch_size + i]);
    let classes = shape.classes;
    let at = i * (classes + 2u);
    for (var k = 0u; k < classes; k++) {
        slopes[at + k] = outcome.slopes[k];
    }
    slopes[at + classes] = outcome.loss;
    slopes[at + classes + 1u] = outcome.weight;
}
