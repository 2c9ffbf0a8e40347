// Σᵢ sᵢ ∂ℓ/∂zᵢₖ xᵢⱼ of every feature j and margin k, from a copy of the
// sparse rows by column (CSC, made once when the rows are uploaded): one
// invocation a (feature, margin) adds its column's entries in their order,
// so the sums need no atomics and are the same at every run. Mirrors
// src/engine/cpu/sparse.rs.

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> colptr: array<u32>;
// Each entry's row, and its value, column by column.
@group(0) @binding(2) var<storage, read> rows_of: array<u32>;
@group(0) @binding(3) var<storage, read> column_values: array<f32>;
@group(0) @binding(4) var<storage, read> slopes: array<f32>;
// Feature by feature, shape.classes each.
@group(0) @binding(5) var<storage, read_write> sums: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn sparse_columns_main(
    @builtin(local_invocation_index) thread: u32,
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let classes = shape.classes;
    let at = flat_group(group_id, groups) * WORKGROUP_SIZE + thread;
    if at >= shape.features * classes {
        return;
    }
    let j = at / classes;
    let k = at - j * classes;
    var sum = 0.0;
    for (var e = colptr[j]; e < colptr[j + 1u]; e++) {
        sum += slopes[rows_of[e] * classes + k] * column_values[e];
    }
    sums[at] = sum;
}
