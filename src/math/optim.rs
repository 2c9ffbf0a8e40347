//! Optimizer settings and their explicit state.
//!
//! The update rules follow PyTorch's `torch.optim` with its defaults
//! (momentum without dampening, AdaGrad with `eps = 1e-10` and no learning
//! rate decay, RMSProp with `alpha = 0.99` and `eps = 1e-8`, Adam with
//! `betas = (0.9, 0.999)`, `eps = 1e-8` and bias correction). The L2 penalty
//! is folded into the gradient before the update, as PyTorch's
//! `weight_decay` does, and never touches the bias.
//!
//! The state is a plain value ([`OptimizerState`]) so that the same rule can
//! be mirrored on another engine and compared element by element.

use crate::error::{Error, Result};
use crate::math::error::MathError;

/// Plain stochastic gradient descent: θ ← θ − η g.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Sgd {
    /// Learning rate η.
    pub learning_rate: f32,
}

/// Heavy-ball or Nesterov momentum: v ← β v + g, then θ ← θ − η v
/// (heavy ball) or θ ← θ − η (g + β v) (Nesterov).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Momentum {
    /// Learning rate η.
    pub learning_rate: f32,
    /// Momentum factor β, in [0, 1).
    pub beta: f32,
    /// Whether the look-ahead (Nesterov) form is used.
    pub nesterov: bool,
}

/// AdaGrad: s ← s + g², θ ← θ − η g / (√s + ε).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AdaGrad {
    /// Learning rate η.
    pub learning_rate: f32,
    /// ε added to the denominator (PyTorch's default 1e-10).
    pub eps: f32,
}

/// RMSProp: s ← α s + (1 − α) g², θ ← θ − η g / (√s + ε).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RmsProp {
    /// Learning rate η.
    pub learning_rate: f32,
    /// Smoothing constant α (PyTorch's default 0.99).
    pub alpha: f32,
    /// ε added to the denominator (PyTorch's default 1e-8).
    pub eps: f32,
}

/// Adam with bias correction: m ← β₁ m + (1 − β₁) g, v ← β₂ v + (1 − β₂) g²,
/// θ ← θ − η m̂ / (√v̂ + ε) with m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Adam {
    /// Learning rate η.
    pub learning_rate: f32,
    /// Decay of the first moment (default 0.9).
    pub beta1: f32,
    /// Decay of the second moment (default 0.999).
    pub beta2: f32,
    /// ε added to the denominator (default 1e-8).
    pub eps: f32,
}

impl AdaGrad {
    /// Sets ε.
    pub fn eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }
}

impl RmsProp {
    /// Sets the smoothing constant α.
    pub fn alpha(mut self, alpha: f32) -> Self {
        self.alpha = alpha;
        self
    }
    /// Sets ε.
    pub fn eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }
}

impl Adam {
    /// Sets β₁ and β₂.
    pub fn betas(mut self, beta1: f32, beta2: f32) -> Self {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }
    /// Sets ε.
    pub fn eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }
}

/// The update rule and its constants.
///
/// Build one with [`Optimizer::sgd`], [`Optimizer::momentum`],
/// [`Optimizer::nesterov`], [`Optimizer::adagrad`], [`Optimizer::rmsprop`] or
/// [`Optimizer::adam`]; each returns the rule's own settings type, whose
/// setters change its constants, and converts into `Optimizer`.
///
/// ```
/// use downhill::{GradientDescent, Optimizer};
/// let descent = GradientDescent::linear().optimizer(Optimizer::adam(0.01).betas(0.8, 0.99));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "kind", rename_all = "snake_case"))]
pub enum Optimizer {
    /// See [`Sgd`].
    Sgd(Sgd),
    /// See [`Momentum`].
    Momentum(Momentum),
    /// See [`AdaGrad`].
    AdaGrad(AdaGrad),
    /// See [`RmsProp`].
    RmsProp(RmsProp),
    /// See [`Adam`].
    Adam(Adam),
}

impl Default for Optimizer {
    /// Plain SGD with learning rate 0.01.
    fn default() -> Self {
        Optimizer::sgd(0.01).into()
    }
}

