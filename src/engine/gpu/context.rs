//! The GPU context: instance, adapter, device, queue and compiled pipelines,
//! built once and shared by every fit that runs on it.

use crate::engine::error::EngineError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::shared::{wgsl_header, LANES, WORKGROUP_SIZE};
use super::specialized::RowsShape;
use crate::engine::adapter::{AdapterSummary, GpuOptions, KernelGeneration};
use crate::error::{Error, Result};

/// The share of the device's memory the default GPU budget takes; the
/// rest is left to the parameters, the partial sums and the driver.
const DEVICE_MEMORY_SHARE: f64 = 0.8;

/// How long one wait for the device may last before the wait is an error.
pub(crate) const WAIT_LIMIT: Duration = Duration::from_secs(120);

/// One kernel of shaders/: its pipeline and the layout of its one bind
/// group.
pub(crate) struct Kernel {
    pub(crate) pipeline: wgpu::ComputePipeline,
    pub(crate) layout: wgpu::BindGroupLayout,
    /// The binding numbers the layout holds, in order (a kernel of a
    /// file whose other entry points bind more skips theirs).
    pub(crate) bindings: Vec<u32>,
}

/// The compute pipelines of the engine, one per kernel of shaders/.
pub(crate) struct Pipelines {
    pub(crate) partials: Kernel,
    /// The gradient pass for rows of many margins (the multinomial).
    pub(crate) partials_classes: Kernel,
    pub(crate) reduce: Kernel,
    pub(crate) update: Kernel,
    pub(crate) reduce_update: Kernel,
    pub(crate) gather: Kernel,
    pub(crate) steps: Kernel,
    /// Sparse rows: margins, losses and slopes from the CSR arrays.
    pub(crate) sparse_rows: Kernel,
    /// Sparse rows: each feature's sum from its column (CSC).
    pub(crate) sparse_columns: Kernel,
    /// Sparse mini-batches: each batch row's margins, loss and slopes.
    pub(crate) sparse_batch_rows: Kernel,
    /// Sparse mini-batches: the biases', loss's and weight's sums.
    pub(crate) sparse_batch_sums: Kernel,
    /// Sparse mini-batches: each touched feature's sum.
    pub(crate) sparse_batch_columns: Kernel,
    /// Sparse mini-batches: the touched features' sums back to 0.
    pub(crate) sparse_batch_clear: Kernel,
}

/// How a kernel binds one buffer.
#[derive(Debug, Clone, Copy)]
enum Access {
    Uniform,
    Read,
    ReadWrite,
    /// A binding of the file that this entry point does not use.
    Unused,
}
use Access::{Read, ReadWrite, Uniform, Unused};

/// The bindings of each kernel, numbered from 0 in this order; they mirror
/// the `@binding` declarations of its WGSL file, and pipeline creation
/// fails where the two disagree.
const PARTIALS: &[Access] = &[Uniform, Read, Read, Read, Read, ReadWrite];
const REDUCE: &[Access] = &[Uniform, Read, Read, ReadWrite, ReadWrite, ReadWrite];
const UPDATE: &[Access] = &[Uniform, Read, ReadWrite, ReadWrite, ReadWrite];
const GATHER: &[Access] = &[Uniform, Read, Read, Read, Read, ReadWrite, ReadWrite];
const STEPS: &[Access] = &[
    Uniform, Read, Read, Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite,
];
const REDUCE_UPDATE: &[Access] = &[Uniform, Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite];
const SPARSE_ROWS: &[Access] = &[Uniform, Read, Read, Read, Read, Read, ReadWrite, ReadWrite];
const SPARSE_COLUMNS: &[Access] = &[Uniform, Read, Read, Read, Read, ReadWrite];
const SPARSE_BATCH_ROWS: &[Access] = &[
    Uniform, Read, Read, Read, Read, Read, ReadWrite, Unused, Read, Read,
];
const SPARSE_BATCH_SUMS: &[Access] = &[Uniform, Read, Read, ReadWrite, ReadWrite, ReadWrite];
const SPARSE_BATCH_COLUMNS: &[Access] = &[
    Uniform, Read, Unused, ReadWrite, ReadWrite, Unused, Read, Read, Read,
];

/// The binding numbers `bindings` declares, in order.
fn binding_numbers(bindings: &[Access]) -> Vec<u32> {
    (0u32..)
        .zip(bindings)
        .filter(|(_, access)| !matches!(access, Unused))
        .map(|(binding, _)| binding)
        .collect()
}

