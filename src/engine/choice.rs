//! The engine each [`Device`] runs on: the only place that names the
//! engines, so that adding one touches nothing else.

use std::sync::Arc;

use crate::engine::cpu::CpuEngine;
use crate::engine::device::Device;
use crate::engine::gpu::{GpuContext, GpuEngine};
use crate::engine::Engine;
use crate::error::Result;
use crate::memory::default_budget;

impl Device {
    /// The device that will actually run on the shared GPU context: `Cpu`
    /// or `Gpu`, never `Auto`.
    pub fn resolve(self) -> Result<Device> {
        choose(self, None, None, None).map(|engine| engine.device())
    }
}

/// The engine for `device`: `Device::Gpu` and `Device::Auto` use `given`
/// where there is one, else the shared context. An engine holds at most
/// `memory_budget` bytes of rows in host memory (default:
/// [`default_budget`]), and the GPU engine `gpu_memory_budget` on the
/// device (default: [`GpuContext::memory_budget`]).
pub(crate) fn choose(
    device: Device,
    given: Option<&Arc<GpuContext>>,
    memory_budget: Option<u64>,
    gpu_memory_budget: Option<u64>,
) -> Result<Box<dyn Engine>> {
    let gpu = |context: &Arc<GpuContext>| -> Box<dyn Engine> {
        Box::new(GpuEngine::new(
            Arc::clone(context),
            gpu_memory_budget,
            memory_budget,
        ))
    };
    let cpu = || -> Box<dyn Engine> {
        Box::new(CpuEngine {
            memory_budget: memory_budget.unwrap_or_else(default_budget),
        })
    };
    Ok(match (device, given) {
        (Device::Cpu, _) => cpu(),
        (Device::Gpu | Device::Auto, Some(context)) => gpu(context),
        (Device::Gpu, None) => gpu(&GpuContext::shared()?),
        (Device::Auto, None) => match GpuContext::shared() {
            Ok(context) if !context.adapter().is_software() => gpu(&context),
            _ => cpu(),
        },
    })
}