impl Optimizer {
    /// Plain gradient descent.
    pub fn sgd(learning_rate: f32) -> Sgd {
        Sgd { learning_rate }
    }
    /// Heavy-ball momentum with factor `beta`.
    pub fn momentum(learning_rate: f32, beta: f32) -> Momentum {
        Momentum {
            learning_rate,
            beta,
            nesterov: false,
        }
    }
    /// Nesterov momentum with factor `beta`.
    pub fn nesterov(learning_rate: f32, beta: f32) -> Momentum {
        Momentum {
            learning_rate,
            beta,
            nesterov: true,
        }
    }
    /// AdaGrad with PyTorch's ε = 1e-10.
    pub fn adagrad(learning_rate: f32) -> AdaGrad {
        AdaGrad {
            learning_rate,
            eps: 1e-10,
        }
    }
    /// RMSProp with PyTorch's α = 0.99 and ε = 1e-8.
    pub fn rmsprop(learning_rate: f32) -> RmsProp {
        RmsProp {
            learning_rate,
            alpha: 0.99,
            eps: 1e-8,
        }
    }
    /// Adam with β = (0.9, 0.999) and ε = 1e-8.
    pub fn adam(learning_rate: f32) -> Adam {
        Adam {
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }

    /// The base learning rate, before any schedule.
    pub fn learning_rate(&self) -> f32 {
        match self {
            Optimizer::Sgd(o) => o.learning_rate,
            Optimizer::Momentum(o) => o.learning_rate,
            Optimizer::AdaGrad(o) => o.learning_rate,
            Optimizer::RmsProp(o) => o.learning_rate,
            Optimizer::Adam(o) => o.learning_rate,
        }
    }

    /// The same rule and constants with base learning rate `learning_rate`.
    pub fn with_learning_rate(self, learning_rate: f32) -> Optimizer {
        match self {
            Optimizer::Sgd(_) => Optimizer::Sgd(Sgd { learning_rate }),
            Optimizer::Momentum(o) => Optimizer::Momentum(Momentum { learning_rate, ..o }),
            Optimizer::AdaGrad(o) => Optimizer::AdaGrad(AdaGrad { learning_rate, ..o }),
            Optimizer::RmsProp(o) => Optimizer::RmsProp(RmsProp { learning_rate, ..o }),
            Optimizer::Adam(o) => Optimizer::Adam(Adam { learning_rate, ..o }),
        }
    }

    /// The same rule with momentum factor `beta`, where it has one.
    pub(crate) fn with_momentum(self, beta: f32) -> Optimizer {
        match self {
            Optimizer::Momentum(o) => Optimizer::Momentum(Momentum { beta, ..o }),
            other => other,
        }
    }

    /// The rule's name as the command line spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Optimizer::Sgd(_) => "sgd",
            Optimizer::Momentum(o) if o.nesterov => "nesterov",
            Optimizer::Momentum(_) => "momentum",
            Optimizer::AdaGrad(_) => "adagrad",
            Optimizer::RmsProp(_) => "rmsprop",
            Optimizer::Adam(_) => "adam",
        }
    }

    /// Checks the learning rate and every constant.
    pub fn validate(&self) -> Result<()> {
        let learning_rate = self.learning_rate();
        if !(learning_rate.is_finite() && learning_rate > 0.0) {
            return Err(Error::Math(MathError::InvalidLearningRate {
                value: learning_rate,
            }));
        }
        match *self {
            Optimizer::Sgd(_) => Ok(()),
            Optimizer::Momentum(o) => unit_interval("beta", o.beta),
            Optimizer::AdaGrad(o) => positive("eps", o.eps),
            Optimizer::RmsProp(o) => {
                unit_interval("alpha", o.alpha)?;
                positive("eps", o.eps)
            }
            Optimizer::Adam(o) => {
                unit_interval("beta1", o.beta1)?;
                unit_interval("beta2", o.beta2)?;
                positive("eps", o.eps)
            }
        }
    }

    /// A fresh state for `parameters` values (the weights and the bias).
    pub fn initial_state(&self, parameters: usize) -> OptimizerState {
        let (first, second) = match self {
            Optimizer::Sgd(_) => (0, 0),
            Optimizer::Momentum(_) => (parameters, 0),
            Optimizer::AdaGrad(_) | Optimizer::RmsProp(_) => (0, parameters),
            Optimizer::Adam(_) => (parameters, parameters),
        };
        OptimizerState {
            steps: 0,
            first_moment: vec![0.0; first],
            second_moment: vec![0.0; second],
            average: Vec::new(),
        }
    }

    /// One update of `parameters` along `gradient` with learning rate
    /// `learning_rate` (the schedule's, which replaces the base rate).
    ///
    /// `parameters` and `gradient` hold the weights followed by the bias;
    /// the gradient already includes the L2 term.
    pub fn step(
        &self,
        state: &mut OptimizerState,
        parameters: &mut [f32],
        gradient: &[f32],
        learning_rate: f32,
    ) {
        debug_assert_eq!(parameters.len(), gradient.len());
        state.steps += 1;
        let lr = learning_rate;
        match *self {
            Optimizer::Sgd(o) => {
                for (theta, &g) in parameters.iter_mut().zip(gradient) {
                    o.update(lr, theta, g);
                }
            }
            Optimizer::Momentum(o) => {
                let velocity = &mut state.first_moment;
                for ((theta, &g), v) in parameters.iter_mut().zip(gradient).zip(velocity) {
                    o.update(lr, theta, g, v);
                }
            }
            Optimizer::AdaGrad(o) => {
                let sum = &mut state.second_moment;
                for ((theta, &g), s) in parameters.iter_mut().zip(gradient).zip(sum) {
                    o.update(lr, theta, g, s);
                }
            }
            Optimizer::RmsProp(o) => {
                let mean_square = &mut state.second_moment;
                for ((theta, &g), s) in parameters.iter_mut().zip(gradient).zip(mean_square) {
                    o.update(lr, theta, g, s);
                }
            }
            Optimizer::Adam(o) => {
                let corrections = AdamCorrections::at_step(&o, state.steps);
                let moments = state.first_moment.iter_mut().zip(&mut state.second_moment);
                for ((theta, &g), (m, v)) in parameters.iter_mut().zip(gradient).zip(moments) {
                    o.update(lr, &corrections, theta, g, m, v);
                }
            }
        }
    }
}

