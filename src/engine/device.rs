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
