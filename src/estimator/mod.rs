//! The estimator: the `GradientDescent` builder and its checks
//! ([`settings`]), fitting (the engine chosen, the data scaled, the solver
//! run, the units converted back: [`fit`]) and the `Fitted` model
//! ([`fitted`]), many models fitted at once ([`many`]), saved and loaded with the `serde` feature ([`saved`]).

pub(crate) mod cv;
pub(crate) mod error;
pub(crate) mod fit;
pub(crate) mod fitted;
pub(crate) mod many;
#[cfg(feature = "serde")]
pub(crate) mod saved;
pub(crate) mod settings;
