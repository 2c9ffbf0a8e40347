// The entry point of gradient_rows.wgsl where the adapter's subgroups hold
// at least ROW_THREADS invocations: the threads of a row are neighbours in
// one subgroup (placed by the subgroup builtins), and their partial dot
// products meet through shuffles, with no workgroup memory or barrier.

fn row_sum(partial: f32, position: u32) -> f32 {
    var sum = partial;
    for (var mask = ROW_THREADS / 2u; mask > 0u; mask /= 2u) {
        sum += subgroupShuffleXor(sum, mask);
    }
    return sum;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn partials_main(
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(subgroup_id) subgroup: u32,
    @builtin(subgroup_size) subgroup_size: u32,
    @builtin(subgroup_invocation_id) in_subgroup: u32,
) {
    // Subgroups of a power-of-two size of at least ROW_THREADS fill the
    // workgroup, so this numbering is a permutation of 0..WORKGROUP_SIZE in
    // which the threads of a row share a subgroup.
    rows_body(subgroup * subgroup_size + in_subgroup, flat_group(group_id, groups));
}
