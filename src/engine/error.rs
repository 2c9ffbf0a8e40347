//! The engines' errors: a GPU that cannot be had or cannot run the fit. Composed into the crate's [`crate::Error`] as
//! `Error::Engine`; each variant carries the value it names.

/// The engines' errors: a GPU that cannot be had or cannot run the fit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A model of a lockstep whose thread the system would not start.
    #[error("cannot start a thread for model {model} of those fitted together: {reason}; fit fewer models at once")]
    NoThread {
        /// The model (from 0).
        model: usize,
        /// What the system said.
        reason: String,
    },
    /// A lockstep whose serving thread failed (panicked) while models
    /// waited for a pass.
    #[error("the pass that models fitted together wait for failed")]
    LockstepClosed,
    /// A lockstep of models over rows of their own (folds) asked a run
    /// that sums only all of its rows.
    #[error("only the CPU engine's rows in memory sum models over rows of their own (folds) in one pass")]
    NoPassInRows,
    /// More classes than the GPU kernels hold a row's margins for.
    #[error("the GPU engine fits at most {limit} classes, this model has {classes}; use the CPU engine")]
    TooManyClassesForGpu {
        /// The model's classes.
        classes: usize,
        /// The most the kernels hold.
        limit: usize,
    },
    /// A mini-batch longer than the blocks a source is streamed in.
    #[error(
        "a batch of {batch} rows is longer than the streamed blocks of {block_rows} rows; use larger shuffle blocks (--shuffle blocks:N) or a smaller batch"
    )]
    BatchBeyondBlock {
        /// Rows per batch.
        batch: usize,
        /// Rows per streamed block.
        block_rows: usize,
    },
    /// The GPU failed while running: out of memory, a lost device, a wait
    /// that timed out, a buffer that could not be mapped, or data too large
    /// for the adapter's limits.
    #[error("the GPU failed: {reason}")]
    GpuFailure {
        /// What failed, as the device reported it.
        reason: String,
    },
    /// Adam in mini-batches on sparse rows, asked of an engine that has no
    /// step touching only a batch's coordinates.
    #[error(
        "Adam on sparse rows in mini-batches updates only the coordinates each batch stores entries for (PyTorch's SparseAdam), a step that {engine} does not take; fit on the CPU (--device cpu) in one process, or choose sgd, momentum, nesterov, adagrad or rmsprop, whose steps are the same on every engine"
    )]
    SparseAdamOnCpuOnly {
        /// The engine asked for.
        engine: &'static str,
    },
    /// Adam in mini-batches on sparse rows with a setting its lazy step
    /// has no form for.
    #[error(
        "Adam on sparse rows in mini-batches updates only the coordinates each batch stores entries for (PyTorch's SparseAdam), which has no form with {setting}; choose sgd, momentum, nesterov, adagrad or rmsprop, or drop {setting}"
    )]
    SparseAdamWith {
        /// The setting, in words.
        setting: &'static str,
    },
    /// A GPU was asked for and cannot be used.
    #[error("no GPU can be used: {reason}")]
    GpuUnavailable {
        /// What was tried and why it failed.
        reason: String,
    },
}
