// Shared by the criterion benchmarks (included with `mod support;`).
#![allow(dead_code)]

use std::sync::Arc;

use downhill::{GpuContext, Model, Synthetic};

pub const SEED: u64 = 7;
pub const NOISE: f32 = 0.1;

/// Rows are multiplied by `DOWNHILL_BENCH_SCALE` (default 1): 10 or 100 for
/// a real GPU, where the default sizes are too small to keep it busy.
pub fn scale() -> usize {
    std::env::var("DOWNHILL_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&s| s >= 1)
        .unwrap_or(1)
}

pub fn synthetic(rows: usize, features: usize) -> Synthetic {
    Synthetic::generate(Model::Linear, rows, features, NOISE, SEED).expect("valid sizes")
}

/// The GPU to benchmark, or `None` with a printed line saying why not:
/// no adapter, or a software one (which runs the shaders on the CPU and
/// would only time the CPU again, slowly) unless
/// `DOWNHILL_BENCH_SOFTWARE_GPU=1`.
pub fn gpu() -> Option<Arc<GpuContext>> {
    match GpuContext::shared() {
        Err(error) => {
            println!("skipping the GPU benchmarks: {error}");
            None
        }
        Ok(context)
            if context.adapter().is_software()
                && std::env::var("DOWNHILL_BENCH_SOFTWARE_GPU").as_deref() != Ok("1") =>
        {
            println!(
                "skipping the GPU benchmarks: {} is a software adapter (DOWNHILL_BENCH_SOFTWARE_GPU=1 runs them anyway)",
                context.adapter()
            );
            None
        }
        Ok(context) => {
            println!("GPU benchmarks on {}", context.adapter());
            Some(context)
        }
    }
}
