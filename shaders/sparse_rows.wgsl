// Sparse rows on the device, in CSR form: each row's margins from its
// stored entries, its loss and its slopes sᵢ ∂ℓ/∂zᵢₖ (kept for
// sparse_columns.wgsl), and per workgroup of rows the sums of the losses,
// the weights and each margin's slopes (the bias columns), added in a
// fixed tree. Mirrors src/engine/cpu/sparse.rs.

@group(0) @binding(0) var<uniform> shape: Shape;
// The weights (feature by feature, shape.classes each), then the biases.
@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read> indptr: array<u32>;
@group(0) @binding(3) var<storage, read> indices: array<u32>;
@group(0) @binding(4) var<storage, read> values: array<f32>;
// Each target, followed by its row's weight where shape.weighted is 1.
@group(0) @binding(5) var<storage, read> y: array<f32>;
// Row by row, shape.classes slopes each.
@group(0) @binding(6) var<storage, read_write> slopes: array<f32>;
// Of each workgroup's rows: Σ sᵢ lossᵢ, Σ sᵢ, then Σ sᵢ ∂ℓ/∂zᵢₖ of each
// margin k (2 + shape.classes values a group).
@group(0) @binding(7) var<storage, read_write> partials: array<f32>;

var<workgroup> tree: array<f32, WORKGROUP_SIZE>;

// The sum over the workgroup of each invocation's `value`, in a fixed
// tree; every invocation calls it (it waits on the others).
fn workgroup_sum(thread: u32, value: f32) -> f32 {
    tree[thread] = value;
    workgroupBarrier();
    for (var width = WORKGROUP_SIZE / 2u; width > 0u; width /= 2u) {
        if thread < width {
            tree[thread] += tree[thread + width];
        }
        workgroupBarrier();
    }
    let sum = tree[0];
    workgroupBarrier();
    return sum;
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
    var z: array<f32, MAX_CLASSES>;
    var loss = 0.0;
    var s = 0.0;
    if row < shape.rows {
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
        s = 1.0;
        if shape.weighted == 1u {
            s = y[row * stride + 1u];
        }
        if shape.loss == LOSS_MULTINOMIAL {
            // z is left holding the slopes.
            loss = s * multinomial_loss_and_slopes(classes, &z, label);
        } else {
            loss = s * sample_loss(shape, z[0], label);
            z[0] = loss_derivative(shape, z[0], label);
        }
        for (var k = 0u; k < classes; k++) {
            z[k] *= s;
            slopes[row * classes + k] = z[k];
        }
    }
    let first = group * (2u + classes);
    let loss_sum = workgroup_sum(thread, loss);
    let weight_sum = workgroup_sum(thread, s);
    if thread == 0u {
        partials[first] = loss_sum;
        partials[first + 1u] = weight_sum;
    }
    for (var k = 0u; k < classes; k++) {
        // Rows past the end hold no slopes.
        var slope = 0.0;
        if row < shape.rows {
            slope = z[k];
        }
        let slope_sum = workgroup_sum(thread, slope);
        if thread == 0u {
            partials[first + 2u + k] = slope_sum;
        }
    }
}
