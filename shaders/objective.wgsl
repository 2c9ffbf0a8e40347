// The objective, defined once for every kernel: the loss of one row and its
// derivative with respect to the margin (by Shape.loss), the penalty (by
// Shape.l2_strength and Shape.l1_strength), the one step that turns a
// batch's raw sums into its gradient and loss, and the L1 part's proximal
// step. Mirrors src/loss.rs and src/objective.rs.

// The losses' codes (LOSS_SQUARED, LOSS_LOG, …, LOSS_MULTINOMIAL) come from
// the engine (src/engine/gpu/shared.rs).

// MAX_CLASSES, the most classes whose margins a kernel holds for one row,
// comes from the engine (src/engine/gpu/shared.rs).

// The multinomial loss of a row with margins z (the first `classes`) and
// label y: log Σ e^(zₖ) − z_y (src/loss.rs); z is left holding its
// derivatives ∂ℓ/∂zₖ = softmax(z)ₖ − [k = y].
fn multinomial_loss_and_slopes(classes: u32, z: ptr<function, array<f32, MAX_CLASSES>>, y: f32) -> f32 {
    var largest = (*z)[0];
    var first_largest = 0u;
    for (var k = 1u; k < classes; k++) {
        if (*z)[k] > largest {
            largest = (*z)[k];
            first_largest = k;
        }
    }
    // Σ e^(zₖ − max) = 1 + rest, with the rest summed apart so that
    // ln(1 + rest) keeps its digits when the rest is small.
    var rest = 0.0;
    for (var k = 0u; k < classes; k++) {
        if k != first_largest {
            rest += exp((*z)[k] - largest);
        }
    }
    let spread = 1.0 + rest;
    let label = min(u32(max(y, 0.0)), classes - 1u);
    let loss = largest + log1p(rest) - (*z)[label];
    for (var k = 0u; k < classes; k++) {
        var one_hot = 0.0;
        if k == label {
            one_hot = 1.0;
        }
        (*z)[k] = exp((*z)[k] - largest) / spread - one_hot;
    }
    return loss;
}

fn sigmoid(z: f32) -> f32 {
    if z >= 0.0 {
        return 1.0 / (1.0 + exp(-z));
    }
    let e = exp(z);
    return e / (1.0 + e);
}

// ln(1 + e) for e > −1 to within a few ulp relative. WGSL has no log1p,
// and its log is bounded only in absolute terms (2⁻²¹) on [0.5, 2], so
// log(1 + e) can lose every digit of a small e. On e ∈ [−0.5, 1] this is
// ln(1 + e) = 2 atanh(t), t = e / (2 + e), |t| ≤ 1/3, whose odd series to
// t¹⁷ leaves a truncation below 2⁻²⁹ relative; its operations (a division,
// then multiplications and additions of terms each under a ninth of the
// last) are correctly rounded to within 2.5 ulp each, so the whole is within
// about 8 ulp. Beyond, 1 + e is outside [0.5, 2], where log is within 3 ulp.
fn log1p(e: f32) -> f32 {
    if e < -0.5 || e > 1.0 {
        return log(1.0 + e);
    }
    let t = e / (2.0 + e);
    let t2 = t * t;
    // Horner's form, written out: a loop here would count against
    // lavapipe's limit of loop iterations per invocation (LOOP_BUDGET in
    // src/engine/gpu/mod.rs) for every row.
    var series = 1.0 / 15.0 + t2 / 17.0;
    series = 1.0 / 13.0 + t2 * series;
    series = 1.0 / 11.0 + t2 * series;
    series = 1.0 / 9.0 + t2 * series;
    series = 1.0 / 7.0 + t2 * series;
    series = 1.0 / 5.0 + t2 * series;
    series = 1.0 / 3.0 + t2 * series;
    return 2.0 * t * (1.0 + t2 * series);
}

// ln y to within a few ulp relative: through log1p near 1 (y − 1 is exact
// there), where log's bound is only absolute.
fn precise_log(y: f32) -> f32 {
    if y >= 0.5 && y <= 2.0 {
        return log1p(y - 1.0);
    }
    return log(y);
}

