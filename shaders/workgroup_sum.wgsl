// A sum over a workgroup in a fixed tree of workgroup memory (no float
// atomics: the same bits at every run); put before the kernels that take
// it (the sparse rows' and batches').

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
