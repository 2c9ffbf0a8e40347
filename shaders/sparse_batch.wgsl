// The raw sums of one mini-batch step over sparse rows, from what
// sparse_rows.wgsl's sparse_batch_rows_main kept of each batch row (its
// slopes, sᵢ lossᵢ and sᵢ), in the layout reduce.wgsl leaves for
// update.wgsl: Σ s ℓ′ x of each weight, Σ s ℓ′ of each bias, Σ s loss.
//
// - sparse_batch_sums_main (one workgroup): the biases', the loss's and
//   the weight's sums over the batch rows in a fixed tree, the step's
//   loss with its penalty, and the step counted, as reduce.wgsl's loss
//   column does.
// - sparse_batch_columns_main: one invocation a (touched feature, margin)
//   adds the feature's entries in the batch in their order: the host
//   lists, for each step, the features its rows store and their entries
//   (src/engine/gpu/sparse_batches.rs), so no float atomics and the same
//   sums at every run. Untouched features' sums stay 0.
// - sparse_batch_clear_main, after update.wgsl: the touched features'
//   sums back to 0 for the next step.

@group(0) @binding(0) var<uniform> shape: Shape;
// Batch row by batch row: shape.classes slopes, then sᵢ lossᵢ and sᵢ.
@group(0) @binding(1) var<storage, read> row_values: array<f32>;
@group(0) @binding(2) var<storage, read> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> control: Control;
@group(0) @binding(4) var<storage, read_write> sums: array<f32>;
// The loss of each step of the epoch, which the host adds in float64.
@group(0) @binding(5) var<storage, read_write> step_losses: array<f32>;
// Of each step of the epoch: the first of its touched features in
// `touched`, and the end.
@group(0) @binding(6) var<storage, read> step_columns: array<u32>;
// Each touched feature and where its entries start in `entries`, two
// values a feature; one more pair ends the last feature's entries.
@group(0) @binding(7) var<storage, read> touched: array<u32>;
// Each entry's row in the batch and its value (as bits), two values an
// entry.
@group(0) @binding(8) var<storage, read> entries: array<u32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn sparse_batch_sums_main(@builtin(local_invocation_index) thread: u32) {
    let classes = shape.classes;
    let stride = classes + 2u;
    let step = control.epoch_step;
    let rows = batch_len(shape, step);
    var slopes: array<f32, MAX_CLASSES>;
    var loss = 0.0;
    var weight = 0.0;
    for (var i = thread; i < rows; i += WORKGROUP_SIZE) {
        for (var k = 0u; k < classes; k++) {
            slopes[k] += row_values[i * stride + k];
        }
        loss += row_values[i * stride + classes];
        weight += row_values[i * stride + classes + 1u];
    }
    var square_acc = 0.0;
    var magnitude_acc = 0.0;
    if penalized(shape) {
        for (var j = thread; j < weight_count(shape); j += WORKGROUP_SIZE) {
            square_acc += params[j] * params[j];
            magnitude_acc += abs(params[j]);
        }
    }
    for (var k = 0u; k < classes; k++) {
        let slope_sum = workgroup_sum(thread, slopes[k]);
        if thread == 0u {
            sums[weight_count(shape) + k] = slope_sum;
        }
    }
    let loss_sum = workgroup_sum(thread, loss);
    let weight_sum = workgroup_sum(thread, weight);
    let squares = workgroup_sum(thread, square_acc);
    let magnitudes = workgroup_sum(thread, magnitude_acc);
    if thread != 0u {
        return;
    }
    sums[parameter_count(shape)] = loss_sum;
    control.batch_rows = rows;
    let total_weight = batch_divisor(shape, rows, weight_sum);
    control.batch_weight = total_weight;
    step_losses[step] = assemble_loss(shape, loss_sum, total_weight, squares, magnitudes);
    control.global_step = next_step(control.global_step);
}

// The touched features of step `step`: [first, end) of `touched`.
fn step_range(step: u32) -> vec2<u32> {
    return vec2<u32>(step_columns[2u * step], step_columns[2u * step + 1u]);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn sparse_batch_columns_main(
    @builtin(local_invocation_index) thread: u32,
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let classes = shape.classes;
    let range = step_range(control.epoch_step);
    let at = flat_group(group_id, groups) * WORKGROUP_SIZE + thread;
    let t = range.x + at / classes;
    if t >= range.y {
        return;
    }
    let k = at % classes;
    let stride = classes + 2u;
    // At most a batch's rows: within a software adapter's loop limit
    // (sparse_batches.rs takes no larger batch there).
    var sum = 0.0;
    for (var e = touched[2u * t + 1u]; e < touched[2u * t + 3u]; e++) {
        sum += row_values[entries[2u * e] * stride + k] * bitcast<f32>(entries[2u * e + 1u]);
    }
    sums[touched[2u * t] * classes + k] = sum;
}

// Runs after update.wgsl has moved the loop to the next step.
@compute @workgroup_size(WORKGROUP_SIZE)
fn sparse_batch_clear_main(
    @builtin(local_invocation_index) thread: u32,
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let classes = shape.classes;
    let range = step_range(control.epoch_step - 1u);
    let at = flat_group(group_id, groups) * WORKGROUP_SIZE + thread;
    let t = range.x + at / classes;
    if t >= range.y {
        return;
    }
    sums[touched[2u * t] * classes + at % classes] = 0.0;
}
