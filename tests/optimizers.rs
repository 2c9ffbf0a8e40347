//! Every update rule against PyTorch's published `torch.optim` formulas,
//! written out here in float64: once with fixed gradients through
//! `Optimizer::step`, once through full-batch fits whose gradient the test
//! computes itself.

use downhill::{GradientDescent, Optimizer, StopReason};
use ndarray::{array, Array1, Array2};

/// The rules as PyTorch documents them (no dampening, no weight decay inside
/// the rule, no AdaGrad learning-rate decay, RMSProp not centered, Adam
/// without amsgrad).
#[derive(Debug, Clone, Copy)]
enum Rule {
    Sgd,
    Momentum { beta: f64, nesterov: bool },
    AdaGrad { eps: f64 },
    RmsProp { alpha: f64, eps: f64 },
    Adam { beta1: f64, beta2: f64, eps: f64 },
}

/// Float64 state of one rule, updated by the published formulas.
struct Reference {
    rule: Rule,
    lr: f64,
    step: i32,
    first: Vec<f64>,
    second: Vec<f64>,
}

impl Reference {
    fn new(rule: Rule, lr: f64, parameters: usize) -> Self {
        Reference {
            rule,
            lr,
            step: 0,
            first: vec![0.0; parameters],
            second: vec![0.0; parameters],
        }
    }

    fn step(&mut self, theta: &mut [f64], g: &[f64]) {
        self.step += 1;
        let t = self.step;
        for i in 0..theta.len() {
            let gi = g[i];
            match self.rule {
                Rule::Sgd => theta[i] -= self.lr * gi,
                Rule::Momentum { beta, nesterov } => {
                    // PyTorch: buf = g at the first step, then buf = β buf + g.
                    self.first[i] = if t == 1 { gi } else { beta * self.first[i] + gi };
                    let d = if nesterov {
                        gi + beta * self.first[i]
                    } else {
                        self.first[i]
                    };
                    theta[i] -= self.lr * d;
                }
                Rule::AdaGrad { eps } => {
                    self.second[i] += gi * gi;
                    theta[i] -= self.lr * gi / (self.second[i].sqrt() + eps);
                }
                Rule::RmsProp { alpha, eps } => {
                    self.second[i] = alpha * self.second[i] + (1.0 - alpha) * gi * gi;
                    theta[i] -= self.lr * gi / (self.second[i].sqrt() + eps);
                }
                Rule::Adam { beta1, beta2, eps } => {
                    self.first[i] = beta1 * self.first[i] + (1.0 - beta1) * gi;
                    self.second[i] = beta2 * self.second[i] + (1.0 - beta2) * gi * gi;
                    let m_hat = self.first[i] / (1.0 - beta1.powi(t));
                    let v_hat = self.second[i] / (1.0 - beta2.powi(t));
                    theta[i] -= self.lr * m_hat / (v_hat.sqrt() + eps);
                }
            }
        }
    }
}

/// Each optimizer of the crate with PyTorch's defaults, beside the same rule
/// written out.
fn defaults(lr: f32) -> Vec<(Optimizer, Rule)> {
    vec![
        (Optimizer::sgd(lr).into(), Rule::Sgd),
        (
            Optimizer::momentum(lr, 0.9).into(),
            Rule::Momentum {
                beta: f64::from(0.9f32),
                nesterov: false,
            },
        ),
        (
            Optimizer::nesterov(lr, 0.9).into(),
            Rule::Momentum {
                beta: f64::from(0.9f32),
                nesterov: true,
            },
        ),
        (
            Optimizer::adagrad(lr).into(),
            Rule::AdaGrad {
                eps: f64::from(1e-10f32),
            },
        ),
        (
            Optimizer::rmsprop(lr).into(),
            Rule::RmsProp {
                alpha: f64::from(0.99f32),
                eps: f64::from(1e-8f32),
            },
        ),
        (
            Optimizer::adam(lr).into(),
            Rule::Adam {
                beta1: f64::from(0.9f32),
                beta2: f64::from(0.999f32),
                eps: f64::from(1e-8f32),
            },
        ),
    ]
}

fn assert_close(got: &[f32], expected: &[f64], tolerance: f64, what: &str) {
    assert_eq!(got.len(), expected.len());
    for (i, (&g, &e)) in got.iter().zip(expected).enumerate() {
        let g = f64::from(g);
        assert!(
            (g - e).abs() <= tolerance * e.abs().max(1.0),
            "{what}: parameter {i} is {g}, expected {e}\n got {got:?}\n expected {expected:?}"
        );
    }
}