fn bind_group_layout(device: &wgpu::Device, name: &str, bindings: &[Access]) -> wgpu::BindGroupLayout {
    let entries: Vec<wgpu::BindGroupLayoutEntry> = binding_numbers(bindings)
        .into_iter()
        .map(|binding| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: match bindings[binding as usize] {
                    Uniform => wgpu::BufferBindingType::Uniform,
                    Read | Unused => wgpu::BufferBindingType::Storage { read_only: true },
                    ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
                },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        })
        .collect();
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(name),
        entries: &entries,
    })
}

/// A GPU ready to run fits: build one with [`GpuContext::new`] to choose it
/// yourself, or let [`crate::Device::Gpu`] use the shared one.
///
/// The adapter is chosen high-performance first; the `WGPU_BACKEND`
/// environment variable limits the backends tried (e.g. `vulkan`, `gl`)
/// and `WGPU_ADAPTER_NAME` picks the adapter whose name contains it.
///
/// ```no_run
/// use downhill::{GpuContext, GradientDescent};
/// let context = GpuContext::new()?;
/// println!("running on {}", context.adapter());
/// let descent = GradientDescent::linear().gpu_context(context);
/// # Ok::<(), downhill::Error>(())
/// ```
pub struct GpuContext {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub(crate) pipelines: Pipelines,
    pub(crate) limits: wgpu::Limits,
    pub(crate) x_chunk_bytes: u64,
    /// Which kernels the fits on this context run.
    pub(crate) generation: KernelGeneration,
    /// The pipelines of gradient_rows.wgsl built so far, one per shape.
    pub(crate) specialized: Mutex<HashMap<RowsShape, Arc<Kernel>>>,
    summary: AdapterSummary,
    lost: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuContext")
            .field("adapter", &self.summary)
            .field("x_chunk_bytes", &self.x_chunk_bytes)
            .finish_non_exhaustive()
    }
}

impl GpuContext {
    /// Builds a context on the best adapter with default options.
    pub fn new() -> Result<Arc<GpuContext>> {
        Self::with_options(GpuOptions::default())
    }

    /// Builds a context with `options`.
    pub fn with_options(options: GpuOptions) -> Result<Arc<GpuContext>> {
        pollster::block_on(Self::build(options)).map(Arc::new)
    }

    /// The context every `Device::Gpu` fit shares, built on first use; the
    /// same error on every call where none can be built.
    pub fn shared() -> Result<Arc<GpuContext>> {
        static SHARED: OnceLock<Result<Arc<GpuContext>>> = OnceLock::new();
        SHARED.get_or_init(GpuContext::new).clone()
    }

    /// The adapter this context runs on.
    pub fn adapter(&self) -> &AdapterSummary {
        &self.summary
    }

    /// The default GPU memory budget: bytes of rows a fit keeps on the
    /// device before it streams them through it every epoch. Four fifths of
    /// the device's memory where the backend reports it
    /// ([`AdapterSummary::memory_bytes`]), else the host's default budget
    /// ([`crate::memory::default_budget`]).
    pub fn memory_budget(&self) -> u64 {
        self.summary
            .memory_bytes
            .map_or_else(crate::memory::default_budget, |bytes| {
                (bytes as f64 * DEVICE_MEMORY_SHARE) as u64
            })
    }

