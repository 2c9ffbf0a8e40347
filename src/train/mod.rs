//! The training layer: the one loop that runs every fit ([`driver`]), the
//! solvers it runs ([`method`]: gradient descent's epochs, [`descent`], and
//! L-BFGS's iterations, [`lbfgs`]), the checked plan, the stop rules, the
//! state a fit resumes from, schedules, the history of a fit and the
//! automatic rates from the loss's curvature. It runs engines and never
//! names one; the estimator above it builds what it runs.

pub(crate) mod curvature;
pub(crate) mod descent;
pub(crate) mod driver;
pub(crate) mod error;
pub(crate) mod history;
pub(crate) mod lbfgs;
pub(crate) mod method;
pub(crate) mod plan;
pub(crate) mod schedule;
pub(crate) mod solver;
pub(crate) mod state;
pub(crate) mod stop_rules;