// Each rule's update of one parameter, defined once: the dense step above
// applies it to every parameter, the sparse rows' steps
// (engine/cpu/sparse_steps.rs) to those a batch touches.

impl Sgd {
    /// θ ← θ − η g.
    #[inline(always)]
    pub(crate) fn update(self, lr: f32, theta: &mut f32, g: f32) {
        *theta -= lr * g;
    }
}

impl Momentum {
    /// v ← β v + g; θ ← θ − η v, or θ − η (g + β v) for Nesterov.
    #[inline(always)]
    pub(crate) fn update(self, lr: f32, theta: &mut f32, g: f32, v: &mut f32) {
        *v = self.beta * *v + g;
        let direction = if self.nesterov { g + self.beta * *v } else { *v };
        *theta -= lr * direction;
    }
}

impl AdaGrad {
    /// s ← s + g²; θ ← θ − η g / (√s + ε).
    #[inline(always)]
    pub(crate) fn update(self, lr: f32, theta: &mut f32, g: f32, s: &mut f32) {
        *s += g * g;
        *theta -= lr * g / (s.sqrt() + self.eps);
    }
}

impl RmsProp {
    /// s ← α s + (1 − α) g²; θ ← θ − η g / (√s + ε).
    #[inline(always)]
    pub(crate) fn update(self, lr: f32, theta: &mut f32, g: f32, s: &mut f32) {
        *s = self.alpha * *s + (1.0 - self.alpha) * g * g;
        *theta -= lr * g / (s.sqrt() + self.eps);
    }
}