    async fn build(options: GpuOptions) -> Result<GpuContext> {
        check_backend_variable()?;
        let descriptor = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        let backends = descriptor.backends;
        let instance = wgpu::Instance::new(descriptor);
        let adapter = choose_adapter(&instance, backends).await?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let uses_subgroups = !options.workgroup_memory_only
            && adapter.features().contains(wgpu::Features::SUBGROUP)
            && info.subgroup_min_size >= LANES;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("downhill"),
                required_limits: limits.clone(),
                required_features: if uses_subgroups {
                    wgpu::Features::SUBGROUP
                } else {
                    wgpu::Features::empty()
                },
                ..Default::default()
            })
            .await
            .map_err(|e| {
                Error::Engine(EngineError::GpuUnavailable {
                    reason: format!("adapter {} refused a device: {e}", info.name),
                })
            })?;
        // Where the adapter forms partial subgroups (drivers before Vulkan
        // 1.3 may), the kernels take workgroup memory instead.
        let uses_subgroups = uses_subgroups && subgroups_fill_workgroups(&device, &queue)?;
        let lost = Arc::new(Mutex::new(None));
        let lost_record = Arc::clone(&lost);
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut record) = lost_record.lock() {
                *record = Some(format!("{reason:?}: {message}"));
            }
        });
        let max_binding = limits.max_storage_buffer_binding_size.min(limits.max_buffer_size);
        let x_chunk_bytes = options
            .x_chunk_bytes
            .map_or(max_binding, |bytes| bytes.clamp(4, max_binding));
        let summary = AdapterSummary {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: [info.driver.as_str(), info.driver_info.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" "),
            max_binding_bytes: max_binding,
            memory_bytes: device_memory(&adapter),
            subgroup_sizes: (info.subgroup_min_size, info.subgroup_max_size),
            uses_subgroups,
        };
        let pipelines = compile(&device, uses_subgroups)?;
        Ok(GpuContext {
            device,
            queue,
            pipelines,
            limits,
            x_chunk_bytes,
            generation: options.kernels,
            specialized: Mutex::new(HashMap::new()),
            summary,
            lost,
        })
    }

    /// Waits for the submitted work, at most [`WAIT_LIMIT`]; a timeout or a
    /// lost device is an error.
    pub(crate) fn wait(&self) -> Result<()> {
        self.wait_for(None)
    }

    /// Waits for `submission` (every submission where `None`), at most
    /// [`WAIT_LIMIT`]; a timeout or a lost device is an error.
    pub(crate) fn wait_for(&self, submission: Option<wgpu::SubmissionIndex>) -> Result<()> {
        let outcome = self.device.poll(wgpu::PollType::Wait {
            submission_index: submission,
            timeout: Some(WAIT_LIMIT),
        });
        self.check_lost()?;
        outcome.map(|_| ()).map_err(|e| {
            Error::Engine(EngineError::GpuFailure {
                reason: format!("waiting for the device: {e}"),
            })
        })
    }

    pub(crate) fn check_lost(&self) -> Result<()> {
        match self.lost.lock().ok().and_then(|record| record.clone()) {
            Some(reason) => Err(Error::Engine(EngineError::GpuFailure {
                reason: format!("the device was lost ({reason})"),
            })),
            None => Ok(()),
        }
    }

    /// Runs `work` under the device's error scopes and turns what they
    /// catch, or a lost device, into [`crate::EngineError::GpuFailure`].
    pub(crate) fn checked<T>(&self, what: &str, work: impl FnOnce() -> T) -> Result<T> {
        let value = catch_errors(&self.device, what, work);
        self.check_lost()?;
        value
    }
}

/// Runs `work` under validation, out-of-memory and internal error scopes
/// and turns what they catch into [`crate::EngineError::GpuFailure`].
fn catch_errors<T>(device: &wgpu::Device, what: &str, work: impl FnOnce() -> T) -> Result<T> {
    let internal = device.push_error_scope(wgpu::ErrorFilter::Internal);
    let memory = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let value = work();
    let validation = pollster::block_on(validation.pop());
    let memory = pollster::block_on(memory.pop());
    let internal = pollster::block_on(internal.pop());
    match validation.or(memory).or(internal) {
        Some(error) => Err(Error::Engine(EngineError::GpuFailure {
            reason: format!("{what}: {error}"),
        })),
        None => Ok(value),
    }
}

/// The size of the adapter's largest device-local memory heap, where the
/// backend reports it (Vulkan; wgpu itself does not say how much memory a
/// device has).
#[cfg(any(target_os = "linux", windows))]
fn device_memory(adapter: &wgpu::Adapter) -> Option<u64> {
    // VK_MEMORY_HEAP_DEVICE_LOCAL_BIT in the Vulkan specification.
    const DEVICE_LOCAL: u32 = 0x1;
    // SAFETY: the Vulkan adapter and instance outlive this call, and
    // reading the memory properties of a physical device changes nothing.
    unsafe {
        let adapter = adapter.as_hal::<wgpu::hal::api::Vulkan>()?;
        let properties = adapter
            .shared_instance()
            .raw_instance()
            .get_physical_device_memory_properties(adapter.raw_physical_device());
        properties.memory_heaps[..properties.memory_heap_count as usize]
            .iter()
            .filter(|heap| heap.flags.as_raw() & DEVICE_LOCAL != 0)
            .map(|heap| heap.size)
            .max()
    }
}

