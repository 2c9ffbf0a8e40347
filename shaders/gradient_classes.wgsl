// The fused gradient pass for K = shape.classes margins per row:
// gradient.wgsl's pass, with each row's K margins computed from one read
// of the row. The margins are a multinomial loss's K classes, or (where
// shape.models is C > 0) K / C models' over the same rows, each with C
// margins side by side and its own loss (one margin, or a multinomial of
// C classes): a lockstep's pass, in which control.live_models of them lead
// the parameters and the rest are skipped. Each workgroup takes a fixed
// span of rows and writes one slot of partial raw sums: Σ sᵢ ∂ℓ/∂zᵢₖ xᵢⱼ
// at j·K + k, then Σ sᵢ ∂ℓ/∂zᵢₖ at features·K + k (the biases), Σ sᵢ lossᵢ
// (one for each model, for many models) and Σ sᵢ. The spans and the order
// of every sum are fixed, so results are reproducible; reduce.wgsl adds
// the slots.

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> params: array<f32>;
@group(0) @binding(4) var<storage, read> control: Control;
@group(0) @binding(5) var<storage, read_write> partials: array<f32>;

// As in gradient.wgsl: a tile is TILE_ROWS rows, and LANES neighbouring
// threads share each row (common.wgsl), each reading every LANES-th value
// of it once and multiplying it by the K weights of its feature.

