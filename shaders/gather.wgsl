// Copies the rows of the current mini-batch (or of the next
// shape.steps_per_window steps), named by the epoch's permutation, into one
// contiguous buffer, so that the gradient pass (or steps.wgsl) reads them
// as it reads a chunk of X. Runs once per buffer of X: each run copies the
// rows that buffer holds.

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> order: array<u32>;
@group(0) @binding(4) var<storage, read> control: Control;
@group(0) @binding(5) var<storage, read_write> batch_x: array<f32>;
@group(0) @binding(6) var<storage, read_write> batch_y: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn gather_main(
    @builtin(local_invocation_index) thread: u32,
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let d = shape.features;
    let step = control.epoch_step;
    let first = step * shape.batch_size;
    let rows = min(shape.steps_per_window * shape.batch_size, shape.total_rows - first);
    let values = rows * d;
    let threads = groups.x * groups.y * WORKGROUP_SIZE;
    for (var e = flat_group(group_id, groups) * WORKGROUP_SIZE + thread; e < values; e += threads) {
        let k = e / d;
        let j = e - k * d;
        let row = order[first + k];
        if row >= shape.chunk_start && row - shape.chunk_start < shape.rows {
            let local_row = row - shape.chunk_start;
            batch_x[e] = x[local_row * d + j];
            if j == 0u {
                // The target, and its weight where y holds weights.
                let stride = 1u + shape.weighted;
                batch_y[k * stride] = y[local_row * stride];
                if shape.weighted == 1u {
                    batch_y[k * stride + 1u] = y[local_row * stride + 1u];
                }
            }
        }
    }
}
