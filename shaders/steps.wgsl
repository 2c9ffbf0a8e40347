// Many mini-batch steps inside one dispatch, for batches of at most one
// workgroup's threads and at most WORKGROUP_SIZE - 2 features: one
// workgroup holds the parameters in its memory, and for each step computes
// the loss derivatives (a thread per row), the raw sums and from them the
// gradient (a thread per parameter, assemble_gradient), the loss
// (assemble_loss), and the update (apply_rule, as update.wgsl). A dispatch runs up
// to shape.steps_per_dispatch steps and never crosses the end of an epoch.
// Where X is in one buffer, the rows come from it through the permutation;
// where it is split (shape.windowed), gather.wgsl first copies the rows of
// the dispatch's steps into a window, which x and y then bind.

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> order: array<u32>;
@group(0) @binding(4) var<storage, read_write> control: Control;
@group(0) @binding(5) var<storage, read_write> params: array<f32>;
@group(0) @binding(6) var<storage, read_write> state: array<f32>;
// The loss of each step of the epoch, which the host adds in float64.
@group(0) @binding(7) var<storage, read_write> step_losses: array<f32>;

var<workgroup> theta: array<f32, WORKGROUP_SIZE>;
var<workgroup> derivatives: array<f32, WORKGROUP_SIZE>;
var<workgroup> losses: array<f32, WORKGROUP_SIZE>;
var<workgroup> row_weights: array<f32, WORKGROUP_SIZE>;
var<workgroup> batch_rows: array<u32, WORKGROUP_SIZE>;
var<workgroup> first_step: u32;

@compute @workgroup_size(WORKGROUP_SIZE)
fn steps_main(@builtin(local_invocation_index) thread: u32) {
    let d = shape.features;
    let count = d + 1u;
    let loss_owner = d + 1u;
    var first = 0.0;
    var second = 0.0;
    var mean = 0.0;
    if thread < count {
        theta[thread] = params[thread];
        first = state[thread];
        second = state[count + thread];
        mean = state[2u * count + thread];
    }
    let learning_rate = control.learning_rate;
    let global_step = control.global_step;
    if thread == 0u {
        first_step = control.epoch_step;
    }
    let start = workgroupUniformLoad(&first_step);
    // Every thread has read control before the loss's thread writes it at
    // the end (workgroup barriers order workgroup memory only).
    storageBarrier();
    let steps = min(shape.steps_per_dispatch, shape.steps_per_epoch - start);

    for (var s = 0u; s < steps; s++) {
        let first_row = (start + s) * shape.batch_size;
        let len = min(shape.batch_size, shape.total_rows - first_row);
        if thread < len {
            // The window holds the dispatch's rows in their order.
            var row = s * shape.batch_size + thread;
            if shape.windowed == 0u {
                row = order[first_row + thread];
            }
            batch_rows[thread] = row;
            var dot = 0.0;
            for (var j = 0u; j < d; j++) {
                dot += x[row * d + j] * theta[j];
            }
            let z = dot + theta[d];
            let stride = 1u + shape.weighted;
            let target_value = y[row * stride];
            var weight = 1.0;
            if shape.weighted == 1u {
                weight = y[row * stride + 1u];
            }
            derivatives[thread] = weight * loss_derivative(shape, z, target_value);
            losses[thread] = weight * sample_loss(shape, z, target_value);
            row_weights[thread] = weight;
        }
        workgroupBarrier();
        // The batch's weight: its rows, unweighted.
        var weight_sum = 0.0;
        if shape.weighted == 1u {
            for (var k = 0u; k < len; k++) {
                weight_sum += row_weights[k];
            }
        }
        let total_weight = batch_divisor(shape, len, weight_sum);
        var g = 0.0;
        if thread < d {
            var acc = 0.0;
            for (var k = 0u; k < len; k++) {
                acc += derivatives[k] * x[batch_rows[k] * d + thread];
            }
            g = assemble_gradient(shape, thread, acc, total_weight, theta[thread]);
        } else if thread == d {
            var acc = 0.0;
            for (var k = 0u; k < len; k++) {
                acc += derivatives[k];
            }
            g = assemble_gradient(shape, thread, acc, total_weight, theta[thread]);
        } else if thread == loss_owner {
            var acc = 0.0;
            for (var k = 0u; k < len; k++) {
                acc += losses[k];
            }
            var squares = 0.0;
            var magnitudes = 0.0;
            if penalized(shape) {
                for (var j = 0u; j < d; j++) {
                    squares += theta[j] * theta[j];
                    magnitudes += abs(theta[j]);
                }
            }
            step_losses[start + s] = assemble_loss(shape, acc, total_weight, squares, magnitudes);
        }
        workgroupBarrier();
        if thread < count {
            let step = min(global_step, STEP_CAP - s - 1u) + s + 1u;
            let updated = apply_rule(shape, theta[thread], g, &first, &second, learning_rate, step);
            theta[thread] = shrink(shape, thread, updated, unit_step(shape, second, learning_rate, step));
            mean = averaged(shape, mean, theta[thread], step);
        }
        workgroupBarrier();
    }

    if thread < count {
        params[thread] = theta[thread];
        state[thread] = first;
        state[count + thread] = second;
        state[2u * count + thread] = mean;
    }
    if thread == loss_owner {
        control.global_step = min(global_step, STEP_CAP - steps) + steps;
        control.epoch_step = start + steps;
    }
}
