//! What a GPU context is built with ([`GpuOptions`]) and what it runs on
//! ([`AdapterSummary`]): plain data, the same with or without the `gpu`
//! feature.

/// Choices made when a [`crate::GpuContext`] is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GpuOptions {
    /// The most bytes of X held by one buffer; `None` for the adapter's
    /// largest storage binding. A small value forces X to be split across
    /// many buffers, which tests use to exercise that path on small data.
    pub x_chunk_bytes: Option<u64>,
    /// Keeps the gradient pass on workgroup memory even where the adapter
    /// has subgroup operations (tests use it to run both paths on one
    /// adapter).
    pub workgroup_memory_only: bool,
    /// Which generation of the kernels runs the steps: the current ones,
    /// or the previous ones kept selectable until a GPU has measured both
    /// (`downhill bench --kernels`).
    pub kernels: KernelGeneration,
}

/// A generation of the GPU kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KernelGeneration {
    /// The kernels built for real GPUs: the full batch's sums kept in
    /// registers, its shape fixed when the pipeline is built, vector loads.
    #[default]
    Current,
    /// The kernels before them: tiles of 32 rows whose sums are added into
    /// memory after each tile.
    Legacy,
}

impl KernelGeneration {
    /// The generation's name, as `downhill bench --kernels` takes it.
    pub fn name(self) -> &'static str {
        match self {
            KernelGeneration::Current => "current",
            KernelGeneration::Legacy => "legacy",
        }
    }
}

impl std::str::FromStr for KernelGeneration {
    type Err = crate::error::Error;

    fn from_str(text: &str) -> crate::error::Result<Self> {
        match text {
            "current" => Ok(KernelGeneration::Current),
            "legacy" => Ok(KernelGeneration::Legacy),
            _ => Err(crate::error::Error::UnknownName {
                what: "kernel generation",
                name: text.to_string(),
                expected: "current or legacy",
            }),
        }
    }
}

/// The adapter a context runs on, as wgpu describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterSummary {
    /// The adapter's name, e.g. "NVIDIA H100 80GB HBM3" or "llvmpipe (LLVM 15.0.6, 256 bits)".
    pub name: String,
    /// The graphics API: Vulkan, Metal, Dx12, Gl.
    pub backend: String,
    /// Discrete, integrated, virtual, CPU (a software adapter) or other.
    pub device_type: String,
    /// The driver's name and version, where the backend reports them.
    pub driver: String,
    /// The largest storage binding the adapter allows, in bytes.
    pub max_binding_bytes: u64,
    /// The device's own memory (its largest device-local heap) in bytes,
    /// where the backend reports it: what the default GPU memory budget is
    /// a share of.
    pub memory_bytes: Option<u64>,
    /// The smallest and largest subgroup sizes the adapter reports.
    pub subgroup_sizes: (u32, u32),
    /// Whether the gradient pass adds the lanes of a row with subgroup
    /// shuffles (where the adapter has subgroups of at least 8 invocations)
    /// rather than through workgroup memory.
    pub uses_subgroups: bool,
}

impl AdapterSummary {
    /// Whether the adapter runs on the CPU (Mesa's lavapipe or llvmpipe,
    /// WARP, SwiftShader): right for checking results, not for speed.
    pub fn is_software(&self) -> bool {
        self.device_type == "Cpu"
    }
}

impl std::fmt::Display for AdapterSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}, {}", self.name, self.backend, self.device_type)?;
        if !self.driver.is_empty() {
            write!(f, ", {}", self.driver)?;
        }
        write!(f, ")")
    }
}
