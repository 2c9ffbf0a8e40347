//! Where a fit runs.

#[cfg(feature = "gpu")]
use std::sync::Arc;

#[cfg(not(feature = "gpu"))]
use crate::error::Error;
use crate::error::Result;
#[cfg(feature = "gpu")]
use crate::gpu::GpuContext;

/// The engine that runs a fit or a gradient evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
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
    /// The device that will actually run on the shared GPU context: `Cpu`
    /// or `Gpu`, never `Auto`.
    pub fn resolve(self) -> Result<Device> {
        Engine::choose(self, None).map(|engine| engine.device())
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

/// The engine chosen for one fit.
#[derive(Debug, Clone)]
pub(crate) enum Engine {
    Cpu,
    #[cfg(feature = "gpu")]
    Gpu(Arc<GpuContext>),
}

/// A context the user built, if any.
#[cfg(feature = "gpu")]
pub(crate) type GivenContext<'a> = Option<&'a Arc<GpuContext>>;
#[cfg(not(feature = "gpu"))]
pub(crate) type GivenContext<'a> = Option<&'a std::convert::Infallible>;

impl Engine {
    /// `Device::Gpu` and `Device::Auto` use `given` where there is one,
    /// else the shared context.
    pub(crate) fn choose(device: Device, given: GivenContext) -> Result<Engine> {
        #[cfg(feature = "gpu")]
        {
            match device {
                Device::Cpu => Ok(Engine::Cpu),
                Device::Gpu => match given {
                    Some(context) => Ok(Engine::Gpu(Arc::clone(context))),
                    None => GpuContext::shared().map(Engine::Gpu),
                },
                Device::Auto => Ok(match given {
                    Some(context) => Engine::Gpu(Arc::clone(context)),
                    None => match GpuContext::shared() {
                        Ok(context) if !context.adapter().is_software() => Engine::Gpu(context),
                        _ => Engine::Cpu,
                    },
                }),
            }
        }
        #[cfg(not(feature = "gpu"))]
        {
            let _ = given;
            match device {
                Device::Cpu | Device::Auto => Ok(Engine::Cpu),
                Device::Gpu => Err(Error::GpuUnavailable {
                    reason: "downhill was built without its `gpu` feature".into(),
                }),
            }
        }
    }

    pub(crate) fn device(&self) -> Device {
        match self {
            Engine::Cpu => Device::Cpu,
            #[cfg(feature = "gpu")]
            Engine::Gpu(_) => Device::Gpu,
        }
    }
}

/// A context given to the builder; two are equal when they are the same
/// context.
#[cfg(feature = "gpu")]
#[derive(Debug, Clone)]
pub(crate) struct ContextHandle(pub(crate) Arc<GpuContext>);

#[cfg(feature = "gpu")]
impl PartialEq for ContextHandle {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
