// Adds the partial-sum slots of gradient.wgsl into the batch's raw sums by
// a tree in workgroup memory (no float atomics, fixed order): one workgroup
// per column. The loss column also turns the batch's raw loss into its
// loss (assemble_loss, with the penalty), writes it as the step's and
// counts the step. update.wgsl turns the raw sums into the gradient.
//
// sums holds Σ s ℓ′ x (features × classes values), Σ s ℓ′ (classes
// values) and Σ s loss (one per model of a pass of many models);
// control.batch_rows the rows they were summed over and control.batch_weight
// their weight Σ s (the rows, unweighted), which the loss column's
// workgroup adds from the partials' last column.

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> control: Control;
@group(0) @binding(4) var<storage, read_write> sums: array<f32>;
// The loss of each step of the epoch, which the host adds in float64.
@group(0) @binding(5) var<storage, read_write> step_losses: array<f32>;

var<workgroup> column_sums: array<f32, WORKGROUP_SIZE>;
var<workgroup> squares: array<f32, WORKGROUP_SIZE>;
var<workgroup> magnitudes: array<f32, WORKGROUP_SIZE>;
var<workgroup> weights: array<f32, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn reduce_main(
    @builtin(local_invocation_index) thread: u32,
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    // The parameters' columns, then the loss's (one per model of a pass
    // of many); the partials add the weight's.
    let p = parameter_count(shape);
    let columns = p + loss_columns(shape);
    let width = columns + 1u;
    let column = flat_group(group_id, groups);
    if column >= columns {
        return;
    }
    var acc = 0.0;
    var weight_acc = 0.0;
    for (var g = thread; g < shape.partial_groups; g += WORKGROUP_SIZE) {
        acc += partials[g * width + column];
        if column == p {
            weight_acc += partials[g * width + columns];
        }
    }
    column_sums[thread] = acc;
    weights[thread] = weight_acc;
    var square_acc = 0.0;
    var magnitude_acc = 0.0;
    if column == p && penalized(shape) {
        for (var j = thread; j < weight_count(shape); j += WORKGROUP_SIZE) {
            square_acc += params[j] * params[j];
            magnitude_acc += abs(params[j]);
        }
    }
    squares[thread] = square_acc;
    magnitudes[thread] = magnitude_acc;
    workgroupBarrier();
    for (var half = WORKGROUP_SIZE / 2u; half > 0u; half /= 2u) {
        if thread < half {
            column_sums[thread] += column_sums[thread + half];
            squares[thread] += squares[thread + half];
            magnitudes[thread] += magnitudes[thread + half];
            weights[thread] += weights[thread + half];
        }
        workgroupBarrier();
    }
    if thread != 0u {
        return;
    }
    sums[column] = column_sums[0];
    if column == p {
        var rows = shape.rows;
        if shape.rows_from_control == 1u {
            rows = batch_len(shape, control.epoch_step);
        }
        control.batch_rows = rows;
        let total_weight = batch_divisor(shape, rows, weights[0]);
        control.batch_weight = total_weight;
        step_losses[control.epoch_step] = assemble_loss(shape, column_sums[0], total_weight, squares[0], magnitudes[0]);
        control.global_step = next_step(control.global_step);
    }
}
