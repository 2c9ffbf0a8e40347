//! Helpers shared by the test files: GPU contexts, comparisons, and the
//! logistic table of tests/data/make_logistic.py.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use downhill::{GpuContext, GpuOptions};

/// The repository's root: this package's folder, or the one above it for
/// the command-line program's package (cli/), whose tests share these
/// helpers and the data under tests/.
pub fn repository() -> std::path::PathBuf {
    let package = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    match package.join("tests/data").is_dir() {
        true => package.to_path_buf(),
        false => package.join(".."),
    }
}

/// Whether a missing adapter must fail the test run (CI sets it).
fn gpu_required() -> bool {
    std::env::var("DOWNHILL_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

fn context_or_skip(context: &downhill::Result<Arc<GpuContext>>, what: &str) -> Option<Arc<GpuContext>> {
    match context {
        Ok(context) => Some(Arc::clone(context)),
        Err(error) if gpu_required() => {
            panic!("DOWNHILL_REQUIRE_GPU=1 but no GPU context for {what}: {error}")
        }
        Err(error) => {
            eprintln!("skipping {what}: {error}");
            None
        }
    }
}

/// The shared GPU context, or `None` (the test then skips, saying why)
/// where no adapter exists; a failure instead when `DOWNHILL_REQUIRE_GPU=1`.
pub fn gpu(what: &str) -> Option<Arc<GpuContext>> {
    static CONTEXT: OnceLock<downhill::Result<Arc<GpuContext>>> = OnceLock::new();
    context_or_skip(CONTEXT.get_or_init(GpuContext::shared), what)
}

/// A context whose buffers of X hold at most 64 rows' worth of a few
/// features, so that small data is split across many buffers; its gradient
/// pass uses workgroup memory only, so that where the shared context takes
/// the subgroup path, this one covers the other.
pub fn gpu_split(what: &str) -> Option<Arc<GpuContext>> {
    static CONTEXT: OnceLock<downhill::Result<Arc<GpuContext>>> = OnceLock::new();
    let context = CONTEXT.get_or_init(|| {
        GpuContext::with_options(GpuOptions {
            x_chunk_bytes: Some(64 * 4 * 4),
            workgroup_memory_only: true,
            ..GpuOptions::default()
        })
    });
    context_or_skip(context, what)
}

/// A context on the adapter's largest bindings whose gradient pass uses
/// workgroup memory only, even where the adapter has subgroups.
pub fn gpu_workgroup_memory(what: &str) -> Option<Arc<GpuContext>> {
    static CONTEXT: OnceLock<downhill::Result<Arc<GpuContext>>> = OnceLock::new();
    let context = CONTEXT.get_or_init(|| {
        GpuContext::with_options(GpuOptions {
            workgroup_memory_only: true,
            ..GpuOptions::default()
        })
    });
    context_or_skip(context, what)
}

/// A context built with `options`, new on each call (tests that need an
/// unusual layout of X make their own).
pub fn gpu_with(what: &str, options: GpuOptions) -> Option<Arc<GpuContext>> {
    context_or_skip(&GpuContext::with_options(options), what)
}

/// A context running the legacy kernel generation
/// ([`downhill::KernelGeneration::Legacy`]), kept selectable until a GPU
/// has measured both.
pub fn gpu_legacy(what: &str) -> Option<Arc<GpuContext>> {
    static CONTEXT: OnceLock<downhill::Result<Arc<GpuContext>>> = OnceLock::new();
    let context = CONTEXT.get_or_init(|| {
        GpuContext::with_options(GpuOptions {
            kernels: downhill::KernelGeneration::Legacy,
            ..GpuOptions::default()
        })
    });
    context_or_skip(context, what)
}

/// [`gpu_split`] on the legacy kernel generation.
pub fn gpu_split_legacy(what: &str) -> Option<Arc<GpuContext>> {
    static CONTEXT: OnceLock<downhill::Result<Arc<GpuContext>>> = OnceLock::new();
    let context = CONTEXT.get_or_init(|| {
        GpuContext::with_options(GpuOptions {
            x_chunk_bytes: Some(64 * 4 * 4),
            workgroup_memory_only: true,
            kernels: downhill::KernelGeneration::Legacy,
        })
    });
    context_or_skip(context, what)
}

/// |actual − expected| ≤ relative·|expected| + absolute, element by element.
pub fn assert_close(what: &str, actual: &[f64], expected: &[f64], relative: f64, absolute: f64) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths differ");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let bound = relative * e.abs() + absolute;
        assert!(
            (a - e).abs() <= bound,
            "{what}[{i}]: {a} vs expected {e} (difference {}, bound {bound})",
            (a - e).abs()
        );
    }
}

/// tests/data/logistic.csv: its five features, labels and sample weights.
pub fn logistic_table() -> (ndarray::Array2<f32>, ndarray::Array1<f32>, ndarray::Array1<f32>) {
    let path = repository().join("tests/data/logistic.csv");
    let features = ["x0", "x1", "x2", "x3", "x4"];
    let data = downhill::data::read_csv(&path, Some("y"), Some(&features)).unwrap();
    let weights = downhill::data::read_csv(&path, None, Some(&["weight"]))
        .unwrap()
        .x
        .column(0)
        .to_owned();
    (data.x, data.y.expect("the target column"), weights)
}

/// tests/data/logistic_expected.csv: rows of (C, weighted, alpha,
/// intercept, weights…), scikit-learn's optima.
pub fn logistic_expected() -> ndarray::Array2<f32> {
    let path = repository().join("tests/data/logistic_expected.csv");
    downhill::data::read_csv(path, None, None).unwrap().x
}

/// A fit's bias, then its weights.
pub fn parameters(fitted: &downhill::Fitted) -> Vec<f64> {
    std::iter::once(fitted.bias())
        .chain(fitted.weights().iter().copied())
        .map(f64::from)
        .collect()
}

/// A fit's coefficients (every class's, for a multinomial model), then
/// its intercepts.
pub fn coefficients_and_intercepts(fitted: &downhill::Fitted) -> Vec<f64> {
    fitted
        .coefficients()
        .iter()
        .chain(fitted.intercepts())
        .map(|&v| f64::from(v))
        .collect()
}

/// Every parameter within `relative` of the largest expected one.
pub fn assert_near(found: &[f64], expected: &[f64], relative: f64, what: &str) {
    let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (j, (a, e)) in found.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= relative * scale,
            "{what}: parameter {j}: {a} vs {e} (off by {:.2e} of {scale})\n{found:?}\n{expected:?}",
            (a - e).abs() / scale
        );
    }
}
