// The entry point of gradient_rows.wgsl for every adapter: the threads of a
// row are ROW_THREADS consecutive invocations, and their partial dot
// products meet in workgroup memory, each thread adding the row's in the
// same order.

var<workgroup> lane_sums: array<f32, WORKGROUP_SIZE>;

fn row_sum(partial: f32, position: u32) -> f32 {
    lane_sums[position] = partial;
    workgroupBarrier();
    let first = position / ROW_THREADS * ROW_THREADS;
    var sum = 0.0;
    for (var l = 0u; l < ROW_THREADS; l++) {
        sum += lane_sums[first + l];
    }
    // Before the next row's partial sums overwrite these.
    workgroupBarrier();
    return sum;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn partials_main(
    @builtin(local_invocation_index) thread: u32,
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    rows_body(thread, flat_group(group_id, groups));
}
