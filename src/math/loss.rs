//! The losses a fit minimizes, each written once for `f32` and `f64`: its
//! value for one row with margin z = x·w + b and target y, and its
//! derivative with respect to z (shaders/objective.wgsl mirrors them).
//! They are scikit-learn's `SGDRegressor` and `SGDClassifier` losses and
//! `PoissonRegressor`'s, in this crate's scale (the squared error is not
//! halved).
//!
//! Regression (r = z − y):
//!
//! | loss | ℓ(z, y) | ℓ′(z, y) |
//! |---|---|---|
//! | `Squared` | r² | 2r |
//! | `Huber { epsilon: ε }` | r²/2 if \|r\| ≤ ε, else ε\|r\| − ε²/2 | clamp(r, −ε, ε) |
//! | `EpsilonInsensitive { epsilon: ε }` | max(0, \|r\| − ε) | sign(r) if \|r\| > ε, else 0 |
//! | `SquaredEpsilonInsensitive { epsilon: ε }` | max(0, \|r\| − ε)² | 2 sign(r) max(0, \|r\| − ε) |
//! | `Poisson` (log link; y ≥ 0) | eᶻ − y z + y ln y − y (half the deviance; 0 ≤ it) | eᶻ − y |
//!
//! Classification (labels y ∈ {0, 1}, s = 2y − 1 ∈ {−1, 1}):
//!
//! | loss | ℓ(z, y) | ℓ′(z, y) |
//! |---|---|---|
//! | `Log` | log(1 + e^(−s z)) | σ(z) − y |
//! | `Hinge` | max(0, 1 − s z) | −s if s z < 1, else 0 |
//! | `SquaredHinge` | max(0, 1 − s z)² | −2 s max(0, 1 − s z) |
//! | `ModifiedHuber` | max(0, 1 − s z)² if s z ≥ −1, else −4 s z | −2 s max(0, 1 − s z), or −4 s |
//!
//! Many classes (labels y ∈ {0, …, K − 1}; a row has K margins
//! z₀ … z_{K−1}, one per class, and pₖ = softmax(z)ₖ):
//!
//! | loss | ℓ(z, y) | ∂ℓ/∂zₖ |
//! |---|---|---|
//! | `Multinomial { classes: K }` | log Σₖ e^(zₖ) − z_y | pₖ − [k = y] |
//!
//! Every loss but `Multinomial` reads one margin per row; the row forms
//! [`Loss::row_value`] and [`Loss::row_derivatives`] take a row's margins
//! whatever their number, and are what the engines call where a loss may
//! have many.

use crate::math::error::MathError;
use num_traits::Float;

use crate::math::model::{sigmoid, Model};

/// The loss of one row, by the margin z and the target y.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "name", rename_all = "snake_case"))]
pub enum Loss {
    /// (z − y)²: least squares (the linear model's default).
    Squared,
    /// Quadratic within `epsilon` of the target, linear beyond.
    Huber {
        /// Where the loss turns linear.
        epsilon: f32,
    },
    /// Zero within `epsilon` of the target, linear beyond (support vector
    /// regression).
    EpsilonInsensitive {
        /// The width of the zero band.
        epsilon: f32,
    },
    /// Zero within `epsilon` of the target, quadratic beyond.
    SquaredEpsilonInsensitive {
        /// The width of the zero band.
        epsilon: f32,
    },
    /// Half the Poisson deviance, with the log link: predictions e^z,
    /// targets ≥ 0.
    Poisson,
    /// The cross-entropy of σ(z) (the logistic model's default).
    Log,
    /// The linear SVM's hinge.
    Hinge,
    /// The hinge squared.
    SquaredHinge,
    /// A smoothed hinge, quadratic near the margin and linear far on the
    /// wrong side, with probabilities (z clipped to [−1, 1], + 1, halved).
    ModifiedHuber,
    /// The cross-entropy of the softmax of K margins: multinomial logistic
    /// regression over K ≥ 2 classes (labels 0 … K − 1), with K weights per
    /// feature and K biases.
    Multinomial {
        /// K, the number of classes.
        classes: u32,
    },
}

impl Loss {
    /// The default of each model: `Squared` for linear, `Log` for logistic.
    pub fn default_for(model: Model) -> Loss {
        match model {
            Model::Linear => Loss::Squared,
            Model::Logistic => Loss::Log,
        }
    }

