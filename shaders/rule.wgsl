// The one GPU definition of every update rule, shared by update.wgsl and
// steps.wgsl. Mirrors `Optimizer::step` in src/optim.rs (PyTorch's rules).
// `gradient` already holds the derivative of the penalty's squared part (the
// L1 part follows the rule: shrink in objective.wgsl); `step` counts updates from 1.

// The rules' codes (RULE_SGD, …, RULE_ADAM) come from the engine
// (src/engine/gpu/shared.rs).

// eˣ − 1 to within a few ulp relative (WGSL has no expm1, and exp(x) − 1
// cancels near 0): Taylor's series to x¹² where |x| < 1/2 (what it leaves
// is under 2⁻⁴⁴ relative), else exp(x) − 1, whose cancellation is at most
// a factor e^½/(e^½ − 1) ≈ 2.5 on exp's 3 + 2|x| ulp there.
fn expm1(x: f32) -> f32 {
    if abs(x) >= 0.5 {
        return exp(x) - 1.0;
    }
    // Horner's form, written out: a loop here would count against
    // lavapipe's limit of loop iterations per invocation (LOOP_BUDGET in
    // src/engine/gpu/mod.rs) in every step of steps.wgsl.
    var series = 1.0 + x / 12.0;
    series = 1.0 + x / 11.0 * series;
    series = 1.0 + x / 10.0 * series;
    series = 1.0 + x / 9.0 * series;
    series = 1.0 + x / 8.0 * series;
    series = 1.0 + x / 7.0 * series;
    series = 1.0 + x / 6.0 * series;
    series = 1.0 + x / 5.0 * series;
    series = 1.0 + x / 4.0 * series;
    series = 1.0 + x / 3.0 * series;
    series = 1.0 + x / 2.0 * series;
    return x * series;
}

// Adam's bias correction 1 − βˢᵗᵉᵖ, as −expm1(step · ln β) with ln β from
// the host in float64 (Shape.log_beta1, log_beta2): pow(β, step) goes
// through log2(β), which WGSL bounds only in absolute terms (2⁻²¹) near 1,
// a 3·10⁻⁴ relative error at β = 0.999; and 1 − βˢᵗᵉᵖ cancels. β = 0
// corrects nothing.
fn bias_correction(beta: f32, log_beta: f32, step: u32) -> f32 {
    if beta == 0.0 {
        return 1.0;
    }
    return -expm1(f32(step) * log_beta);
}

fn apply_rule(
    shape: Shape,
    theta: f32,
    gradient: f32,
    first: ptr<function, f32>,
    second: ptr<function, f32>,
    learning_rate: f32,
    step: u32,
) -> f32 {
    switch shape.optimizer {
        case RULE_SGD: {
            return theta - learning_rate * gradient;
        }
        case RULE_MOMENTUM, RULE_NESTEROV: {
            *first = shape.beta1 * *first + gradient;
            var direction = *first;
            if shape.optimizer == RULE_NESTEROV {
                direction = gradient + shape.beta1 * *first;
            }
            return theta - learning_rate * direction;
        }
        case RULE_ADAGRAD: {
            *second = *second + gradient * gradient;
            return theta - learning_rate * gradient / (sqrt(*second) + shape.eps);
        }
        case RULE_RMSPROP: {
            *second = shape.beta2 * *second + (1.0 - shape.beta2) * gradient * gradient;
            return theta - learning_rate * gradient / (sqrt(*second) + shape.eps);
        }
        default: {
            // Adam with bias correction.
            *first = shape.beta1 * *first + (1.0 - shape.beta1) * gradient;
            *second = shape.beta2 * *second + (1.0 - shape.beta2) * gradient * gradient;
            let first_correction = bias_correction(shape.beta1, shape.log_beta1, step);
            let second_correction_sqrt = sqrt(bias_correction(shape.beta2, shape.log_beta2, step));
            let denominator = sqrt(*second) / second_correction_sqrt + shape.eps;
            return theta - learning_rate / first_correction * *first / denominator;
        }
    }
}

// The step the rule gives a parameter per unit of gradient once its state
// has settled, after apply_rule updated `second`: the learning rate for
// plain descent, learning_rate/(1 − β) with momentum, learning_rate/(√v̂ + ε)
// for the adaptive rules. Mirrors `Optimizer::unit_step` in src/optim.rs;
// the L1 proximal step (shrink) thresholds by λ₁ times it.
fn unit_step(shape: Shape, second: f32, learning_rate: f32, step: u32) -> f32 {
    switch shape.optimizer {
        case RULE_SGD: {
            return learning_rate;
        }
        case RULE_MOMENTUM, RULE_NESTEROV: {
            return learning_rate / (1.0 - shape.beta1);
        }
        case RULE_ADAGRAD, RULE_RMSPROP: {
            return learning_rate / (sqrt(second) + shape.eps);
        }
        default: {
            let second_correction_sqrt = sqrt(bias_correction(shape.beta2, shape.log_beta2, step));
            return learning_rate / (sqrt(second) / second_correction_sqrt + shape.eps);
        }
    }
}
