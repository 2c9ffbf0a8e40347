//! The math layer's errors: an optimizer setting out of range, a target the loss cannot take. Composed into the crate's [`crate::Error`] as
//! `Error::Math`; each variant carries the value it names.

/// The math layer's errors: an optimizer setting out of range, a target the loss cannot take.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MathError {
    /// A learning rate that is zero, negative, NaN or infinite.
    #[error("the learning rate must be finite and positive, got {value}")]
    InvalidLearningRate {
        /// The learning rate given.
        value: f32,
    },
    /// An optimizer constant outside its range (a beta outside [0, 1), a
    /// non-positive epsilon, ...).
    #[error("optimizer constant {name} = {value} is outside {expected}")]
    InvalidOptimizerConstant {
        /// Name of the constant, as in PyTorch.
        name: &'static str,
        /// The value given.
        value: f32,
        /// The range it must lie in.
        expected: &'static str,
    },
    /// A negative target under the Poisson loss.
    #[error("row {row}: target {value} is negative; the Poisson loss fits counts or rates of at least 0")]
    NegativePoissonTarget {
        /// The row, from 0.
        row: usize,
        /// The target.
        value: f32,
    },
}
