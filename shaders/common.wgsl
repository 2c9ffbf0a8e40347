// Declarations shared by every kernel; prepended to each kernel's source.
// The math mirrors src/model.rs: one definition per model, as DESIGN.md says.

// What a dispatch needs to know about the data and the fit; fixed for a fit
// (one copy per buffer of rows). Mirrors `Shape` in src/gpu/mod.rs.
struct Shape {
    // Rows held by the bound buffer of X.
    rows: u32,
    features: u32,
    // Rows per step (all rows for the full batch).
    batch_size: u32,
    // Rows of the whole data set.
    total_rows: u32,
    // Rows each workgroup of the gradient kernel sums.
    rows_per_group: u32,
    // First partial-sum slot written by this dispatch.
    group_offset: u32,
    // Index, in the whole data set, of the first row of the bound buffer.
    chunk_start: u32,
    // 1 when the bound buffer is the gathered batch, whose length changes
    // with the step (the last batch of an epoch is shorter).
    rows_from_control: u32,
    // 0 linear, 1 logistic.
    model: u32,
    // 0 sgd, 1 momentum, 2 nesterov, 3 adagrad, 4 rmsprop, 5 adam.
    optimizer: u32,
    // Partial-sum slots the reduction adds.
    partial_groups: u32,
    steps_per_epoch: u32,
    l2: f32,
    // Momentum's beta or Adam's beta1.
    beta1: f32,
    // RMSProp's alpha or Adam's beta2.
    beta2: f32,
    eps: f32,
    // Most steps one dispatch of steps.wgsl runs.
    steps_per_dispatch: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

// The state of the descent loop that changes from step to step. The host
// writes it at the start of each epoch and reads it back at the end.
struct Control {
    epoch_step: u32,
    global_step: u32,
    learning_rate: f32,
    // Compensated (Kahan) sum of the batch losses of the epoch.
    loss_sum: f32,
    loss_compensation: f32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

const WORKGROUP_SIZE: u32 = 256u;
const MODEL_LOGISTIC: u32 = 1u;

fn sigmoid(z: f32) -> f32 {
    if z >= 0.0 {
        return 1.0 / (1.0 + exp(-z));
    }
    let e = exp(z);
    return e / (1.0 + e);
}

fn link(model: u32, z: f32) -> f32 {
    if model == MODEL_LOGISTIC {
        return sigmoid(z);
    }
    return z;
}

// ln(1 + e) for e in [0, 1], without losing small e (WGSL has no log1p).
fn log1p_small(e: f32) -> f32 {
    if e < 1e-4 {
        return e * (1.0 - e * (0.5 - e / 3.0));
    }
    return log(1.0 + e);
}

// The loss of one sample; the logistic form never overflows.
fn sample_loss(model: u32, z: f32, y: f32) -> f32 {
    if model == MODEL_LOGISTIC {
        return max(z, 0.0) - y * z + log1p_small(exp(-abs(z)));
    }
    let r = z - y;
    return r * r;
}

// 2 for the squared error, 1 for the cross-entropy: turns h(z) - y into
// d loss / d z.
fn residual_scale(model: u32) -> f32 {
    if model == MODEL_LOGISTIC {
        return 1.0;
    }
    return 2.0;
}

// Rows of the current step: the whole batch, or what is left of the epoch.
fn batch_len(shape: Shape, epoch_step: u32) -> u32 {
    return min(shape.batch_size, shape.total_rows - epoch_step * shape.batch_size);
}

// Workgroups are laid out in two dimensions when one would exceed the
// adapter's limit per dimension.
fn flat_group(group: vec3<u32>, groups: vec3<u32>) -> u32 {
    return group.x + group.y * groups.x;
}

fn kahan_add(sum: ptr<function, f32>, compensation: ptr<function, f32>, value: f32) {
    let corrected = value - *compensation;
    let total = *sum + corrected;
    *compensation = (total - *sum) - corrected;
    *sum = total;
}
