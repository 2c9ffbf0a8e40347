//! # downhill
//!
//! Linear models fitted by gradient descent on the CPU and the GPU:
//! full-batch, stochastic and mini-batch descent with SGD, momentum,
//! Nesterov, AdaGrad, RMSProp and Adam (and averaged SGD), or L-BFGS
//! ([`Solver`]); learning-rate schedules, early stopping, divergence
//! detection, standardization and a loss history. Ten losses ([`Loss`]: the
//! squared error and the logistic loss, robust and margin losses, Poisson,
//! and the multinomial cross-entropy of K classes), L2, L1 and elastic-net
//! penalties ([`Penalty`]), sample and class weights; data from ndarray
//! arrays or, streamed when larger than memory, from CSV and (with the
//! `npy` and `parquet` features) `.npy` and Parquet files. The `downhill`
//! command-line program is a package of its own (`cli/` in the repository).
//!
//! ## Overview
//!
//! ```
//! use downhill::{GradientDescent, Optimizer, Schedule, StopReason, Variant};
//! use ndarray::array;
//!
//! let x = array![[1.0f32], [2.0], [3.0], [4.0], [5.0]];
//! let y = array![5.0f32, 7.0, 9.0, 11.0, 13.0]; // y = 2x + 3
//! let fitted = GradientDescent::linear()
//!     .variant(Variant::MiniBatch(2))
//!     .optimizer(Optimizer::adam(0.1))
//!     .schedule(Schedule::step_decay(200, 0.5))
//!     .standardize(true)
//!     .max_epochs(2000)
//!     .seed(42)
//!     .fit(x.view(), y.view())?;
//! assert!((fitted.weights()[0] - 2.0).abs() < 1e-2);
//! assert!((fitted.bias() - 3.0).abs() < 1e-2);
//! assert_eq!(fitted.stop_reason(), StopReason::MaxEpochs);
//! assert_eq!(fitted.history().len(), 2000);
//! # Ok::<(), downhill::Error>(())
//! ```
//!
//! The math both engines obey, for a batch B with margins z = X_B w + b and
//! residuals r = h(z) − y:
//!
//! | model | h(z) | loss | ∂/∂w | ∂/∂b |
//! |---|---|---|---|---|
//! | linear | z | (1/\|B\|) Σ (z − y)² | (2/\|B\|) X_Bᵀ r | (2/\|B\|) Σ r |
//! | logistic | σ(z) | −(1/\|B\|) Σ [y log σ + (1 − y) log(1 − σ)] | (1/\|B\|) X_Bᵀ r | (1/\|B\|) Σ r |
//!
//! An L2 penalty adds (l2/2)‖w‖² to the loss and l2·w to the gradient; the
//! bias is never penalized.
//!
//! ## Backends
//!
//! [`Device::Cpu`] runs the CPU engine: one fused pass over the rows
//! (margin, loss derivative ℓ′, loss and Xᵀℓ′ together, each row read once),
//! parallel
//! over fixed chunks of rows with rayon, so that a seed gives the same result
//! bit for bit whatever the number of threads.
//!
//! [`Device::Gpu`] runs the GPU engine: WGSL compute shaders through `wgpu`
//! (Vulkan, Metal, DirectX 12, OpenGL) on a `GpuContext` built once and
//! shared. X, the parameters, the optimizer state and the epoch's
//! permutation stay on the device; the gradient is one fused pass per step
//! with a deterministic tree reduction, small batches run thousands of
//! steps per dispatch, and one small readback per epoch brings the loss and
//! the parameters.
//! Where no adapter exists it returns [`crate::EngineError::GpuUnavailable`] saying what
//! was tried. Its runs match the CPU engine's on the same seed, epoch by
//! epoch, to float32 rounding.
//!
//! [`Device::Auto`] (the default) runs on a hardware GPU where there is
//! one and on the CPU otherwise (software adapters such as Mesa's lavapipe
//! are passed over, being slower than the CPU engine);
//! [`Fitted::device`] says which engine ran.
//!
//! ## Feature flags
//!
//! - `gpu` (default): the GPU engine and `GpuContext`. Without it the same
//!   types exist, `GpuContext::new` and `Device::Gpu` are
//!   [`crate::EngineError::GpuUnavailable`], and `Device::Auto` runs on the CPU.
//! - `serde` (off): [`Fitted::save`], [`Fitted::load`] and resumable fits
//!   through a versioned JSON schema (docs/MODEL_FORMAT.md).
//! - `npy` (off): `data::npy`, `.npy` files memory-mapped.
//! - `parquet` (off): Parquet files, as a numeric source
//!   (`data::parquet_source`) and as tables (`data::table`).
//! - `plot` (off): `plot`, loss curves and loss surfaces as SVG or PNG
//!   through `plotters`.
//! - `distributed` (off): `distributed::Mpi`, data-parallel fits over an
//!   MPI job (rsmpi; needs an MPI library and libclang to build); the
//!   command-line program runs `fit` as one rank under `mpirun`. Without
//!   it, [`GradientDescent::distributed`] takes any [`distributed::Collective`].
//!
//! The `downhill` command-line program is a package of its own in the
//! repository (`cli/`), with every feature but `distributed` on.
//!
//! ## One training loop
//!
//! Every engine runs under one driver, which draws each epoch's row order,
//! sets the learning rate, decides when to stop and which parameters a
//! stopped run keeps; engines compute raw sums over each batch (Σ ℓ′(z)·x,
//! Σ ℓ′(z), Σ loss, rows) and one step turns them into the gradient with the
//! penalty. docs/DESIGN.md draws the layout.
//!
//! ## Bad input
//!
//! Every entry point returns [`Result`]; each kind of bad input has its own
//! [`Error`] variant naming the offending value. A run whose loss becomes
//! non-finite or explodes is not an error: it stops with
//! [`StopReason::Diverged`] and keeps the parameters from the start of the
//! diverging epoch.
#![warn(missing_docs)]