// The loss of one row with margin z and target y (the table of src/loss.rs;
// labels y in {0, 1} read as s = 2y − 1 by the classification losses).
fn sample_loss(shape: Shape, z: f32, y: f32) -> f32 {
    let r = z - y;
    let s = 2.0 * y - 1.0;
    let e = shape.loss_epsilon;
    switch shape.loss {
        case LOSS_LOG: {
            // Never overflows.
            return max(z, 0.0) - y * z + log1p(exp(-abs(z)));
        }
        case LOSS_HUBER: {
            if abs(r) <= e {
                return r * r / 2.0;
            }
            return e * abs(r) - e * e / 2.0;
        }
        case LOSS_EPSILON_INSENSITIVE: {
            return max(abs(r) - e, 0.0);
        }
        case LOSS_SQUARED_EPSILON_INSENSITIVE: {
            let excess = max(abs(r) - e, 0.0);
            return excess * excess;
        }
        case LOSS_POISSON: {
            // Half the deviance: 0 where e^z = y.
            var constant = 0.0;
            if y > 0.0 {
                constant = y * precise_log(y) - y;
            }
            return exp(z) - y * z + constant;
        }
        case LOSS_HINGE: {
            return max(1.0 - s * z, 0.0);
        }
        case LOSS_SQUARED_HINGE: {
            let gap = max(1.0 - s * z, 0.0);
            return gap * gap;
        }
        case LOSS_MODIFIED_HUBER: {
            let margin = s * z;
            if margin >= -1.0 {
                let gap = max(1.0 - margin, 0.0);
                return gap * gap;
            }
            return -4.0 * margin;
        }
        default: {
            return r * r;
        }
    }
}

// d loss / d z of one row (the table of src/loss.rs).
fn loss_derivative(shape: Shape, z: f32, y: f32) -> f32 {
    let r = z - y;
    let s = 2.0 * y - 1.0;
    let e = shape.loss_epsilon;
    switch shape.loss {
        case LOSS_LOG: {
            return sigmoid(z) - y;
        }
        case LOSS_HUBER: {
            return clamp(r, -e, e);
        }
        case LOSS_EPSILON_INSENSITIVE: {
            if abs(r) > e {
                return sign(r);
            }
            return 0.0;
        }
        case LOSS_SQUARED_EPSILON_INSENSITIVE: {
            return 2.0 * sign(r) * max(abs(r) - e, 0.0);
        }
        case LOSS_POISSON: {
            return exp(z) - y;
        }
        case LOSS_HINGE: {
            if s * z < 1.0 {
                return -s;
            }
            return 0.0;
        }
        case LOSS_SQUARED_HINGE: {
            return -2.0 * s * max(1.0 - s * z, 0.0);
        }
        case LOSS_MODIFIED_HUBER: {
            let margin = s * z;
            if margin >= -1.0 {
                return -2.0 * s * max(1.0 - margin, 0.0);
            }
            return -4.0 * s;
        }
        default: {
            return r * 2.0;
        }
    }
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
// weight, the biases unchanged.
fn shrink(shape: Shape, column: u32, theta: f32, unit: f32) -> f32 {
    if column >= weight_count(shape) || shape.l1_strength <= 0.0 {
        return theta;
    }
    let shrunk = abs(theta) - unit * shape.l1_strength;
    if shrunk > 0.0 {
        return sign(theta) * shrunk;
    }
    return 0.0;
}

// Component `column` of the batch gradient (weights, then the biases from
// column = weight_count) from its raw sum over a batch of `total_weight`
// (its rows, unweighted), at parameter `theta`.
fn assemble_gradient(shape: Shape, column: u32, sum: f32, total_weight: f32, theta: f32) -> f32 {
    let mean = weighted_mean(sum, total_weight);
    if column < weight_count(shape) {
        return mean + penalty_derivative(shape, theta);
    }
    return mean;
}

// A raw sum over the batch's total weight (its rows, unweighted); a batch
// whose rows all weigh 0 moves nothing.
fn weighted_mean(sum: f32, total_weight: f32) -> f32 {
    if total_weight > 0.0 {
        return sum / total_weight;
    }
    return 0.0;
}

// The batch loss from Σ loss over a batch of `total_weight`, Σ w² and
// Σ |w|.
fn assemble_loss(shape: Shape, loss_sum: f32, total_weight: f32, squares: f32, magnitudes: f32) -> f32 {
    return weighted_mean(loss_sum, total_weight) + penalty_value(shape, squares, magnitudes);
}
