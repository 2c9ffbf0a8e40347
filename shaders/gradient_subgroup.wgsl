// The entry point of gradient.wgsl where the adapter has subgroups of at
// least LANES invocations (the device has wgpu's SUBGROUP feature): the
// lanes of a row are LANES neighbouring invocations of one subgroup, placed
// by the subgroup builtins rather than by assuming how invocations map to
// subgroups, and their sums meet through shuffles, without workgroup memory
// or a barrier. No subgroup size is assumed beyond the minimum the host
// checked.

fn row_dot(partial: f32, thread: u32, lane: u32) -> f32 {
    var sum = partial;
    for (var mask = LANES / 2u; mask > 0u; mask /= 2u) {
        sum += subgroupShuffleXor(sum, mask);
    }
    return sum;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn partials_main(
    @builtin(local_invocation_index) thread: u32,
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(subgroup_id) subgroup: u32,
    @builtin(subgroup_size) subgroup_size: u32,
    @builtin(subgroup_invocation_id) in_subgroup: u32,
) {
    // Subgroups of a power-of-two size of at least LANES fill the workgroup,
    // so this numbering is a permutation of 0..WORKGROUP_SIZE in which the
    // LANES threads of a row share a subgroup.
    let position = subgroup * subgroup_size + in_subgroup;
    partials_body(thread, position / LANES, in_subgroup % LANES, flat_group(group_id, groups));
}
