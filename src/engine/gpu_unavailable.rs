//! The GPU engine of a build without the `gpu` feature: the same types and
//! entry points, each of which returns [`crate::EngineError::GpuUnavailable`], so that
//! nothing else in the crate depends on the feature.

use crate::engine::error::EngineError;
use std::convert::Infallible;
use std::sync::Arc;

use ndarray::{ArrayView1, ArrayView2};

use crate::data::source::DataSource;
use crate::engine::adapter::{AdapterSummary, GpuOptions};
use crate::engine::device::Device;
use crate::engine::{Engine, EngineRun, Gradient, RunSpec, SumsRun};
use crate::error::{Error, Result};
use crate::math::model::Model;
use crate::math::objective::Objective;

fn unavailable() -> Error {
    Error::Engine(EngineError::GpuUnavailable {
        reason: "downhill was built without its `gpu` feature".into(),
    })
}

/// A GPU ready to run fits; without the `gpu` feature none can be built.
#[derive(Debug)]
pub struct GpuContext {
    never: Infallible,
}

impl GpuContext {
    /// Always [`crate::EngineError::GpuUnavailable`] in this build.
    pub fn new() -> Result<Arc<GpuContext>> {
        Err(unavailable())
    }

    /// Always [`crate::EngineError::GpuUnavailable`] in this build.
    pub fn with_options(_options: GpuOptions) -> Result<Arc<GpuContext>> {
        Err(unavailable())
    }

    /// Always [`crate::EngineError::GpuUnavailable`] in this build.
    pub fn shared() -> Result<Arc<GpuContext>> {
        Err(unavailable())
    }

    /// The adapter this context runs on.
    pub fn adapter(&self) -> &AdapterSummary {
        match self.never {}
    }

    /// The default GPU memory budget.
    pub fn memory_budget(&self) -> u64 {
        match self.never {}
    }

    /// The device's copy bandwidth in bytes per second.
    pub fn copy_bandwidth(&self, _bytes: u64) -> Result<f64> {
        match self.never {}
    }

    /// Uploads `x` and `y` once for many gradient evaluations.
    pub fn upload(&self, _model: Model, _x: ArrayView2<f32>, _y: ArrayView1<f32>) -> Result<GpuData<'_>> {
        match self.never {}
    }

    /// [`crate::gradient`] on this context.
    pub fn gradient(
        self: &Arc<Self>,
        _model: Model,
        _x: ArrayView2<f32>,
        _y: ArrayView1<f32>,
        _w: ArrayView1<f32>,
        _b: f32,
    ) -> Result<Gradient> {
        match self.never {}
    }
}

/// Data held by a GPU context; without the `gpu` feature there is none.
#[derive(Debug)]
pub struct GpuData<'c> {
    context: &'c GpuContext,
}

impl GpuData<'_> {
    /// The gradient and the loss over every row at weights `w` and bias `b`.
    pub fn gradient(&self, _w: ArrayView1<f32>, _b: f32) -> Result<Gradient> {
        match self.context.never {}
    }
}

/// The GPU engine on one context; without the `gpu` feature none exists.
pub(crate) struct GpuEngine {
    context: Arc<GpuContext>,
}

impl GpuEngine {
    pub(crate) fn new(
        context: Arc<GpuContext>,
        _device_budget: Option<u64>,
        _host_budget: Option<u64>,
    ) -> Self {
        GpuEngine { context }
    }
}

impl Engine for GpuEngine {
    fn device(&self) -> Device {
        Device::Gpu
    }

    fn open<'s>(&'s self, _source: &'s dyn DataSource, _spec: RunSpec) -> Result<Box<dyn EngineRun + 's>> {
        match self.context.never {}
    }

    fn open_sums<'s>(
        &'s self,
        _source: &'s dyn DataSource,
        _objective: Objective,
    ) -> Result<Box<dyn SumsRun + 's>> {
        match self.context.never {}
    }
}
