//! The two models and their scalar math, written once for `f32` and `f64`.
//!
//! | model | h(z) | loss of one sample | d loss / d z |
//! |---|---|---|---|
//! | linear | z | (z − y)² | 2 (z − y) |
//! | logistic | σ(z) | −[y log σ(z) + (1 − y) log(1 − σ(z))] | σ(z) − y |
//!
//! The losses themselves are defined in [`crate::Loss`] (src/loss.rs,
//! which also gives each model its default loss's `sample_loss` and
//! `loss_derivative`).

use num_traits::Float;

/// Which regression is fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Model {
    /// Least squares: h(z) = z, loss = mean squared error.
    Linear,
    /// Logistic regression: h(z) = σ(z), loss = cross-entropy, for labels
    /// 0 and 1; over K classes with [`crate::Loss::Multinomial`].
    Logistic,
}

impl Model {
    /// The prediction h(z) for a margin z = x·w + b under the model's
    /// default loss.
    pub fn link<T: Float>(self, z: T) -> T {
        match self {
            Model::Linear => z,
            Model::Logistic => sigmoid(z),
        }
    }

    /// The name used in messages and files: `linear` or `logistic`.
    pub fn name(self) -> &'static str {
        match self {
            Model::Linear => "linear",
            Model::Logistic => "logistic",
        }
    }
}

impl std::fmt::Display for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Model {
    type Err = crate::error::Error;

    /// `linear` or `logistic`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "linear" => Ok(Model::Linear),
            "logistic" => Ok(Model::Logistic),
            _ => Err(crate::error::Error::UnknownName {
                what: "model",
                name: text.to_string(),
                expected: "linear or logistic",
            }),
        }
    }
}

/// The logistic function, evaluated without overflow for any finite z.
pub fn sigmoid<T: Float>(z: T) -> T {
    if z >= T::zero() {
        T::one() / (T::one() + (-z).exp())
    } else {
        let e = z.exp();
        e / (T::one() + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_loss_matches_the_textbook_form_where_that_form_is_exact() {
        for &(z, y) in &[(-3.0f64, 0.0), (-0.5, 1.0), (0.0, 1.0), (2.0, 0.0), (4.0, 1.0)] {
            let p = 1.0 / (1.0 + (-z).exp());
            let textbook = -(y * p.ln() + (1.0 - y) * (1.0 - p).ln());
            assert!((Model::Logistic.sample_loss(z, y) - textbook).abs() < 1e-12);
        }
    }

    #[test]
    fn logistic_loss_stays_finite_for_huge_margins() {
        assert_eq!(Model::Logistic.sample_loss(1000.0f32, 1.0), 0.0);
        assert_eq!(Model::Logistic.sample_loss(-1000.0f32, 0.0), 0.0);
        assert_eq!(Model::Logistic.sample_loss(1000.0f32, 0.0), 1000.0);
        assert_eq!(sigmoid(-1000.0f32), 0.0);
        assert_eq!(sigmoid(1000.0f32), 1.0);
    }
}
