// The fused gradient pass for a loss with K = shape.classes margins per row
// (the multinomial): gradient.wgsl's pass, with each row's K margins
// computed from one read of the row. Each workgroup takes a fixed span of
// rows and writes one slot of partial raw sums: Σ sᵢ ∂ℓ/∂zᵢₖ xᵢⱼ at
// j·K + k, then Σ sᵢ ∂ℓ/∂zᵢₖ at features·K + k (the biases), Σ sᵢ lossᵢ
// and Σ sᵢ. The spans and the order of every sum are fixed, so results are
// reproducible; reduce.wgsl adds the slots.

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
    let row_in_tile = thread / LANES;
    let lane = thread % LANES;
    var rows = shape.rows;
    if shape.rows_from_control == 1u {
        rows = batch_len(shape, control.epoch_step);
    }
    let first = min(group * shape.rows_per_group, rows);
    let end = min(first + shape.rows_per_group, rows);
    // The parameters' columns, then the loss and the weight.
    let columns = parameter_count(shape);
    let slot = (shape.group_offset + group) * (columns + 2u);
    let stride = 1u + shape.weighted;
    // Where x binds a window of several steps' gathered rows: this step's
    // start in it.
    var window_first = 0u;
    if shape.windowed == 1u {
        window_first = (control.epoch_step % shape.steps_per_window) * shape.batch_size;
    }

    for (var c = thread; c < columns; c += WORKGROUP_SIZE) {
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
                for (var k = 0u; k < classes; k++) {
                    z[k] += value * params[j * classes + k];
                }
            }
        }
        // Each class's margin, in the thread of lane 0.
        for (var k = 0u; k < classes; k++) {
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
                for (var k = 0u; k < classes; k++) {
                    z[k] += params[d * classes + k];
                }
                weight = 1.0;
                if shape.weighted == 1u {
                    weight = y[(window_first + row) * stride + 1u];
                }
                // z becomes ∂ℓ/∂z.
                loss_sum += weight * multinomial_loss_and_slopes(classes, &z, y[(window_first + row) * stride]);
                weight_sum += weight;
            }
            for (var k = 0u; k < classes; k++) {
                tile_slopes[row_in_tile * MAX_CLASSES + k] = weight * z[k];
            }
        }
        workgroupBarrier();
        // Column c = j·K + k takes Σ over the tile of slope k times feature
        // j, the biases' columns (j = features) times 1.
        let tile_len = min(TILE_ROWS, end - tile);
        for (var c = thread; c < columns; c += WORKGROUP_SIZE) {
            let j = c / classes;
            let k = c % classes;
            var acc = 0.0;
            for (var r = 0u; r < tile_len; r++) {
                var value = 1.0;
                if j < d {
                    value = x[(window_first + tile + r) * d + j];
                }
                acc += tile_slopes[r * MAX_CLASSES + k] * value;
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
        partials[slot + columns] = loss_sums[0];
        partials[slot + columns + 1u] = weight_sums[0];
    }
}
