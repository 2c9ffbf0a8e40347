// Sparse rows on the device, in CSR form: each row's margin from its
// stored entries, its loss and its slope sᵢ ℓ′(zᵢ) (kept for
// sparse_columns.wgsl), and per workgroup of rows the sums of the losses,
// the slopes (the bias column) and the weights, added in a fixed tree. One
// margin a row (the multinomial reads its rows dense). Mirrors
// src/engine/cpu/sparse.rs.

@group(0) @binding(0) var<uniform> shape: Shape;
// The weights, then the bias.
@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read> indptr: array<u32>;
@group(0) @binding(3) var<storage, read> indices: array<u32>;
@group(0) @binding(4) var<storage, read> values: array<f32>;
// Each target, followed by its row's weight where shape.weighted is 1.
@group(0) @binding(5) var<storage, read> y: array<f32>;
@group(0) @binding(6) var<storage, read_write> slopes: array<f32>;
// (Σ sᵢ lossᵢ, Σ sᵢ ℓ′ᵢ, Σ sᵢ) of each workgroup's rows.
@group(0) @binding(7) var<storage, read_write> partials: array<f32>;

var<workgroup> tree: array<vec3<f32>, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn sparse_rows_main(
    @builtin(local_invocation_index) thread: u32,
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let group = flat_group(group_id, groups);
    let row = group * WORKGROUP_SIZE + thread;
    var totals = vec3<f32>(0.0);
    if row < shape.rows {
        var z = params[shape.features];
        for (var e = indptr[row]; e < indptr[row + 1u]; e++) {
            z += values[e] * params[indices[e]];
        }
        let stride = 1u + shape.weighted;
        let label = y[row * stride];
        var s = 1.0;
        if shape.weighted == 1u {
            s = y[row * stride + 1u];
        }
        let slope = s * loss_derivative(shape, z, label);
        slopes[row] = slope;
        totals = vec3<f32>(s * sample_loss(shape, z, label), slope, s);
    }
    tree[thread] = totals;
    workgroupBarrier();
    for (var width = WORKGROUP_SIZE / 2u; width > 0u; width /= 2u) {
        if thread < width {
            tree[thread] += tree[thread + width];
        }
        workgroupBarrier();
    }
    if thread == 0u {
        partials[group * 3u] = tree[0].x;
        partials[group * 3u + 1u] = tree[0].y;
        partials[group * 3u + 2u] = tree[0].z;
    }
}
