// One optimizer update of every parameter (weights, then biases) from the
// raw sums reduce.wgsl left, turned into the gradient by
// assemble_gradient, with the learning rate the host wrote for the epoch,
// then the L1 part's proximal step (shrink); then moves the loop on to
// the next step of the epoch.
//
// state holds the first moments, the second moments, then the running
// average of the parameters (averaged SGD), one per parameter.

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> sums: array<f32>;
@group(0) @binding(2) var<storage, read_write> control: Control;
@group(0) @binding(3) var<storage, read_write> params: array<f32>;
@group(0) @binding(4) var<storage, read_write> state: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn update_main(
    @builtin(local_invocation_index) thread: u32,
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let count = parameter_count(shape);
    let j = flat_group(group_id, groups) * WORKGROUP_SIZE + thread;
    if j == 0u {
        // No thread of this dispatch reads epoch_step.
        control.epoch_step += 1u;
    }
    if j >= count {
        return;
    }
    let gradient = assemble_gradient(shape, j, sums[j], control.batch_weight, params[j]);
    var first = state[j];
    var second = state[count + j];
    let updated = apply_rule(
        shape, params[j], gradient, &first, &second,
        control.learning_rate, control.global_step,
    );
    let unit = unit_step(shape, second, control.learning_rate, control.global_step);
    params[j] = shrink(shape, j, updated, unit);
    state[j] = first;
    state[count + j] = second;
    state[2u * count + j] = averaged(shape, state[2u * count + j], params[j], control.global_step);
}
