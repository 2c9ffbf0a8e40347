// One step's reduction and update in one workgroup, for a gradient pass of
// few workgroups (a mini-batch): what reduce.wgsl and update.wgsl do in two
// dispatches, in one. Each thread adds whole columns of the partial sums in
// workgroup order (a fixed order: the result is the same run to run); the
// penalty's sums are taken over the parameters before the update, which
// the same threads then write.
//
// state holds the first moments, the second moments, then the running
// average of the parameters (averaged SGD), one per parameter.

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> control: Control;
@group(0) @binding(3) var<storage, read_write> params: array<f32>;
@group(0) @binding(4) var<storage, read_write> state: array<f32>;
// The loss of each step of the epoch, which the host adds in float64.
@group(0) @binding(5) var<storage, read_write> step_losses: array<f32>;

var<workgroup> squares: array<f32, WORKGROUP_SIZE>;
var<workgroup> magnitudes: array<f32, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn reduce_update_main(@builtin(local_invocation_index) thread: u32) {
    let count = parameter_count(shape);
    let width = count + 2u;
    let groups = shape.partial_groups;
    let learning_rate = control.learning_rate;
    let epoch_step = control.epoch_step;
    let step = next_step(control.global_step);
    var rows = shape.rows;
    if shape.rows_from_control == 1u {
        rows = batch_len(shape, epoch_step);
    }
    // The batch's weight: its rows, or their weights' sum.
    var weight_sum = 0.0;
    if shape.weighted == 1u {
        for (var g = 0u; g < groups; g++) {
            weight_sum += partials[g * width + count + 1u];
        }
    }
    let total_weight = batch_divisor(shape, rows, weight_sum);

    // The penalty's sums over the weights as they were for this step's
    // gradient: thread t reads the weights it alone writes below.
    var square_acc = 0.0;
    var magnitude_acc = 0.0;
    if penalized(shape) {
        for (var j = thread; j < weight_count(shape); j += WORKGROUP_SIZE) {
            square_acc += params[j] * params[j];
            magnitude_acc += abs(params[j]);
        }
    }
    squares[thread] = square_acc;
    magnitudes[thread] = magnitude_acc;
    // Every thread has read control before thread 0 writes it.
    storageBarrier();
    workgroupBarrier();
    for (var half = WORKGROUP_SIZE / 2u; half > 0u; half /= 2u) {
        if thread < half {
            squares[thread] += squares[thread + half];
            magnitudes[thread] += magnitudes[thread + half];
        }
        workgroupBarrier();
    }

    for (var j = thread; j < count; j += WORKGROUP_SIZE) {
        var sum = 0.0;
        for (var g = 0u; g < groups; g++) {
            sum += partials[g * width + j];
        }
        let gradient = assemble_gradient(shape, j, sum, total_weight, params[j]);
        var first = state[j];
        var second = state[count + j];
        let updated = apply_rule(shape, params[j], gradient, &first, &second, learning_rate, step);
        let unit = unit_step(shape, second, learning_rate, step);
        params[j] = shrink(shape, j, updated, unit);
        state[j] = first;
        state[count + j] = second;
        state[2u * count + j] = averaged(shape, state[2u * count + j], params[j], step);
    }

    if thread == 0u {
        var loss_sum = 0.0;
        for (var g = 0u; g < groups; g++) {
            loss_sum += partials[g * width + count];
        }
        control.batch_rows = rows;
        control.batch_weight = total_weight;
        step_losses[epoch_step] = assemble_loss(shape, loss_sum, total_weight, squares[0], magnitudes[0]);
        control.global_step = step;
        control.epoch_step = epoch_step + 1u;
    }
}
