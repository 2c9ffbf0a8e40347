//! Where a fit runs.

use crate::error::{Error, Result};

/// The engine that runs a fit or a gradient evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Device {
    /// The CPU engine on `ndarray` and `rayon`.
    Cpu,
    /// The GPU engine; an error where no GPU can be used.
    Gpu,
    /// The GPU where one can be used, else the CPU; the fitted model says
    /// which one ran.
    #[default]
    Auto,
}

impl Device {
    /// The device that will actually run: `Cpu` or `Gpu`, never `Auto`.
    pub fn resolve(self) -> Result<Device> {
        match self {
            Device::Cpu | Device::Auto => Ok(Device::Cpu),
            Device::Gpu => Err(Error::GpuUnavailable {
                reason: "this build of downhill has no GPU engine yet; use Device::Cpu or Device::Auto"
                    .into(),
            }),
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
