// Σᵢ sᵢ ∂ℓ/∂zᵢₖ xᵢⱼ over each segment of a column, from a copy of the
// sparse rows by column (CSC, made once when the rows are uploaded), cut
// into segments of at most `SEGMENT_ENTRIES` entries (src/engine/gpu/
// sparse.rs; a column's segments
// follow one another): one invocation a (segment, margin) adds the
// segment's entries in their order, and the host adds a column's segments
// in theirs, in float64. No atomics: the same sums at every run; and no
// loop longer than a segment. Mirrors src/engine/cpu/sparse.rs.

@group(0) @binding(0) var<uniform> shape: Shape;
// Where each segment starts among the entries, then where the last ends.
@group(0) @binding(1) var<storage, read> segment_starts: array<u32>;
// Each entry's row, and its value, column by column.
@group(0) @binding(2) var<storage, read> rows_of: array<u32>;
@group(0) @binding(3) var<storage, read> column_values: array<f32>;
@group(0) @binding(4) var<storage, read> slopes: array<f32>;
// Segment by segment, shape.classes sums each.
@group(0) @binding(5) var<storage, read_write> sums: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn sparse_columns_main(
    @builtin(local_invocation_index) thread: u32,
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let classes = shape.classes;
    let segments = arrayLength(&segment_starts) - 1u;
    let at = flat_group(group_id, groups) * WORKGROUP_SIZE + thread;
    if at >= segments * classes {
        return;
    }
    let segment = at / classes;
    let k = at - segment * classes;
    var sum = 0.0;
    for (var e = segment_starts[segment]; e < segment_starts[segment + 1u]; e++) {
        sum += slopes[rows_of[e] * classes + k] * column_values[e];
    }
    sums[at] = sum;
}