// One lane's share of one class's margin, met in workgroup memory.
var<workgroup> lane_sums: array<f32, WORKGROUP_SIZE>;
// sᵢ ∂ℓ/∂zᵢₖ of the tile's rows, MAX_CLASSES values a row.
var<workgroup> tile_slopes: array<f32, TILE_ROWS * MAX_CLASSES>;
// sᵢ lossᵢₖ of the tile's rows, for many models.
var<workgroup> tile_losses: array<f32, TILE_ROWS * MAX_CLASSES>;
var<workgroup> loss_sums: array<f32, WORKGROUP_SIZE>;
var<workgroup> weight_sums: array<f32, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn partials_main(
    @builtin(local_invocation_index) thread: u32,
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let group = flat_group(group_id, groups);
    let d = shape.features;
    let classes = shape.classes;
    let many_models = shape.models > 0u;
    // The margins computed: every class, or those of the models still
    // fitting, C = per_model each.
    let per_model = max(shape.models, 1u);
    var live_models = 1u;
    var live = classes;
    if many_models {
        live_models = min(control.live_models, classes / per_model);
        live = live_models * per_model;
    }
    let row_in_tile = thread / LANES;
    let lane = thread % LANES;
    var rows = shape.rows;
    if shape.rows_from_control == 1u {
        rows = batch_len(shape, control.epoch_step);
    }
    let first = min(group * shape.rows_per_group, rows);
    let end = min(first + shape.rows_per_group, rows);
    // The parameters' columns, then the loss (one per model) and the
    // weight.
    let columns = parameter_count(shape);
    let summed = columns + loss_columns(shape);
    let slot = (shape.group_offset + group) * (summed + 1u);
    let stride = 1u + shape.weighted;
    // Where x binds a window of several steps' gathered rows: this step's
    // start in it.
    var window_first = 0u;
    if shape.windowed == 1u {
        window_first = (control.epoch_step % shape.steps_per_window) * shape.batch_size;
    }

    for (var c = thread; c < summed; c += WORKGROUP_SIZE) {
        partials[slot + c] = 0.0;
    }
    var loss_sum = 0.0;
    var weight_sum = 0.0;
    for (var tile = first; tile < end; tile += TILE_ROWS) {
        let row = tile + row_in_tile;
        // Zeroed for every tile: the row's margins start from 0.
        var z = array<f32, MAX_CLASSES>();
        if row < end {
            let base = (window_first + row) * d;
            for (var j = lane; j < d; j += LANES) {
                let value = x[base + j];
                for (var k = 0u; k < live; k++) {
                    z[k] += value * params[j * classes + k];
                }
            }
        }
        // Each margin, in the thread of lane 0.
        for (var k = 0u; k < live; k++) {
            lane_sums[thread] = z[k];
            workgroupBarrier();
            if lane == 0u {
                var dot = 0.0;
                for (var l = 0u; l < LANES; l++) {
                    dot += lane_sums[thread + l];
                }
                z[k] = dot;
            }
            workgroupBarrier();
        }
        if lane == 0u {
            var weight = 0.0;
            if row < end {
                for (var k = 0u; k < live; k++) {
                    z[k] += params[d * classes + k];
                }
                weight = 1.0;
                if shape.weighted == 1u {
                    weight = y[(window_first + row) * stride + 1u];
                }
                let truth = y[(window_first + row) * stride];
                // Where the models sum rows of their own: which are this
                // row's (a model whose row it is not takes 0 from it).
                var members = 0xffffffffu;
                if many_models && control.masked == 1u {
                    members = bitcast<u32>(params[columns + shape.chunk_start + row]);
                }
                // z becomes ∂ℓ/∂z.
                if many_models && per_model == 1u {
                    for (var k = 0u; k < live; k++) {
                        let member = ((members >> k) & 1u) == 1u;
                        tile_losses[row_in_tile * MAX_CLASSES + k] = select(0.0, weight * sample_loss(shape, z[k], truth), member);
                        z[k] = select(0.0, loss_derivative(shape, z[k], truth), member);
                    }
                } else if many_models {
                    // Each model's classes through the softmax on their own.
                    for (var m = 0u; m < live_models; m++) {
                        let member = ((members >> m) & 1u) == 1u;
                        var own = array<f32, MAX_CLASSES>();
                        for (var c = 0u; c < per_model; c++) {
                            own[c] = z[m * per_model + c];
                        }
                        let loss = multinomial_loss_and_slopes(per_model, &own, truth);
                        tile_losses[row_in_tile * MAX_CLASSES + m] = select(0.0, weight * loss, member);
                        for (var c = 0u; c < per_model; c++) {
                            z[m * per_model + c] = select(0.0, own[c], member);
                        }
                    }
                } else {
                    loss_sum += weight * multinomial_loss_and_slopes(classes, &z, truth);
                }
                weight_sum += weight;
            }
            for (var k = 0u; k < live; k++) {
                tile_slopes[row_in_tile * MAX_CLASSES + k] = weight * z[k];
            }
        }
        workgroupBarrier();
        // Column c = j·K + k takes Σ over the tile of slope k times feature
        // j, the biases' columns (j = features) times 1; for many models,
        // column columns + k the tile's losses of model k.
        let tile_len = min(TILE_ROWS, end - tile);
        var tiled = columns;
        if many_models {
            tiled = summed;
        }
        for (var c = thread; c < tiled; c += WORKGROUP_SIZE) {
            var j = c / classes;
            var k = c % classes;
            var skipped = k >= live;
            if c >= columns {
                // Model k's loss.
                j = d + 1u;
                k = c - columns;
                skipped = k >= live_models;
            }
            if skipped {
                continue;
            }
            var acc = 0.0;
            for (var r = 0u; r < tile_len; r++) {
                if j > d {
                    acc += tile_losses[r * MAX_CLASSES + k];
                } else {
                    var value = 1.0;
                    if j < d {
                        value = x[(window_first + tile + r) * d + j];
                    }
                    acc += tile_slopes[r * MAX_CLASSES + k] * value;
                }
            }
            partials[slot + c] += acc;
        }
        workgroupBarrier();
    }

    loss_sums[thread] = loss_sum;
    weight_sums[thread] = weight_sum;
    workgroupBarrier();
    for (var half = WORKGROUP_SIZE / 2u; half > 0u; half /= 2u) {
        if thread < half {
            loss_sums[thread] += loss_sums[thread + half];
            weight_sums[thread] += weight_sums[thread + half];
        }
        workgroupBarrier();
    }
    if thread == 0u {
        if !many_models {
            partials[slot + columns] = loss_sums[0];
        }
        partials[slot + summed] = weight_sums[0];
    }
}