#[cfg(not(any(target_os = "linux", windows)))]
fn device_memory(_adapter: &wgpu::Adapter) -> Option<u64> {
    None
}

/// The names `WGPU_BACKEND` may list (wgpu ignores others with a log line,
/// which would leave a misspelt backend unnoticed).
const BACKEND_NAMES: &[&str] = &[
    "vulkan", "vk", "dx12", "d3d12", "metal", "mtl", "opengl", "gles", "gl", "webgpu", "noop",
];

/// An unknown name in `WGPU_BACKEND` is an error naming the valid ones.
fn check_backend_variable() -> Result<()> {
    let Ok(value) = std::env::var("WGPU_BACKEND") else {
        return Ok(());
    };
    for name in value.to_lowercase().split(',').map(str::trim) {
        if !BACKEND_NAMES.contains(&name) {
            return Err(Error::Engine(EngineError::GpuUnavailable {
                reason: format!(
                    "WGPU_BACKEND={value:?} names {name:?}, which is not a backend; use vulkan, metal, dx12 or gl (comma-separated)"
                ),
            }));
        }
    }
    Ok(())
}

/// The adapter named by `WGPU_ADAPTER_NAME`, else the high-performance one.
async fn choose_adapter(instance: &wgpu::Instance, backends: wgpu::Backends) -> Result<wgpu::Adapter> {
    let wanted = std::env::var("WGPU_ADAPTER_NAME").ok().filter(|s| !s.is_empty());
    if let Some(wanted) = wanted {
        let adapters = instance.enumerate_adapters(backends).await;
        let names: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
        return adapters
            .into_iter()
            .find(|a| a.get_info().name.to_lowercase().contains(&wanted.to_lowercase()))
            .ok_or_else(|| Error::Engine(EngineError::GpuUnavailable {
                reason: format!(
                    "WGPU_ADAPTER_NAME={wanted:?} matches none of the adapters found on backends {backends:?}: [{}]",
                    names.join(", ")
                ),
            }));
    }
    instance
        .request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            compatible_surface: None,
            ..Default::default()
        })
        .await
        .map_err(|e| Error::Engine(EngineError::GpuUnavailable {
            reason: format!(
                "no adapter on backends {backends:?} ({e}); on Linux without a GPU, install Mesa's lavapipe (apt-get install mesa-vulkan-drivers libvulkan1)"
            ),
        }))
}

const COMMON: &str = include_str!("../../../shaders/common.wgsl");
const OBJECTIVE: &str = include_str!("../../../shaders/objective.wgsl");
const RULE: &str = include_str!("../../../shaders/rule.wgsl");
const GRADIENT: &str = include_str!("../../../shaders/gradient.wgsl");
/// The kernels of sparse rows and batches: put before them.
const WORKGROUP_SUM: &str = include_str!("../../../shaders/workgroup_sum.wgsl");

impl GpuContext {
    /// The gradient pass of gradient_rows.wgsl for `shape`, built on first
    /// use and kept (its workgroup memory is written before it is read, so
    /// not zeroed).
    pub(crate) fn rows_kernel(&self, shape: &RowsShape) -> Result<Arc<Kernel>> {
        let mut built = self
            .specialized
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(kernel) = built.get(shape) {
            return Ok(Arc::clone(kernel));
        }
        let kernel = build_kernel(
            &self.device,
            &shape.label(),
            &shape.source(),
            "partials_main",
            PARTIALS,
            false,
        )?;
        let kernel = Arc::new(kernel);
        built.insert(*shape, Arc::clone(&kernel));
        Ok(kernel)
    }
}

fn build_kernel(
    device: &wgpu::Device,
    name: &str,
    source: &str,
    entry: &str,
    bindings: &[Access],
    zero_workgroup_memory: bool,
) -> Result<Kernel> {
    catch_errors(device, &format!("compiling {name}"), || {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(name),
            source: wgpu::ShaderSource::Wgsl(
                format!("{}{COMMON}\n{OBJECTIVE}\n{RULE}\n{source}", wgsl_header()).into(),
            ),
        });
        let layout = bind_group_layout(device, name, bindings);
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(name),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(name),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some(entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                zero_initialize_workgroup_memory: zero_workgroup_memory,
                ..Default::default()
            },
            cache: None,
        });
        Kernel {
            pipeline,
            layout,
            bindings: binding_numbers(bindings),
        }
    })
}