impl Adam {
    /// m ← β₁ m + (1 − β₁) g; v ← β₂ v + (1 − β₂) g²;
    /// θ ← θ − η m̂ / (√v̂ + ε), with the step's bias corrections.
    #[inline(always)]
    pub(crate) fn update(
        self,
        lr: f32,
        corrections: &AdamCorrections,
        theta: &mut f32,
        g: f32,
        m: &mut f32,
        v: &mut f32,
    ) {
        *m = self.beta1 * *m + (1.0 - self.beta1) * g;
        *v = self.beta2 * *v + (1.0 - self.beta2) * g * g;
        let denominator = v.sqrt() / corrections.second_sqrt + self.eps;
        *theta -= lr / corrections.first * *m / denominator;
    }
}

impl Optimizer {
    /// The step the rule gives parameter `j` per unit of gradient once its
    /// state has settled (after [`Optimizer::step`] has updated `state`): η
    /// for plain descent, η/(1−β) with momentum (the velocity sums the
    /// gradients), η/(√v̂ⱼ+ε) for the adaptive rules. The L1 penalty's
    /// proximal step thresholds by λ₁ times this, so that the rule's fixed
    /// points are the penalized objective's optimum.
    pub(crate) fn unit_step(&self, state: &OptimizerState, j: usize, learning_rate: f32) -> f32 {
        match *self {
            Optimizer::Sgd(_) => learning_rate,
            Optimizer::Momentum(o) => learning_rate / (1.0 - o.beta),
            Optimizer::AdaGrad(o) => learning_rate / (state.second_moment[j].sqrt() + o.eps),
            Optimizer::RmsProp(o) => learning_rate / (state.second_moment[j].sqrt() + o.eps),
            Optimizer::Adam(o) => {
                let corrections = AdamCorrections::at_step(&o, state.steps);
                learning_rate / (state.second_moment[j].sqrt() / corrections.second_sqrt + o.eps)
            }
        }
    }
}

impl std::fmt::Display for Optimizer {
    /// The rule's name and its settings, e.g. `adam(lr=0.01, beta1=0.9,
    /// beta2=0.999, eps=1e-8)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.name();
        match *self {
            Optimizer::Sgd(o) => write!(f, "{name}(lr={})", o.learning_rate),
            Optimizer::Momentum(o) => write!(f, "{name}(lr={}, beta={})", o.learning_rate, o.beta),
            Optimizer::AdaGrad(o) => write!(f, "{name}(lr={}, eps={:e})", o.learning_rate, o.eps),
            Optimizer::RmsProp(o) => write!(
                f,
                "{name}(lr={}, alpha={}, eps={:e})",
                o.learning_rate, o.alpha, o.eps
            ),
            Optimizer::Adam(o) => write!(
                f,
                "{name}(lr={}, beta1={}, beta2={}, eps={:e})",
                o.learning_rate, o.beta1, o.beta2, o.eps
            ),
        }
    }
}

/// The update rules by the names the command line uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// [`Sgd`].
    Sgd,
    /// [`Momentum`], heavy ball.
    Momentum,
    /// [`Momentum`], Nesterov's form.
    Nesterov,
    /// [`AdaGrad`].
    AdaGrad,
    /// [`RmsProp`].
    RmsProp,
    /// [`Adam`].
    Adam,
}

impl Rule {
    /// Every rule, in the order of the table above.
    pub const ALL: [Rule; 6] = [
        Rule::Sgd,
        Rule::Momentum,
        Rule::Nesterov,
        Rule::AdaGrad,
        Rule::RmsProp,
        Rule::Adam,
    ];

    /// The rule with learning rate `learning_rate`, PyTorch's defaults for
    /// its other constants, and `beta` as the momentum factor of
    /// `Momentum` and `Nesterov`.
    pub fn with(self, learning_rate: f32, beta: f32) -> Optimizer {
        match self {
            Rule::Sgd => Optimizer::sgd(learning_rate).into(),
            Rule::Momentum => Optimizer::momentum(learning_rate, beta).into(),
            Rule::Nesterov => Optimizer::nesterov(learning_rate, beta).into(),
            Rule::AdaGrad => Optimizer::adagrad(learning_rate).into(),
            Rule::RmsProp => Optimizer::rmsprop(learning_rate).into(),
            Rule::Adam => Optimizer::adam(learning_rate).into(),
        }
    }