const START: [f32; 3] = [1.0, -2.0, 0.5];
const GRADIENTS: [[f32; 3]; 3] = [[0.5, -1.0, 2.0], [-0.3, 0.8, 1.5], [0.1, 0.4, -2.5]];

/// Three `Optimizer::step`s along fixed gradients, beside the reference.
fn check_three_steps(optimizer: Optimizer, rule: Rule, lr: f32) -> Vec<f32> {
    let mut state = optimizer.initial_state(3);
    let mut parameters = START.to_vec();
    let mut reference = Reference::new(rule, f64::from(lr), 3);
    let mut expected: Vec<f64> = START.iter().map(|&v| f64::from(v)).collect();
    for (k, g) in GRADIENTS.iter().enumerate() {
        optimizer.step(&mut state, &mut parameters, g, lr);
        let g64: Vec<f64> = g.iter().map(|&v| f64::from(v)).collect();
        reference.step(&mut expected, &g64);
        assert_close(
            &parameters,
            &expected,
            1e-6,
            &format!("{} step {}", optimizer.name(), k + 1),
        );
    }
    assert_eq!(state.steps, 3);
    parameters
}

#[test]
fn first_three_steps_of_every_optimizer_match_pytorch_formulas() {
    for (optimizer, rule) in defaults(0.1) {
        check_three_steps(optimizer, rule, 0.1);
    }
}

#[test]
fn first_steps_match_hand_values() {
    // Values worked out on paper for the first gradient (0.5, −1, 2), lr 0.1.
    let step_once = |optimizer: Optimizer| step_once(optimizer, 0.1);
    let lr = 0.1;
    // SGD and heavy ball (velocity = g at the first step): θ − 0.1 g.
    let plain = [0.95, -1.9, 0.3];
    assert_close(&step_once(Optimizer::sgd(lr).into()), &plain, 1e-6, "sgd");
    assert_close(
        &step_once(Optimizer::momentum(lr, 0.9).into()),
        &plain,
        1e-6,
        "momentum",
    );
    // Nesterov: θ − 0.1 (g + 0.9 g) = θ − 0.19 g.
    assert_close(
        &step_once(Optimizer::nesterov(lr, 0.9).into()),
        &[0.905, -1.81, 0.12],
        1e-6,
        "nesterov",
    );
    // AdaGrad: s = g², step g/|g| = ±1 times lr.
    assert_close(
        &step_once(Optimizer::adagrad(lr).into()),
        &[0.9, -1.9, 0.4],
        1e-6,
        "adagrad",
    );
    // RMSProp: s = 0.01 g², step = lr g / (0.1 |g|) = ±1.
    assert_close(
        &step_once(Optimizer::rmsprop(lr).into()),
        &[0.0, -1.0, -0.5],
        1e-5,
        "rmsprop",
    );
    // Adam: m̂ = g, v̂ = g², step = lr·sign(g).
    assert_close(
        &step_once(Optimizer::adam(lr).into()),
        &[0.9, -1.9, 0.4],
        1e-6,
        "adam",
    );
}

#[test]
fn adam_setters_change_the_update_as_the_formula_says() {
    let lr = 0.1;
    let tuned = Optimizer::adam(lr).betas(0.5, 0.75).eps(0.5);
    assert_eq!((tuned.beta1, tuned.beta2, tuned.eps), (0.5, 0.75, 0.5));
    let rule = Rule::Adam {
        beta1: 0.5,
        beta2: 0.75,
        eps: 0.5,
    };
    let got = check_three_steps(tuned.into(), rule, lr);
    let (default_optimizer, default_rule) = defaults(lr).pop().expect("adam is last");
    let default = check_three_steps(default_optimizer, default_rule, lr);
    assert!(
        got.iter().zip(&default).all(|(a, b)| (a - b).abs() > 1e-3),
        "{got:?} {default:?}"
    );
}

