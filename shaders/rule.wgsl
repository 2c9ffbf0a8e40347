// The one GPU definition of every update rule, shared by update.wgsl and
// steps.wgsl. Mirrors `Optimizer::step` in src/optim.rs (PyTorch's rules).
// `gradient` already holds the derivative of the penalty's squared part (the
// L1 part follows the rule: shrink in objective.wgsl); `step` counts updates from 1.

const RULE_SGD: u32 = 0u;
const RULE_MOMENTUM: u32 = 1u;
const RULE_NESTEROV: u32 = 2u;
const RULE_ADAGRAD: u32 = 3u;
const RULE_RMSPROP: u32 = 4u;

// beta^step, with 0^step = 0 (pow(0, x) is undefined in WGSL).
fn power_of(beta: f32, step: u32) -> f32 {
    if beta == 0.0 {
        return 0.0;
    }
    return pow(beta, f32(step));
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
            let first_correction = 1.0 - power_of(shape.beta1, step);
            let second_correction_sqrt = sqrt(1.0 - power_of(shape.beta2, step));
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
            let second_correction_sqrt = sqrt(1.0 - power_of(shape.beta2, step));
            return learning_rate / (sqrt(second) / second_correction_sqrt + shape.eps);
        }
    }
}
