//! The structural figures the engines count as they run (dispatches,
//! submissions, readbacks, bytes of X read), checked against what each
//! path is designed to do: figures a benchmark prints beside its times,
//! and that, unlike times, hold on any adapter.

mod common;

use downhill::{Device, GradientDescent, Model, Optimizer, Synthetic, Variant, WorkCounts};

const ROWS: usize = 3_000;
const FEATURES: usize = 12;

fn fit_counts(
    device: Device,
    variant: Variant,
    epochs: usize,
    context: Option<&std::sync::Arc<downhill::GpuContext>>,
) -> WorkCounts {
    fit(device, variant, epochs, context).work()
}

fn fit(
    device: Device,
    variant: Variant,
    epochs: usize,
    context: Option<&std::sync::Arc<downhill::GpuContext>>,
) -> downhill::Fitted {
    let data = Synthetic::generate(Model::Linear, ROWS, FEATURES, 0.1, 3).expect("valid sizes");
    let mut descent = GradientDescent::new(Model::Linear)
        .variant(variant)
        .optimizer(Optimizer::sgd(0.01))
        .max_epochs(epochs)
        .device(device);
    if let Some(context) = context {
        descent = descent.gpu_context(context.clone());
    }
    let fitted = descent.fit(data.x.view(), data.y.view()).expect("a fit");
    assert_eq!(fitted.history().len(), epochs, "every epoch ran");
    fitted
}

const X_BYTES: f64 = (ROWS * FEATURES * 4) as f64;

/// A context whose buffers of X hold half the rows, as 10,000,000 × 64
/// float32 (2.56 GB) is split on every adapter (a binding holds at most
/// 2 GiB), running the kernels of `kernels`.
fn split_in_two(
    what: &str,
    kernels: downhill::KernelGeneration,
) -> Option<std::sync::Arc<downhill::GpuContext>> {
    common::gpu_with(
        what,
        downhill::GpuOptions {
            x_chunk_bytes: Some((ROWS * FEATURES * 4 / 2 + 64) as u64),
            kernels,
            ..downhill::GpuOptions::default()
        },
    )
}

/// The same steps in float32 on both engines: parity as tests/gpu_parity.rs
/// holds it (1e-4 relative, 1e-5 absolute).
fn assert_matches_cpu(what: &str, on_gpu: &[f64], on_cpu: &[f64]) {
    common::assert_close(what, on_gpu, on_cpu, 1e-4, 1e-5);
}

#[test]
fn the_cpu_reads_each_row_once_an_epoch() {
    for variant in [Variant::Full, Variant::MiniBatch(64), Variant::Stochastic] {
        let work = fit_counts(Device::Cpu, variant, 3, None);
        assert_eq!(work.epochs, 3, "{variant:?}");
        assert_eq!(work.x_bytes_per_epoch(), X_BYTES, "{variant:?}");
        assert_eq!(
            (work.dispatches, work.submissions, work.readbacks),
            (0, 0, 0),
            "{variant:?}"
        );
    }
}

#[test]
fn the_gpu_full_batch_reads_x_once_in_one_submission_and_one_readback() {
    for (context, what) in [
        (common::gpu("work counts, full batch"), "one buffer"),
        (common::gpu_split("work counts, full batch on split X"), "split X"),
    ] {
        let Some(context) = context else { continue };
        let work = fit_counts(Device::Gpu, Variant::Full, 4, Some(&context));
        assert_eq!(work.steps, 4, "{what}");
        assert_eq!(
            work.x_bytes_per_epoch(),
            X_BYTES,
            "{what}: each byte of X once an epoch"
        );
        assert_eq!(
            work.submissions_per_epoch(),
            1.0,
            "{what}: one submission an epoch"
        );
        assert_eq!(work.readbacks_per_epoch(), 1.0, "{what}: one readback an epoch");
        assert!(
            work.dispatches_per_step() >= 2.0,
            "{what}: a gradient and an update at least"
        );
    }
}

#[test]
fn small_batches_on_one_buffer_take_many_steps_per_dispatch() {
    let Some(context) = common::gpu("work counts, small batches") else {
        return;
    };
    let work = fit_counts(Device::Gpu, Variant::MiniBatch(32), 2, Some(&context));
    let steps_per_epoch = ROWS.div_ceil(32) as u64;
    assert_eq!(work.steps, 2 * steps_per_epoch);
    assert_eq!(work.x_bytes_per_epoch(), X_BYTES);
    assert!(
        work.dispatches_per_step() < 0.5,
        "{} dispatches for {} steps",
        work.dispatches,
        work.steps
    );
    assert_eq!(work.readbacks_per_epoch(), 1.0);
    // The epoch's permutation and the loop's control values, nothing more.
    let order_bytes = (ROWS * 4) as f64;
    assert!(
        work.uploaded_bytes as f64 / 2.0 < order_bytes + 1024.0,
        "{} bytes uploaded",
        work.uploaded_bytes
    );
}

