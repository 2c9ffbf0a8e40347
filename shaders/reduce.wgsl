// Adds the partial-sum slots of gradient.wgsl into the batch gradient and
// loss by a tree in workgroup memory (no float atomics, fixed order): one
// workgroup per column. The loss column also adds the L2 term, counts the
// step and adds the batch loss to the epoch's sum.
//
// gradient holds ∂/∂w (features values), ∂/∂b, then the batch loss.

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> control: Control;
@group(0) @binding(4) var<storage, read_write> gradient: array<f32>;

var<workgroup> sums: array<f32, WORKGROUP_SIZE>;
var<workgroup> squares: array<f32, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn reduce_main(
    @builtin(local_invocation_index) thread: u32,
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let d = shape.features;
    let columns = d + 2u;
    let column = flat_group(group_id, groups);
    if column >= columns {
        return;
    }
    var acc = 0.0;
    for (var g = thread; g < shape.partial_groups; g += WORKGROUP_SIZE) {
        acc += partials[g * columns + column];
    }
    sums[thread] = acc;
    var square_acc = 0.0;
    if column == d + 1u {
        for (var j = thread; j < d; j += WORKGROUP_SIZE) {
            square_acc += params[j] * params[j];
        }
    }
    squares[thread] = square_acc;
    workgroupBarrier();
    for (var half = WORKGROUP_SIZE / 2u; half > 0u; half /= 2u) {
        if thread < half {
            sums[thread] += sums[thread + half];
            squares[thread] += squares[thread + half];
        }
        workgroupBarrier();
    }
    if thread != 0u {
        return;
    }
    var len = shape.rows;
    if shape.rows_from_control == 1u {
        len = batch_len(shape, control.epoch_step);
    }
    let rows = f32(len);
    let scale = residual_scale(shape.model) / rows;
    if column < d {
        gradient[column] = scale * sums[0] + shape.l2 * params[column];
    } else if column == d {
        gradient[column] = scale * sums[0];
    } else {
        let loss = sums[0] / rows + 0.5 * shape.l2 * squares[0];
        gradient[column] = loss;
        var loss_sum = control.loss_sum;
        var compensation = control.loss_compensation;
        kahan_add(&loss_sum, &compensation, loss);
        control.loss_sum = loss_sum;
        control.loss_compensation = compensation;
        control.global_step += 1u;
    }
}
