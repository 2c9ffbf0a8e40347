//! Where a fit runs: the public [`Device`] choice
//! ([`crate::engine::choice`] picks the engine for it).

use crate::error::{Error, Result};

/// The most classes whose margins the GPU kernels hold for one row
/// (MAX_CLASSES in shaders/objective.wgsl): `Device::Auto` runs a
/// multinomial model of more classes on the CPU.
pub(crate) const GPU_MAX_CLASSES: usize = 32;

/// The engine that runs a fit or a gradient evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Device {
    /// The CPU engine on `ndarray` and `rayon`.
    Cpu,
    /// The GPU engine; an error where no GPU can be used.
    Gpu,
    /// The GPU where a hardware adapter exists, else the CPU; the fitted
    /// model says which one ran. Software adapters (Mesa's lavapipe) are
    /// skipped: they check results but are slower than the CPU engine.
    #[default]
    Auto,
}

impl Device {
    /// At most how many models of `margins` margins a row (1, or a
    /// multinomial's classes) one pass over the rows sums together when models are
    /// fitted in lockstep ([`crate::GradientDescent::fit_many`], paths,
    /// sweeps, folds side by side): on the GPU as many as the kernels'
    /// 32 margins a row hold (fewer on a software adapter whose loop
    /// budget a tile of them would pass), the rest in further passes of
    /// that many; `None` on the CPU, whose pass sums every model (and for
    /// `Auto`, which is one or the other).
    ///
    /// ```
    /// use downhill::Device;
    /// assert_eq!(Device::Gpu.models_per_pass(1), Some(32));
    /// assert_eq!(Device::Gpu.models_per_pass(3), Some(10));
    /// assert_eq!(Device::Cpu.models_per_pass(3), None);
    /// ```
    pub fn models_per_pass(self, margins: usize) -> Option<usize> {
        match self {
            Device::Gpu => Some((GPU_MAX_CLASSES / margins.max(1)).max(1)),
            _ => None,
        }
    }

    /// `cpu`, `gpu` or `auto`.
    pub fn name(self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Gpu => "gpu",
            Device::Auto => "auto",
        }
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Device {
    type Err = Error;

    /// `cpu`, `gpu` or `auto`.
    fn from_str(text: &str) -> Result<Self> {
        match text.trim() {
            "cpu" => Ok(Device::Cpu),
            "gpu" => Ok(Device::Gpu),
            "auto" => Ok(Device::Auto),
            _ => Err(Error::UnknownName {
                what: "device",
                name: text.to_string(),
                expected: "cpu, gpu or auto",
            }),
        }
    }
}