    /// The model whose targets this loss reads: linear (numbers) for the
    /// regression losses, logistic (labels 0/1) for the classification ones.
    pub fn model(self) -> Model {
        match self {
            Loss::Squared
            | Loss::Huber { .. }
            | Loss::EpsilonInsensitive { .. }
            | Loss::SquaredEpsilonInsensitive { .. }
            | Loss::Poisson => Model::Linear,
            Loss::Log | Loss::Hinge | Loss::SquaredHinge | Loss::ModifiedHuber | Loss::Multinomial { .. } => {
                Model::Logistic
            }
        }
    }

    /// The margins of a row: K for `Multinomial` over K classes, 1 for
    /// every other loss. A fit has (features + 1) × margins parameters:
    /// the weights feature by feature (wⱼₖ at j·K + k), then the K biases.
    pub fn margins(self) -> usize {
        match self {
            Loss::Multinomial { classes } => classes as usize,
            _ => 1,
        }
    }

    /// The classes a classification loss tells apart (2 for the binary
    /// ones), `None` for the regression losses.
    pub fn classes(self) -> Option<usize> {
        match (self, self.model()) {
            (Loss::Multinomial { classes }, _) => Some(classes as usize),
            (_, Model::Logistic) => Some(2),
            (_, Model::Linear) => None,
        }
    }

    /// The loss of one row with margins `margins` (as many as
    /// [`Loss::margins`]) and target `y`.
    #[inline(always)]
    pub fn row_value<T: Float>(self, margins: &[T], y: T) -> T {
        match self {
            Loss::Multinomial { .. } => {
                let largest = margins.iter().fold(T::neg_infinity(), |m, &z| m.max(z));
                let spread: T = margins.iter().fold(T::zero(), |s, &z| s + (z - largest).exp());
                let label = y.to_usize().unwrap_or(0).min(margins.len() - 1);
                largest + spread.ln() - margins[label]
            }
            _ => self.value(margins[0], y),
        }
    }

    /// ∂ℓ/∂zₖ of one row with margins `margins` and target `y`, into
    /// `derivatives` (one per margin): the softmax less the one-hot label
    /// for `Multinomial`, [`Loss::derivative`] otherwise.
    #[inline(always)]
    pub fn row_derivatives<T: Float>(self, margins: &[T], y: T, derivatives: &mut [T]) {
        match self {
            Loss::Multinomial { .. } => {
                softmax(margins, derivatives);
                if let Some(p) = y.to_usize().and_then(|label| derivatives.get_mut(label)) {
                    *p = *p - T::one();
                }
            }
            _ => derivatives[0] = self.derivative(margins[0], y),
        }
    }

    /// [`Loss::row_value`] and [`Loss::row_derivatives`] together: the
    /// multinomial's softmax is taken once for both (its loss is then
    /// m + ln Σₖ e^(zₖ − m) − z_y, from the same exponentials).
    #[inline(always)]
    pub fn row_value_and_derivatives<T: Float>(self, margins: &[T], y: T, derivatives: &mut [T]) -> T {
        match self {
            Loss::Multinomial { .. } => {
                let (largest, spread) = softmax(margins, derivatives);
                let label = y.to_usize().unwrap_or(0).min(margins.len() - 1);
                derivatives[label] = derivatives[label] - T::one();
                largest + spread.ln() - margins[label]
            }
            // [`Loss::derivative`]'s σ(z) − y and [`Loss::value`] from one
            // e^(−|z|): `sigmoid` takes 1 / (1 + e^(−z)) for z ≥ 0 and
            // e^z / (1 + e^z) below, the same e, so these are their bits.
            Loss::Log => {
                let z = margins[0];
                let e = (-z.abs()).exp();
                let sigma = if z >= T::zero() {
                    T::one() / (T::one() + e)
                } else {
                    e / (T::one() + e)
                };
                derivatives[0] = sigma - y;
                z.max(T::zero()) - y * z + e.ln_1p()
            }
            _ => {
                derivatives[0] = self.derivative(margins[0], y);
                self.value(margins[0], y)
            }
        }
    }

