//! One epoch of descent across batch sizes, CPU and GPU: a whole fit with
//! `max_epochs(1)` (the permutation, every step, every update) of the linear
//! model with plain SGD on 1,000,000 × 64 seeded synthetic rows (times
//! `DOWNHILL_BENCH_SCALE`), reported in samples per second.
//! `BenchmarkId`s are `cpu/32`, `gpu/full`, ...
//!
//! cargo bench --bench batch_sizes

mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use downhill::{Device, GradientDescent, Optimizer, Variant};

const FEATURES: usize = 64;
const BATCH_SIZES: [Option<usize>; 9] = [
    Some(1),
    Some(8),
    Some(32),
    Some(128),
    Some(512),
    Some(2048),
    Some(8192),
    Some(32768),
    None,
];

fn one_epoch(c: &mut Criterion) {
    let rows = 1_000_000 * support::scale();
    let data = support::synthetic(rows, FEATURES);
    let gpu = support::gpu();
    let mut group = c.benchmark_group("batch_sizes");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(rows as u64));
    let devices = [Some(Device::Cpu), gpu.as_ref().map(|_| Device::Gpu)];
    for device in devices.into_iter().flatten() {
        for batch in BATCH_SIZES {
            let variant = batch.map_or(Variant::Full, Variant::MiniBatch);
            let mut descent = GradientDescent::linear()
                .variant(variant)
                .optimizer(Optimizer::sgd(0.001))
                .max_epochs(1)
                .seed(support::SEED)
                .device(device);
            if let (Device::Gpu, Some(context)) = (device, &gpu) {
                descent = descent.gpu_context(context.clone());
            }
            let name = batch.map_or("full".to_string(), |b| b.to_string());
            group.bench_function(BenchmarkId::new(device.name(), name), |b| {
                b.iter(|| {
                    descent
                        .fit(black_box(data.x.view()), black_box(data.y.view()))
                        .expect("valid data")
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, one_epoch);
criterion_main!(benches);