fn compile(device: &wgpu::Device, subgroups: bool) -> Result<Pipelines> {
    let kernel = |name: &str, source: &str, entry: &str, bindings: &[Access]| -> Result<Kernel> {
        build_kernel(device, name, source, entry, bindings, true)
    };
    Ok(Pipelines {
        partials: if subgroups {
            // Naga takes the subgroup builtins when the device has the
            // SUBGROUP feature; it does not parse `enable subgroups;` yet.
            let source = format!(
                "{GRADIENT}\n{}",
                include_str!("../../../shaders/gradient_subgroup.wgsl")
            );
            kernel("gradient.wgsl (subgroups)", &source, "partials_main", PARTIALS)?
        } else {
            let source = format!(
                "{GRADIENT}\n{}",
                include_str!("../../../shaders/gradient_workgroup.wgsl")
            );
            kernel(
                "gradient.wgsl (workgroup memory)",
                &source,
                "partials_main",
                PARTIALS,
            )?
        },
        partials_classes: kernel(
            "gradient_classes.wgsl",
            include_str!("../../../shaders/gradient_classes.wgsl"),
            "partials_main",
            PARTIALS,
        )?,
        reduce: kernel(
            "reduce.wgsl",
            include_str!("../../../shaders/reduce.wgsl"),
            "reduce_main",
            REDUCE,
        )?,
        update: kernel(
            "update.wgsl",
            include_str!("../../../shaders/update.wgsl"),
            "update_main",
            UPDATE,
        )?,
        reduce_update: kernel(
            "reduce_update.wgsl",
            include_str!("../../../shaders/reduce_update.wgsl"),
            "reduce_update_main",
            REDUCE_UPDATE,
        )?,
        gather: kernel(
            "gather.wgsl",
            include_str!("../../../shaders/gather.wgsl"),
            "gather_main",
            GATHER,
        )?,
        steps: kernel(
            "steps.wgsl",
            include_str!("../../../shaders/steps.wgsl"),
            "steps_main",
            STEPS,
        )?,
        sparse_rows: kernel(
            "sparse_rows.wgsl",
            &format!(
                "{WORKGROUP_SUM}\n{}",
                include_str!("../../../shaders/sparse_rows.wgsl")
            ),
            "sparse_rows_main",
            SPARSE_ROWS,
        )?,
        sparse_columns: kernel(
            "sparse_columns.wgsl",
            include_str!("../../../shaders/sparse_columns.wgsl"),
            "sparse_columns_main",
            SPARSE_COLUMNS,
        )?,
        sparse_batch_rows: kernel(
            "sparse_rows.wgsl (mini-batches)",
            &format!(
                "{WORKGROUP_SUM}\n{}",
                include_str!("../../../shaders/sparse_rows.wgsl")
            ),
            "sparse_batch_rows_main",
            SPARSE_BATCH_ROWS,
        )?,
        sparse_batch_sums: kernel(
            "sparse_batch.wgsl (sums)",
            &format!(
                "{WORKGROUP_SUM}\n{}",
                include_str!("../../../shaders/sparse_batch.wgsl")
            ),
            "sparse_batch_sums_main",
            SPARSE_BATCH_SUMS,
        )?,
        sparse_batch_columns: kernel(
            "sparse_batch.wgsl (columns)",
            &format!(
                "{WORKGROUP_SUM}\n{}",
                include_str!("../../../shaders/sparse_batch.wgsl")
            ),
            "sparse_batch_columns_main",
            SPARSE_BATCH_COLUMNS,
        )?,
        sparse_batch_clear: kernel(
            "sparse_batch.wgsl (clear)",
            &format!(
                "{WORKGROUP_SUM}\n{}",
                include_str!("../../../shaders/sparse_batch.wgsl")
            ),
            "sparse_batch_clear_main",
            SPARSE_BATCH_COLUMNS,
        )?,
    })
}