    /// The probabilities of the classes given a row's margins, into
    /// `probabilities`: the softmax for `Multinomial`, (1 − p, p) for a
    /// binary loss with probabilities ([`Loss::prediction`]); `false`
    /// where the loss has none (the hinges, the regression losses).
    pub fn class_probabilities<T: Float>(self, margins: &[T], probabilities: &mut [T]) -> bool {
        match self {
            Loss::Multinomial { .. } => {
                softmax(margins, probabilities);
                true
            }
            _ if self.model() == Model::Logistic => match self.prediction(margins[0]) {
                Some(p) => {
                    probabilities[0] = T::one() - p;
                    probabilities[1] = p;
                    true
                }
                None => false,
            },
            _ => false,
        }
    }

    /// Its ε, where it has one.
    pub fn epsilon(self) -> Option<f32> {
        match self {
            Loss::Huber { epsilon }
            | Loss::EpsilonInsensitive { epsilon }
            | Loss::SquaredEpsilonInsensitive { epsilon } => Some(epsilon),
            _ => None,
        }
    }

    /// The loss of one row with margin `z` and target `y`. `Multinomial`
    /// reads K margins ([`Loss::row_value`]); given one it is the loss of
    /// a single class, 0.
    pub fn value<T: Float>(self, z: T, y: T) -> T {
        let (zero, one, two) = (T::zero(), T::one(), T::one() + T::one());
        let epsilon = || T::from(self.epsilon().unwrap_or(0.0)).unwrap_or(zero);
        let r = z - y;
        let s = two * y - one;
        match self {
            Loss::Squared => r * r,
            Loss::Huber { .. } => {
                let e = epsilon();
                if r.abs() <= e {
                    r * r / two
                } else {
                    e * r.abs() - e * e / two
                }
            }
            Loss::EpsilonInsensitive { .. } => (r.abs() - epsilon()).max(zero),
            Loss::SquaredEpsilonInsensitive { .. } => {
                let excess = (r.abs() - epsilon()).max(zero);
                excess * excess
            }
            // Half the Poisson deviance: 0 at e^z = y, never below.
            Loss::Poisson => {
                let constant = if y > zero { y * y.ln() - y } else { zero };
                z.exp() - y * z + constant
            }
            // max(z, 0) − y z + ln(1 + e^−|z|): neither overflows nor loses
            // the tail for large |z|.
            Loss::Log => z.max(zero) - y * z + (-z.abs()).exp().ln_1p(),
            Loss::Hinge => (one - s * z).max(zero),
            Loss::SquaredHinge => {
                let gap = (one - s * z).max(zero);
                gap * gap
            }
            Loss::ModifiedHuber => {
                let margin = s * z;
                if margin >= -one {
                    let gap = (one - margin).max(zero);
                    gap * gap
                } else {
                    -(two + two) * margin
                }
            }
            // One margin is one class, which is certain.
            Loss::Multinomial { .. } => zero,
        }
    }

    /// d loss / d z of one row with margin `z` and target `y` (0 for
    /// `Multinomial` given one margin: see [`Loss::row_derivatives`]).
    #[inline(always)]
    pub fn derivative<T: Float>(self, z: T, y: T) -> T {
        let (zero, one, two) = (T::zero(), T::one(), T::one() + T::one());
        let epsilon = || T::from(self.epsilon().unwrap_or(0.0)).unwrap_or(zero);
        let r = z - y;
        let s = two * y - one;
        let sign = |v: T| {
            if v > zero {
                one
            } else if v < zero {
                -one
            } else {
                zero
            }
        };
        match self {
            Loss::Squared => r * two,
            Loss::Huber { .. } => {
                let e = epsilon();
                r.max(-e).min(e)
            }
            Loss::EpsilonInsensitive { .. } => {
                if r.abs() > epsilon() {
                    sign(r)
                } else {
                    zero
                }
            }
            Loss::SquaredEpsilonInsensitive { .. } => two * sign(r) * (r.abs() - epsilon()).max(zero),
            Loss::Poisson => z.exp() - y,
            Loss::Log => sigmoid(z) - y,
            Loss::Hinge => {
                if s * z < one {
                    -s
                } else {
                    zero
                }
            }
            Loss::SquaredHinge => -two * s * (one - s * z).max(zero),
            Loss::ModifiedHuber => {
                let margin = s * z;
                if margin >= -one {
                    -two * s * (one - margin).max(zero)
                } else {
                    -(two + two) * s
                }
            }
            Loss::Multinomial { .. } => zero,
        }
    }

