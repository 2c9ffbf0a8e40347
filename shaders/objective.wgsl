// The objective, defined once for every kernel: the loss of one row and its
// derivative with respect to the margin (by Shape.loss), the penalty (by
// Shape.l2_strength and Shape.l1_strength), the one step that turns a
// batch's raw sums into its gradient and loss, and the L1 part's proximal
// step. Mirrors src/model.rs and src/objective.rs.

const LOSS_LOGISTIC: u32 = 1u;

fn sigmoid(z: f32) -> f32 {
    if z >= 0.0 {
        return 1.0 / (1.0 + exp(-z));
    }
    let e = exp(z);
    return e / (1.0 + e);
}

// ln(1 + e) for e in [0, 1], without losing small e (WGSL has no log1p).
fn log1p_small(e: f32) -> f32 {
    if e < 1e-4 {
        return e * (1.0 - e * (0.5 - e / 3.0));
    }
    return log(1.0 + e);
}

// The loss of one row; the logistic form never overflows.
fn sample_loss(loss: u32, z: f32, y: f32) -> f32 {
    if loss == LOSS_LOGISTIC {
        return max(z, 0.0) - y * z + log1p_small(exp(-abs(z)));
    }
    let r = z - y;
    return r * r;
}

// d loss / d z of one row: 2 (z − y) or σ(z) − y.
fn loss_derivative(loss: u32, z: f32, y: f32) -> f32 {
    if loss == LOSS_LOGISTIC {
        return sigmoid(z) - y;
    }
    return (z - y) * 2.0;
}

// The derivative of the penalty's squared part with respect to one weight.
fn penalty_derivative(shape: Shape, weight: f32) -> f32 {
    return shape.l2_strength * weight;
}

// The penalty's value given Σ w² and Σ |w|.
fn penalty_value(shape: Shape, squares: f32, magnitudes: f32) -> f32 {
    return 0.5 * shape.l2_strength * squares + shape.l1_strength * magnitudes;
}

// Parameter `column` after the L1 part's proximal step, the rule's step
// per unit gradient being `unit`: sign(w) · max(|w| − unit · λ₁, 0) for a
// weight, the bias unchanged.
fn shrink(shape: Shape, column: u32, theta: f32, unit: f32) -> f32 {
    if column >= shape.features || shape.l1_strength <= 0.0 {
        return theta;
    }
    let shrunk = abs(theta) - unit * shape.l1_strength;
    if shrunk > 0.0 {
        return sign(theta) * shrunk;
    }
    return 0.0;
}

// Component `column` of the batch gradient (weights, then the bias at
// column = features) from its raw sum over `rows` rows, at parameter
// `theta`.
fn assemble_gradient(shape: Shape, column: u32, sum: f32, rows: u32, theta: f32) -> f32 {
    let mean = sum / f32(rows);
    if column < shape.features {
        return mean + penalty_derivative(shape, theta);
    }
    return mean;
}

// The batch loss from Σ loss over `rows` rows, Σ w² and Σ |w|.
fn assemble_loss(shape: Shape, loss_sum: f32, rows: u32, squares: f32, magnitudes: f32) -> f32 {
    return loss_sum / f32(rows) + penalty_value(shape, squares, magnitudes);
}
