//! The training layer's errors: a solver or schedule setting that cannot run, a curvature that cannot be measured. Composed into the crate's [`crate::Error`] as
//! `Error::Train`; each variant carries the value it names.

/// The training layer's errors: a solver or schedule setting that cannot run, a curvature that cannot be measured.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// `Solver::Lbfgs { memory: 0 }`.
    #[error("L-BFGS's memory must be at least 1 step, got 0")]
    ZeroLbfgsMemory,
    /// A schedule parameter outside its range.
    #[error("schedule parameter {name} = {value} is outside {expected}")]
    InvalidScheduleParameter {
        /// Name of the parameter.
        name: &'static str,
        /// The value given.
        value: f64,
        /// The range it must lie in.
        expected: &'static str,
    },
    /// The automatic learning rate found no positive curvature (the data's
    /// columns are all zero, or overflow).
    #[error("the automatic learning rate needs a positive curvature of the loss; the estimate is {value}")]
    NoCurvature {
        /// The estimate.
        value: f64,
    },
}