    /// The largest second derivative d²ℓ/dz², which bounds the loss's
    /// curvature by the data's (the automatic learning rate): `None` where
    /// it has none (the kinks of the hinge and ε-insensitive losses,
    /// Poisson's exponential).
    pub fn curvature_bound(self) -> Option<f64> {
        match self {
            Loss::Squared => Some(2.0),
            Loss::Huber { .. } => Some(1.0),
            Loss::SquaredEpsilonInsensitive { .. } => Some(2.0),
            Loss::Log => Some(0.25),
            Loss::SquaredHinge | Loss::ModifiedHuber => Some(2.0),
            // The softmax's Hessian diag(p) − ppᵀ has no eigenvalue above ½.
            Loss::Multinomial { .. } => Some(0.5),
            Loss::EpsilonInsensitive { .. } | Loss::Hinge | Loss::Poisson => None,
        }
    }

    /// Whether the derivative is continuous, as a quasi-Newton solver
    /// ([`crate::Solver::Lbfgs`]) needs: all but the hinge and the
    /// ε-insensitive loss, whose slopes jump at their kinks.
    pub fn is_smooth(self) -> bool {
        !matches!(self, Loss::Hinge | Loss::EpsilonInsensitive { .. })
    }

    /// The prediction of a margin: z for the regression losses but
    /// Poisson's e^z, a probability for `Log` (σ(z)) and `ModifiedHuber`
    /// ((clamp(z, −1, 1) + 1) / 2); `None` for the hinges, which give a
    /// class (the sign of z) but no probability.
    pub fn prediction<T: Float>(self, z: T) -> Option<T> {
        let (one, two) = (T::one(), T::one() + T::one());
        match self {
            Loss::Poisson => Some(z.exp()),
            Loss::Log => Some(sigmoid(z)),
            Loss::ModifiedHuber => Some((z.max(-one).min(one) + one) / two),
            Loss::Hinge | Loss::SquaredHinge | Loss::Multinomial { .. } => None,
            _ => Some(z),
        }
    }

    /// Checks targets `y` (the first being row `first`) against what the
    /// loss reads: Poisson's counts or rates are at least 0
    /// ([`crate::crate::MathError::NegativePoissonTarget`]); a multinomial label is a
    /// class 0 … K − 1 ([`crate::Error::InvalidClass`]).
    pub(crate) fn check_targets(
        self,
        y: impl IntoIterator<Item = f32>,
        first: usize,
    ) -> crate::error::Result<()> {
        if let Loss::Multinomial { classes } = self {
            let is_class = |v: f32| v >= 0.0 && v < classes as f32 && v.fract() == 0.0;
            if let Some((k, value)) = y.into_iter().enumerate().find(|(_, v)| !is_class(*v)) {
                return Err(crate::error::Error::InvalidClass {
                    row: first + k,
                    value,
                    classes: classes as usize,
                });
            }
            return Ok(());
        }
        if self == Loss::Poisson {
            if let Some((k, value)) = y.into_iter().enumerate().find(|(_, v)| *v < 0.0) {
                return Err(crate::error::Error::Math(MathError::NegativePoissonTarget {
                    row: first + k,
                    value,
                }));
            }
        }
        Ok(())
    }

    /// The name the CLI and messages use: `squared`, `huber`,
    /// `epsilon_insensitive`, `squared_epsilon_insensitive`, `poisson`,
    /// `log`, `hinge`, `squared_hinge`, `modified_huber`.
    pub fn name(self) -> &'static str {
        match self {
            Loss::Squared => "squared",
            Loss::Huber { .. } => "huber",
            Loss::EpsilonInsensitive { .. } => "epsilon_insensitive",
            Loss::SquaredEpsilonInsensitive { .. } => "squared_epsilon_insensitive",
            Loss::Poisson => "poisson",
            Loss::Log => "log",
            Loss::Hinge => "hinge",
            Loss::SquaredHinge => "squared_hinge",
            Loss::ModifiedHuber => "modified_huber",
            Loss::Multinomial { .. } => "multinomial",
        }
    }

    /// The loss named `name` (see [`Loss::name`]), with `epsilon` for the
    /// losses that take one.
    pub fn from_name(name: &str, epsilon: f32) -> crate::error::Result<Loss> {
        Ok(match name.trim() {
            "squared" | "squared_error" => Loss::Squared,
            "huber" => Loss::Huber { epsilon },
            "epsilon_insensitive" => Loss::EpsilonInsensitive { epsilon },
            "squared_epsilon_insensitive" => Loss::SquaredEpsilonInsensitive { epsilon },
            "poisson" => Loss::Poisson,
            "log" | "log_loss" => Loss::Log,
            "hinge" => Loss::Hinge,
            "squared_hinge" => Loss::SquaredHinge,
            "modified_huber" => Loss::ModifiedHuber,
            _ => {
                return Err(crate::error::Error::UnknownName {
                    what: "loss",
                    name: name.to_string(),
                    expected: "squared, huber, epsilon_insensitive, squared_epsilon_insensitive, poisson, log, hinge, squared_hinge or modified_huber",
                })
            }
        })
    }
}

