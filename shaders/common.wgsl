// Declarations shared by every kernel; prepended, with objective.wgsl and
// rule.wgsl, to each kernel's source.

// What a dispatch needs to know about the data and the fit; fixed for a fit
// (one copy per buffer of rows). Mirrors `Shape` in src/engine/gpu/mod.rs.
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
    // The loss (the LOSS_ constants of objective.wgsl).
    loss: u32,
    // The strength of the penalty's absolute part (λ₁ of λ₁‖w‖₁), applied
    // by soft-thresholding after each update.
    l1_strength: f32,
    // 0 sgd, 1 momentum, 2 nesterov, 3 adagrad, 4 rmsprop, 5 adam.
    optimizer: u32,
    // Partial-sum slots the reduction adds.
    partial_groups: u32,
    steps_per_epoch: u32,
    // The strength of the penalty's squared part (λ₂ of (λ₂/2)‖w‖²).
    l2_strength: f32,
    // Momentum's beta or Adam's beta1.
    beta1: f32,
    // RMSProp's alpha or Adam's beta2.
    beta2: f32,
    eps: f32,
    // Most steps one dispatch of steps.wgsl runs.
    steps_per_dispatch: u32,
    // The ε of the Huber and ε-insensitive losses.
    loss_epsilon: f32,
    // 1 when each target in the buffers of y is followed by its row's
    // sample weight, 0 when the rows weigh 1.
    weighted: u32,
    // The first step (from 1) whose parameters the running average takes
    // in; 0 when the fit does not average.
    average_from: u32,
    // Margins per row: K for the multinomial loss over K classes, else 1.
    // The parameters are features × classes weights (feature by feature),
    // then one bias per class.
    classes: u32,
    // Steps whose rows gather.wgsl copies together in one dispatch: 1 for
    // a gathered batch, steps_per_dispatch for a window of steps.wgsl.
    steps_per_window: u32,
    // 1 when steps.wgsl reads its rows from a gathered window, in their
    // order, rather than from X through the permutation.
    windowed: u32,
    // ln beta1 and ln beta2, computed by the host in float64 (Adam's bias
    // correction, rule.wgsl); 0 where a beta is 0.
    log_beta1: f32,
    log_beta2: f32,
    // The mean weight of the fit's rows where its steps take mini-batches
    // of weighted rows, else 0 (batch_divisor).
    mean_weight: f32,
    // Where the K = classes margins of a row are many models' over the
    // same rows and targets (a pass of a lockstep, gradient_classes.wgsl),
    // each with the loss above and a loss sum of its own: each model's
    // margins (1, or a multinomial's classes), K / models of them side by
    // side; 0 for one model.
    models: u32,
}

// The state of the descent loop that changes from step to step. The host
// writes it at the start of each epoch and reads it back at the end.
struct Control {
    epoch_step: u32,
    global_step: u32,
    learning_rate: f32,
    // Rows of the batch the last reduction summed, and their total weight
    // (the rows, unweighted): reduce.wgsl writes them, update.wgsl divides
    // by the weight.
    batch_rows: u32,
    batch_weight: f32,
    // Of a pass of many models (shape.models): how many lead the
    // parameters; the margins of the rest are not computed.
    live_models: u32,
    // 1 where each of those models sums rows of its own (the folds of a
    // cross-validation): params then holds, after the parameters, a word
    // per row of the data set whose bit k says whether the row is model
    // k's (row_is_models in gradient_classes.wgsl).
    masked: u32,
}

// WORKGROUP_SIZE, TILE_ROWS (rows per tile of the legacy gradient passes),
// LANES (threads to a row there), STEP_CAP and MAX_CLASSES come from the
// engine (src/engine/gpu/shared.rs), which declares them before this file.

// Whether the objective has a penalty: without one, its sums over the
// weights (Σθ², Σ|θ|) are not taken.
fn penalized(shape: Shape) -> bool {
    return shape.l2_strength != 0.0 || shape.l1_strength != 0.0;
}

// The weights: features × classes.
fn weight_count(shape: Shape) -> u32 {
    return shape.features * shape.classes;
}

// The weights, then the biases.
fn parameter_count(shape: Shape) -> u32 {
    return (shape.features + 1u) * shape.classes;
}

// The loss sums of a slot of partial sums: one per model of a pass of
// many models, else one.
fn loss_columns(shape: Shape) -> u32 {
    if shape.models > 0u {
        return shape.classes / shape.models;
    }
    return 1u;
}


// The count of the update after `step` updates.
fn next_step(step: u32) -> u32 {
    return min(step, STEP_CAP - 1u) + 1u;
}

// Rows of the current step: the whole batch, or what is left of the epoch.
fn batch_len(shape: Shape, epoch_step: u32) -> u32 {
    return min(shape.batch_size, shape.total_rows - epoch_step * shape.batch_size);
}

// What a batch's sums over `rows` rows of total weight `weight_sum` are
// divided by: the rows times the fit's mean row weight where it steps
// mini-batches of weighted rows, else the batch's own weight (the rows,
// unweighted). Mirrors batch_divisor in src/math/objective.rs.
fn batch_divisor(shape: Shape, rows: u32, weight_sum: f32) -> f32 {
    if shape.mean_weight > 0.0 {
        return f32(rows) * shape.mean_weight;
    }
    if shape.weighted == 1u {
        return weight_sum;
    }
    return f32(rows);
}

// Workgroups are laid out in two dimensions when one would exceed the
// adapter's limit per dimension.
fn flat_group(group: vec3<u32>, groups: vec3<u32>) -> u32 {
    return group.x + group.y * groups.x;
}

// Polyak–Ruppert averaging after the update that made `step` steps: the
// mean of the parameters after steps average_from, …, step (optim.rs's
// `average`).
fn averaged(shape: Shape, mean: f32, theta: f32, step: u32) -> f32 {
    if shape.average_from == 0u || step < shape.average_from {
        return mean;
    }
    let k = f32(step - shape.average_from + 1u);
    return mean + (theta - mean) / k;
}
