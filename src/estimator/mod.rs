//! The estimator: the `GradientDescent` builder checked into a plan,
//! `fit` (the engine chosen, the data scaled, the solver run, the units
//! converted back) and the `Fitted` model, saved and loaded with the
//! `serde` feature.

pub(crate) mod fit;
#[cfg(feature = "serde")]
pub(crate) mod saved;