#[test]
fn rmsprop_alpha_and_eps_change_the_update_as_the_formula_says() {
    let lr = 0.1;
    let tuned = Optimizer::rmsprop(lr).alpha(0.5).eps(0.25);
    assert_eq!((tuned.alpha, tuned.eps), (0.5, 0.25));
    let got = check_three_steps(
        tuned.into(),
        Rule::RmsProp {
            alpha: 0.5,
            eps: 0.25,
        },
        lr,
    );
    // First step by hand: s = 0.5 g², θ₀ − lr g / (√0.5 |g| + 0.25).
    let one = step_once(tuned.into(), lr);
    let expected: Vec<f64> = START
        .iter()
        .zip(GRADIENTS[0])
        .map(|(&t, g)| {
            let (t, g) = (f64::from(t), f64::from(g));
            t - 0.1 * g / (0.5f64.sqrt() * g.abs() + 0.25)
        })
        .collect();
    assert_close(&one, &expected, 1e-6, "rmsprop first step");
    assert!(got
        .iter()
        .zip(check_default(4, lr))
        .all(|(a, b)| (a - b).abs() > 1e-3));
}

#[test]
fn adagrad_eps_changes_the_update_as_the_formula_says() {
    let lr = 0.1;
    let tuned = Optimizer::adagrad(lr).eps(1.0);
    assert_eq!(tuned.eps, 1.0);
    let got = check_three_steps(tuned.into(), Rule::AdaGrad { eps: 1.0 }, lr);
    // First step by hand: θ₀ − lr g / (|g| + 1).
    assert_close(
        &step_once(tuned.into(), lr),
        &[1.0 - 0.1 * 0.5 / 1.5, -2.0 + 0.1 / 2.0, 0.5 - 0.1 * 2.0 / 3.0],
        1e-6,
        "adagrad first step",
    );
    assert!(got
        .iter()
        .zip(check_default(3, lr))
        .all(|(a, b)| (a - b).abs() > 1e-3));
}

/// The parameters after three steps of the `index`-th default optimizer.
fn check_default(index: usize, lr: f32) -> Vec<f32> {
    let (optimizer, rule) = defaults(lr)[index];
    check_three_steps(optimizer, rule, lr)
}

/// One step from `START` along the first gradient.
fn step_once(optimizer: Optimizer, lr: f32) -> Vec<f32> {
    let mut state = optimizer.initial_state(3);
    let mut parameters = START.to_vec();
    optimizer.step(&mut state, &mut parameters, &GRADIENTS[0], lr);
    parameters
}

#[test]
fn initial_states_hold_the_buffers_each_rule_needs() {
    let sizes = |o: Optimizer| {
        let s = o.initial_state(4);
        (s.steps, s.first_moment.len(), s.second_moment.len())
    };
    assert_eq!(sizes(Optimizer::sgd(0.1).into()), (0, 0, 0));
    assert_eq!(sizes(Optimizer::momentum(0.1, 0.9).into()), (0, 4, 0));
    assert_eq!(sizes(Optimizer::nesterov(0.1, 0.9).into()), (0, 4, 0));
    assert_eq!(sizes(Optimizer::adagrad(0.1).into()), (0, 0, 4));
    assert_eq!(sizes(Optimizer::rmsprop(0.1).into()), (0, 0, 4));
    assert_eq!(sizes(Optimizer::adam(0.1).into()), (0, 4, 4));
    let names: Vec<_> = defaults(0.1).iter().map(|(o, _)| o.name()).collect();
    assert_eq!(
        names,
        ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]
    );
    assert_eq!(Optimizer::from(Optimizer::adam(0.25)).learning_rate(), 0.25);
    assert_eq!(Optimizer::default(), Optimizer::Sgd(Optimizer::sgd(0.01)));
}

/// A tiny linear problem: 3 rows, 2 features.
fn tiny() -> (Array2<f32>, Array1<f32>) {
    (
        array![[1.0f32, 2.0], [2.0, -1.0], [3.0, 0.5]],
        array![1.0f32, 0.0, 2.0],
    )
}

/// The full-batch gradient of (1/n) Σ (x·w + b − y)² + (l2/2)‖w‖², by hand:
/// (2/n) Xᵀr + l2 w and (2/n) Σ r.
fn linear_gradient(x: &Array2<f32>, y: &Array1<f32>, theta: &[f64], l2: f64) -> Vec<f64> {
    let (n, d) = x.dim();
    let mut g = vec![0.0; d + 1];
    for i in 0..n {
        let z: f64 = (0..d).map(|j| f64::from(x[[i, j]]) * theta[j]).sum::<f64>() + theta[d];
        let r = z - f64::from(y[i]);
        for j in 0..d {
            g[j] += 2.0 / n as f64 * r * f64::from(x[[i, j]]);
        }
        g[d] += 2.0 / n as f64 * r;
    }
    for j in 0..d {
        g[j] += l2 * theta[j];
    }
    g
}