/// X split in two buffers, as 10,000,000 × 64 float32 (2.56 GB) is on
/// every adapter (a binding holds at most 2 GiB): batches of 32 still take
/// the fast path, many steps to a dispatch after one gather of their rows,
/// not the gathered path's five dispatches a step; and the fits match the
/// CPU engine's.
#[test]
fn small_batches_on_x_split_in_two_take_the_fast_path() {
    let Some(context) = split_in_two(
        "small batches on X split in two",
        downhill::KernelGeneration::Current,
    ) else {
        return;
    };
    let fitted = fit(Device::Gpu, Variant::MiniBatch(32), 2, Some(&context));
    let on_cpu = fit(Device::Cpu, Variant::MiniBatch(32), 2, None);
    assert_matches_cpu(
        "split X, batch 32",
        &common::parameters(&fitted),
        &common::parameters(&on_cpu),
    );
    let gpu = fitted.work();
    let steps_per_epoch = ROWS.div_ceil(32) as u64;
    assert_eq!(gpu.steps, 2 * steps_per_epoch);
    assert!(
        gpu.dispatches_per_step() < 0.25,
        "{} dispatches for {} steps",
        gpu.dispatches,
        gpu.steps
    );
    // Each row read twice: gathered into the window, then by its step.
    assert_eq!(gpu.x_bytes_per_epoch(), 2.0 * X_BYTES);
    assert_eq!(gpu.readbacks_per_epoch(), 1.0);
}

/// Batches past the fused kernel's size (here 500 rows) on X split in two:
/// the rows of many steps gathered once into a window, then per step the
/// gradient pass and one dispatch that reduces and updates, about two
/// dispatches a step where the legacy path takes five (a gather per buffer,
/// the gradient, the reduction, the update); and the fit matches the CPU's.
#[test]
fn larger_batches_on_x_split_in_two_take_two_dispatches_a_step() {
    let (Some(current), Some(legacy)) = (
        split_in_two(
            "larger batches on X split in two",
            downhill::KernelGeneration::Current,
        ),
        split_in_two(
            "larger batches on X split in two, legacy",
            downhill::KernelGeneration::Legacy,
        ),
    ) else {
        return;
    };
    let fitted = fit(Device::Gpu, Variant::MiniBatch(500), 2, Some(&current));
    let on_cpu = fit(Device::Cpu, Variant::MiniBatch(500), 2, None);
    assert_matches_cpu(
        "split X, batch 500",
        &common::parameters(&fitted),
        &common::parameters(&on_cpu),
    );
    let steps_per_epoch = ROWS.div_ceil(500) as f64;
    let work = fitted.work();
    // Per epoch: one gather per buffer of X, then two dispatches a step.
    assert_eq!(
        work.dispatches_per_step(),
        (2.0 * steps_per_epoch + 2.0) / steps_per_epoch
    );
    let old = fit_counts(Device::Gpu, Variant::MiniBatch(500), 2, Some(&legacy));
    assert_eq!(old.dispatches_per_step(), 5.0);
}

/// Three classes in batches of 64 on X split in two: the gathered windows
/// and the one-dispatch reduction and update serve many margins too, about
/// two dispatches a step (the legacy path: five), and the fit matches the
/// CPU's.
#[test]
fn many_classes_on_x_split_in_two_take_two_dispatches_a_step() {
    let Some(context) = split_in_two(
        "three classes on X split in two",
        downhill::KernelGeneration::Current,
    ) else {
        return;
    };
    let data = Synthetic::generate(Model::Linear, ROWS, FEATURES, 0.1, 3).expect("valid sizes");
    // Three classes by the sign and size of the first feature.
    let labels = data.x.column(0).mapv(|v| {
        if v < -0.4 {
            0.0
        } else if v < 0.4 {
            1.0
        } else {
            2.0
        }
    });
    let descent = GradientDescent::multinomial(3)
        .variant(Variant::MiniBatch(64))
        .optimizer(Optimizer::sgd(0.05))
        .max_epochs(2);
    let on_gpu = descent
        .clone()
        .device(Device::Gpu)
        .gpu_context(context)
        .fit(data.x.view(), labels.view())
        .expect("a GPU fit");
    let on_cpu = descent
        .device(Device::Cpu)
        .fit(data.x.view(), labels.view())
        .expect("a CPU fit");
    // Every class's weights and intercept.
    let all = |fitted: &downhill::Fitted| -> Vec<f64> {
        fitted
            .coefficients()
            .iter()
            .chain(fitted.intercepts().iter())
            .map(|&v| f64::from(v))
            .collect()
    };
    assert_matches_cpu("three classes, split X, batch 64", &all(&on_gpu), &all(&on_cpu));
    let steps_per_epoch = ROWS.div_ceil(64) as f64;
    let work = on_gpu.work();
    // Per epoch: one gather per buffer of X (one window holds the epoch),
    // then two dispatches a step.
    assert_eq!(
        work.dispatches_per_step(),
        (2.0 * steps_per_epoch + 2.0) / steps_per_epoch
    );
}