/// softmax(z)ₖ = e^(zₖ − m) / Σ e^(zᵢ − m) into `probabilities`, with m the
/// largest margin (no exponential overflows); returns m and the sum
/// Σ e^(zᵢ − m), whose logarithm the loss takes.
#[inline(always)]
fn softmax<T: Float>(margins: &[T], probabilities: &mut [T]) -> (T, T) {
    let largest = margins.iter().fold(T::neg_infinity(), |m, &z| m.max(z));
    let mut spread = T::zero();
    for (p, &z) in probabilities.iter_mut().zip(margins) {
        *p = (z - largest).exp();
        spread = spread + *p;
    }
    for p in probabilities.iter_mut() {
        *p = *p / spread;
    }
    (largest, spread)
}

impl Model {
    /// The loss of one sample with margin `z` and target `y`, under the
    /// model's default loss ([`Loss::default_for`]).
    pub fn sample_loss<T: Float>(self, z: T, y: T) -> T {
        Loss::default_for(self).value(z, y)
    }

    /// d loss / d z of one sample under the model's default loss: 2 (z − y)
    /// for the squared error, σ(z) − y for the cross-entropy.
    #[inline(always)]
    pub fn loss_derivative<T: Float>(self, z: T, y: T) -> T {
        Loss::default_for(self).derivative(z, y)
    }
}

impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.epsilon(), self) {
            (Some(epsilon), _) => write!(f, "{}(epsilon={epsilon})", self.name()),
            (None, Loss::Multinomial { classes }) => write!(f, "{}(classes={classes})", self.name()),
            (None, _) => f.write_str(self.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Loss; 9] = [
        Loss::Squared,
        Loss::Huber { epsilon: 0.7 },
        Loss::EpsilonInsensitive { epsilon: 0.3 },
        Loss::SquaredEpsilonInsensitive { epsilon: 0.3 },
        Loss::Poisson,
        Loss::Log,
        Loss::Hinge,
        Loss::SquaredHinge,
        Loss::ModifiedHuber,
    ];

    /// A row's value and derivative taken together are [`Loss::value`]'s
    /// and [`Loss::derivative`]'s bits, for every one-margin loss, in both
    /// precisions, at signed zeros, tiny and huge margins, infinities and
    /// NaN.
    #[test]
    fn a_rows_value_and_derivative_together_are_the_definitions_bits() {
        fn check<T: Float + Into<f64> + std::fmt::Debug>(loss: Loss, z: T, y: T) {
            let mut derivative = [T::zero()];
            let value = loss.row_value_and_derivatives(&[z], y, &mut derivative);
            // The same bits, or both NaN.
            let same = |a: T, b: T| a.into().to_bits() == b.into().to_bits() || (a.is_nan() && b.is_nan());
            assert!(
                same(value, loss.value(z, y)) && same(derivative[0], loss.derivative(z, y)),
                "{loss} at z {z:?}, y {y:?}"
            );
        }
        let margins = [
            0.0,
            -0.0,
            1e-30,
            -1e-30,
            0.3,
            -0.3,
            2.5,
            -2.5,
            17.0,
            -17.0,
            90.0,
            -90.0,
            800.0,
            -800.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        for loss in ALL {
            for &y in &[0.0, 1.0, 0.3, 2.0] {
                for &z in &margins {
                    check(loss, z, y);
                    check(loss, z as f32, y as f32);
                }
            }
        }
    }

    /// Each derivative equals the central difference of its value, away
    /// from the kinks.
    #[test]
    fn derivatives_are_the_slopes_of_the_values() {
        for loss in ALL {
            let targets: &[f64] = match loss.model() {
                Model::Linear => &[0.0, 1.5, 3.0],
                Model::Logistic => &[0.0, 1.0],
            };
            for &y in targets {
                for k in -30..=30 {
                    let z = f64::from(k) * 0.137 + 0.011;
                    let h = 1e-6;
                    let slope = (loss.value(z + h, y) - loss.value(z - h, y)) / (2.0 * h);
                    let derivative = loss.derivative(z, y);
                    assert!(
                        (slope - derivative).abs() <= 1e-5 * derivative.abs().max(1.0),
                        "{loss} at z {z}, y {y}: slope {slope}, derivative {derivative}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_losses_are_scikit_learns_at_hand_computed_points() {
        // r = 2 − 0.5 = 1.5 for the regression losses.
        assert_eq!(Loss::Huber { epsilon: 1.0 }.value(2.0, 0.5), 1.0);
        assert_eq!(Loss::EpsilonInsensitive { epsilon: 1.0 }.value(2.0, 0.5), 0.5);
        assert_eq!(
            Loss::SquaredEpsilonInsensitive { epsilon: 1.0 }.value(2.0, 0.5),
            0.25
        );
        // e^0 − 0 + 3 ln 3 − 3, and 0 where the prediction is the target.
        assert!((Loss::Poisson.value(0.0f64, 3.0) - (1.0 + 3.0 * 3f64.ln() - 3.0)).abs() < 1e-12);
        assert!(Loss::Poisson.value(3f64.ln(), 3.0).abs() < 1e-12);
        assert_eq!(Loss::Poisson.value(0.0, 0.0), 1.0);
        // s z = 0.5 for y = 1, −0.5 for y = 0.
        assert_eq!(Loss::Hinge.value(0.5, 1.0), 0.5);
        assert_eq!(Loss::Hinge.value(0.5, 0.0), 1.5);
        assert_eq!(Loss::SquaredHinge.value(0.5, 0.0), 2.25);
        assert_eq!(Loss::ModifiedHuber.value(-3.0, 1.0), 12.0);
        assert_eq!(Loss::ModifiedHuber.prediction(3.0), Some(1.0));
        assert_eq!(Loss::ModifiedHuber.prediction(0.0), Some(0.5));
        assert_eq!(Loss::Hinge.prediction(0.3), None);
    }

    /// The multinomial's derivatives are the slopes of its value, margin by
    /// margin; its value is −log of the label's softmax, computed by hand.
    #[test]
    fn multinomial_derivatives_are_the_slopes_of_its_value() {
        let loss = Loss::Multinomial { classes: 3 };
        let margins = [0.3f64, -1.2, 2.5];
        for y in [0.0, 1.0, 2.0] {
            let mut derivatives = [0.0; 3];
            loss.row_derivatives(&margins, y, &mut derivatives);
            for k in 0..3 {
                let (mut up, mut down) = (margins, margins);
                up[k] += 1e-6;
                down[k] -= 1e-6;
                let slope = (loss.row_value(&up, y) - loss.row_value(&down, y)) / 2e-6;
                assert!(
                    (slope - derivatives[k]).abs() < 1e-6,
                    "y {y}, k {k}: {slope} vs {}",
                    derivatives[k]
                );
            }
            let spread: f64 = margins.iter().map(|z| z.exp()).sum();
            let by_hand = -(margins[y as usize].exp() / spread).ln();
            assert!((loss.row_value(&margins, y) - by_hand).abs() < 1e-12);
        }
        // The fused form gives the same value and derivatives.
        let mut fused = [0.0; 3];
        for y in [0.0, 1.0, 2.0] {
            let value = loss.row_value_and_derivatives(&margins, y, &mut fused);
            let mut derivatives = [0.0; 3];
            loss.row_derivatives(&margins, y, &mut derivatives);
            assert!((value - loss.row_value(&margins, y)).abs() < 1e-12);
            assert!(fused.iter().zip(&derivatives).all(|(a, b)| (a - b).abs() < 1e-15));
        }
        // Huge margins neither overflow nor lose the loss.
        assert_eq!(loss.row_value(&[1000.0f32, 0.0, -1000.0], 1.0), 1000.0);
        let mut probabilities = [0.0f32; 3];
        assert!(loss.class_probabilities(&[1000.0f32, 0.0, -1000.0], &mut probabilities));
        assert_eq!(probabilities, [1.0, 0.0, 0.0]);
    }
}