/// The logistic gradient by hand: (1/n) Xᵀ(σ(z) − y) + l2 w and (1/n) Σ (σ(z) − y).
fn logistic_gradient(x: &Array2<f32>, y: &Array1<f32>, theta: &[f64], l2: f64) -> Vec<f64> {
    let (n, d) = x.dim();
    let mut g = vec![0.0; d + 1];
    for i in 0..n {
        let z: f64 = (0..d).map(|j| f64::from(x[[i, j]]) * theta[j]).sum::<f64>() + theta[d];
        let r = 1.0 / (1.0 + (-z).exp()) - f64::from(y[i]);
        for j in 0..d {
            g[j] += r * f64::from(x[[i, j]]) / n as f64;
        }
        g[d] += r / n as f64;
    }
    for j in 0..d {
        g[j] += l2 * theta[j];
    }
    g
}

type GradientFn = fn(&Array2<f32>, &Array1<f32>, &[f64], f64) -> Vec<f64>;

/// Fits of 1, 2 and 3 full-batch epochs beside the reference rule driven by
/// the hand-computed gradient.
fn check_fits(
    descent: GradientDescent,
    optimizer: Optimizer,
    rule: Rule,
    x: &Array2<f32>,
    y: &Array1<f32>,
    l2: f32,
    gradient: GradientFn,
) {
    let lr = optimizer.learning_rate();
    let mut reference = Reference::new(rule, f64::from(lr), 3);
    let mut theta = vec![0.0f64; 3];
    for epochs in 1..=3 {
        let g = gradient(x, y, &theta, f64::from(l2));
        reference.step(&mut theta, &g);
        let fitted = descent
            .clone()
            .optimizer(optimizer)
            .l2(l2)
            .max_epochs(epochs)
            .fit(x.view(), y.view())
            .expect("valid data and settings");
        assert_eq!(fitted.stop_reason(), StopReason::MaxEpochs);
        let mut got = fitted.weights().to_vec();
        got.push(fitted.bias());
        assert_close(
            &got,
            &theta,
            1e-5,
            &format!("{} after {epochs} epochs", optimizer.name()),
        );
    }
}

#[test]
fn every_optimizer_fit_follows_its_rule_with_the_linear_gradient() {
    let (x, y) = tiny();
    for (optimizer, rule) in defaults(0.05) {
        check_fits(
            GradientDescent::linear(),
            optimizer,
            rule,
            &x,
            &y,
            0.0,
            linear_gradient,
        );
    }
}

#[test]
fn every_optimizer_fit_follows_its_rule_with_an_l2_penalty() {
    let (x, y) = tiny();
    for (optimizer, rule) in defaults(0.05) {
        check_fits(
            GradientDescent::linear(),
            optimizer,
            rule,
            &x,
            &y,
            0.3,
            linear_gradient,
        );
    }
}

#[test]
fn logistic_fits_follow_the_rules_with_the_logistic_gradient() {
    let (x, _) = tiny();
    let y = array![1.0f32, 0.0, 1.0];
    for (optimizer, rule) in defaults(0.5) {
        check_fits(
            GradientDescent::logistic(),
            optimizer,
            rule,
            &x,
            &y,
            0.1,
            logistic_gradient,
        );
    }
}

#[test]
fn l2_is_added_to_the_weight_gradient_but_not_the_bias() {
    // y = x + 1 exactly: at w = 1, b = 1 the data gradient is zero, so one
    // SGD step moves only by the penalty: w ← 1 − lr·l2·1, b stays.
    let x = array![[1.0f32], [2.0], [3.0]];
    let y = array![2.0f32, 3.0, 4.0];
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::sgd(0.1))
        .l2(0.5)
        .warm_start(array![1.0f32], 1.0)
        .max_epochs(1)
        .fit(x.view(), y.view())
        .expect("valid data and settings");
    assert!(
        (fitted.weights()[0] - 0.95).abs() < 1e-7,
        "{}",
        fitted.weights()[0]
    );
    assert_eq!(fitted.bias(), 1.0);
    // The recorded loss includes the penalty (l2/2)‖w‖² = 0.25 and no bias term.
    assert!((fitted.history().records()[0].loss - 0.25).abs() < 1e-12);
}