    /// `sgd`, `momentum`, `nesterov`, `adagrad`, `rmsprop` or `adam`.
    pub fn name(self) -> &'static str {
        self.with(1.0, 0.0).name()
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Rule {
    type Err = Error;

    /// `sgd`, `momentum`, `nesterov`, `adagrad`, `rmsprop` or `adam`.
    fn from_str(text: &str) -> Result<Self> {
        Rule::ALL
            .into_iter()
            .find(|rule| rule.name() == text.trim())
            .ok_or_else(|| Error::UnknownName {
                what: "optimizer",
                name: text.to_string(),
                expected: "sgd, momentum, nesterov, adagrad, rmsprop or adam",
            })
    }
}

/// Adam's bias corrections 1 − β₁ᵗ and √(1 − β₂ᵗ), computed in f64 once a
/// step and shared by every element, as PyTorch does.
pub(crate) struct AdamCorrections {
    pub(crate) first: f32,
    pub(crate) second_sqrt: f32,
}

impl AdamCorrections {
    pub(crate) fn at_step(adam: &Adam, step: u64) -> Self {
        let t = step.min(i32::MAX as u64) as i32;
        AdamCorrections {
            first: (1.0 - f64::from(adam.beta1).powi(t)) as f32,
            second_sqrt: (1.0 - f64::from(adam.beta2).powi(t)).sqrt() as f32,
        }
    }
}

macro_rules! into_optimizer {
    ($($rule:ident),*) => {$(
        impl From<$rule> for Optimizer {
            fn from(rule: $rule) -> Self {
                Optimizer::$rule(rule)
            }
        }
    )*};
}
into_optimizer!(Sgd, Momentum, AdaGrad, RmsProp, Adam);

/// The optimizer's memory between steps: a step counter and up to two
/// per-parameter buffers (velocity or first moment; sum or mean of squares).
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct OptimizerState {
    /// Updates taken so far.
    pub steps: u64,
    /// Momentum's velocity or Adam's first moment; empty for the others.
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::float32s"))]
    pub first_moment: Vec<f32>,
    /// AdaGrad's sum of squares, RMSProp's or Adam's second moment; empty
    /// for the others.
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::float32s"))]
    pub second_moment: Vec<f32>,
    /// The running average of the parameters (the weights, then the biases: one, or one per class)
    /// where the fit averages them ([`crate::GradientDescent::average`]);
    /// empty otherwise, and until the first step averaged.
    #[cfg_attr(feature = "serde", serde(default, with = "crate::json_numbers::float32s"))]
    pub average: Vec<f32>,
}

/// Polyak–Ruppert averaging, after the update that brought `state` to
/// `state.steps` steps: from step `from` (1-based) on, the average takes
/// in `parameters`, ā ← ā + (θ − ā)/k with k = steps − from + 1, so that it
/// is the mean of the parameters after steps `from`, …, `steps`
/// (update.wgsl and steps.wgsl mirror it).
pub(crate) fn average(state: &mut OptimizerState, parameters: &[f32], from: u64) {
    if state.steps < from {
        return;
    }
    if state.average.len() != parameters.len() {
        state.average = vec![0.0; parameters.len()];
    }
    let k = (state.steps - from + 1) as f32;
    for (mean, &theta) in state.average.iter_mut().zip(parameters) {
        *mean += (theta - *mean) / k;
    }
}

fn unit_interval(name: &'static str, value: f32) -> Result<()> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(Error::Math(MathError::InvalidOptimizerConstant {
            name,
            value,
            expected: "[0, 1)",
        }))
    }
}

fn positive(name: &'static str, value: f32) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(Error::Math(MathError::InvalidOptimizerConstant {
            name,
            value,
            expected: "(0, ∞)",
        }))
    }
}