/// Whether the adapter forms the subgroups of a workgroup of
/// `WORKGROUP_SIZE` invocations as the subgroup kernels assume: full
/// subgroups of one size, so that `subgroup_id · subgroup_size +
/// subgroup_invocation_id` numbers the workgroup's invocations once each.
/// Vulkan promises it from 1.3 on; an older driver may form partial
/// subgroups, where the kernels would add the wrong lanes. A dispatch at
/// context creation asks the adapter itself.
fn subgroups_fill_workgroups(device: &wgpu::Device, queue: &wgpu::Queue) -> Result<bool> {
    const SOURCE: &str = "
@group(0) @binding(0) var<storage, read_write> seen: array<u32>;
@compute @workgroup_size(256)
fn probe_main(
    @builtin(local_invocation_index) thread: u32,
    @builtin(subgroup_id) subgroup: u32,
    @builtin(subgroup_size) size: u32,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    seen[thread] = subgroup * size + lane;
    seen[256u + thread] = size;
}";
    let values = 2 * WORKGROUP_SIZE as u64;
    let seen = catch_errors(device, "probing the adapter's subgroups", || {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("subgroup probe"),
            source: wgpu::ShaderSource::Wgsl(SOURCE.into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("subgroup probe"),
            layout: None,
            module: &module,
            entry_point: Some("probe_main"),
            compilation_options: Default::default(),
            cache: None,
        });
        let seen = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("subgroup probe"),
            size: values * 4,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let readback = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("subgroup probe readback"),
            size: values * 4,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: seen.as_entire_binding(),
            }],
        });
        let mut encoder = device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(1, 1, 1);
        }
        encoder.copy_buffer_to_buffer(&seen, 0, &readback, 0, values * 4);
        queue.submit([encoder.finish()]);
        readback
    })?;
    let (sender, receiver) = std::sync::mpsc::channel();
    seen.map_async(wgpu::MapMode::Read, .., move |outcome| {
        let _ = sender.send(outcome);
    });
    device
        .poll(wgpu::PollType::Wait {
            submission_index: None,
            timeout: Some(WAIT_LIMIT),
        })
        .map_err(|e| {
            Error::Engine(EngineError::GpuUnavailable {
                reason: format!("probing the adapter's subgroups: {e}"),
            })
        })?;
    let mapped = receiver.recv_timeout(WAIT_LIMIT).map_err(|_| {
        Error::Engine(EngineError::GpuUnavailable {
            reason: "probing the adapter's subgroups: the readback never arrived".into(),
        })
    })?;
    mapped.map_err(|e| {
        Error::Engine(EngineError::GpuUnavailable {
            reason: format!("probing the adapter's subgroups: {e}"),
        })
    })?;
    let numbers: Vec<u32> = {
        let view = seen.get_mapped_range(..).map_err(|e| {
            Error::Engine(EngineError::GpuUnavailable {
                reason: format!("probing the adapter's subgroups: {e}"),
            })
        })?;
        bytemuck::pod_collect_to_vec(&view)
    };
    let (positions, sizes) = numbers.split_at(WORKGROUP_SIZE as usize);
    Ok(subgroups_number_each_invocation_once(positions, sizes))
}

/// Whether the positions the probe saw (`subgroup_id · subgroup_size +
/// subgroup_invocation_id` per invocation) number the workgroup's
/// invocations once each, in subgroups of one power-of-two size of at least
/// [`LANES`].
fn subgroups_number_each_invocation_once(positions: &[u32], sizes: &[u32]) -> bool {
    let mut sorted = positions.to_vec();
    sorted.sort_unstable();
    let numbered_once = sorted.iter().enumerate().all(|(i, &p)| p as usize == i);
    let one_size = sizes
        .iter()
        .all(|&s| s == sizes[0] && s >= LANES && s.is_power_of_two());
    numbered_once && one_size
}

#[cfg(test)]
mod tests {
    use super::subgroups_number_each_invocation_once;

    /// Full subgroups of 32 pass; a workgroup cut into subgroups of 32 and
    /// partial ones (a driver before Vulkan 1.3 may), whose positions
    /// repeat and run past the workgroup, does not; nor do mixed sizes.
    #[test]
    fn only_full_subgroups_of_one_size_pass_the_probe() {
        let full: Vec<u32> = (0..256).collect();
        assert!(subgroups_number_each_invocation_once(&full, &[32; 256]));
        // 24 invocations per subgroup of size 32: ids 0..10, lanes 0..24.
        let partial: Vec<u32> = (0..256u32).map(|i| (i / 24) * 32 + i % 24).collect();
        assert!(!subgroups_number_each_invocation_once(&partial, &[32; 256]));
        let mut mixed = [32u32; 256];
        mixed[255] = 16;
        assert!(!subgroups_number_each_invocation_once(&full, &mixed));
        assert!(!subgroups_number_each_invocation_once(&full, &[4; 256]));
    }
}