pub use ndarray;

pub mod atomic_file;
pub mod data;
pub mod distributed;
mod engine;
mod error;
mod estimator;
#[cfg(feature = "serde")]
mod json_numbers;
mod math;
pub mod memory;
pub mod metrics;
#[cfg(feature = "plot")]
pub mod plot;
mod reduce;
#[cfg(test)]
mod reduce_tests;
pub mod reference;
mod train;

pub use data::error::DataError;
pub use data::scaling::{Standardizer, TargetScaling};
pub use data::shuffle::Shuffle;
pub use data::synthetic::Synthetic;
pub use engine::adapter::{AdapterSummary, GpuOptions, KernelGeneration};
pub use engine::device::Device;
pub use engine::error::EngineError;
pub use engine::gpu::{GpuContext, GpuData};
pub use engine::{Gradient, WorkCounts};
pub use error::{Error, Result};
pub use estimator::cv::{Choice, CrossValidation, CvOptions, CvScoring, Folds, PathFitting};
pub use estimator::error::EstimatorError;
pub use estimator::fit::gradient;
pub use estimator::fitted::Fitted;
pub use estimator::many::MOST_STRENGTHS;
#[cfg(feature = "serde")]
pub use estimator::saved::SCHEMA_VERSION;
pub use estimator::settings::{
    ClassWeight, GradientDescent, Variant, DEFAULT_RATE_CUTS, DEFAULT_RATE_CUT_FACTOR, DEFAULT_SEED,
};
pub use math::error::MathError;
pub use math::loss::Loss;
pub use math::model::{sigmoid, Model};
pub use math::objective::Penalty;
pub use math::optim::{AdaGrad, Adam, Momentum, Optimizer, OptimizerState, RmsProp, Rule, Sgd};
pub use train::curvature::Curvature;
pub use train::error::TrainError;
pub use train::history::{EpochRecord, History, StopReason};
pub use train::schedule::Schedule;
pub use train::solver::{GradientTest, Solver, DEFAULT_LBFGS_MEMORY};
pub use train::state::TrainingState;
