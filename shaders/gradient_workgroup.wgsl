// The entry point of gradient.wgsl for every adapter: the lanes of a row are
// LANES consecutive threads, and their partial sums meet in workgroup memory.

var<workgroup> lane_sums: array<f32, WORKGROUP_SIZE>;

fn row_dot(partial: f32, thread: u32, lane: u32) -> f32 {
    lane_sums[thread] = partial;
    workgroupBarrier();
    var dot = 0.0;
    if lane == 0u {
        for (var l = 0u; l < LANES; l++) {
            dot += lane_sums[thread + l];
        }
    }
    return dot;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn partials_main(
    @builtin(local_invocation_index) thread: u32,
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    partials_body(thread, thread / LANES, thread % LANES, flat_group(group_id, groups));
}
