//! Criterion benchmarks of the CPU engine on seeded synthetic data.
//!
//! - `gradient/cpu/{n}x{d}`: one full-batch gradient and loss of the linear
//!   model, `downhill::gradient`, reported in bytes of X read per second.
//! - `epoch/cpu/...`: one epoch of descent on 1,000,000 × 64 (a whole fit with
//!   `max_epochs(1)`: batch plan, every step, the optimizer updates), at batch
//!   sizes 1, 32, 256 and the full batch, reported in rows per second.
//!
//! Each data set is generated once, the first time a benchmark that needs it
//! runs (so filters such as `cargo bench --bench gradient -- epoch` skip the
//! others' data), and dropped before the next size.
//!
//! cargo bench --bench gradient

use std::cell::OnceCell;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use downhill::{gradient, Device, GradientDescent, Model, Optimizer, Synthetic, Variant};
use ndarray::Array1;

const SEED: u64 = 7;
const NOISE: f32 = 0.1;

fn synthetic(rows: usize, features: usize) -> Synthetic {
    Synthetic::generate(Model::Linear, rows, features, NOISE, SEED).expect("valid sizes")
}

fn full_batch_gradient(c: &mut Criterion) {
    let mut group = c.benchmark_group("gradient");
    group.sample_size(10).measurement_time(Duration::from_secs(3));
    for rows in [10_000, 100_000, 1_000_000] {
        for features in [16, 64, 256] {
            let data = OnceCell::new();
            let weights = Array1::from_elem(features, 0.01f32);
            let bytes = rows * features * size_of::<f32>();
            group.throughput(Throughput::Bytes(bytes as u64));
            // Linear sampling would need 55 runs of the largest sizes.
            group.sampling_mode(if bytes >= 1 << 28 {
                SamplingMode::Flat
            } else {
                SamplingMode::Auto
            });
            group.bench_function(BenchmarkId::new("cpu", format!("{rows}x{features}")), |b| {
                let data = data.get_or_init(|| synthetic(rows, features));
                b.iter(|| {
                    gradient(
                        &Device::Cpu,
                        Model::Linear,
                        black_box(data.x.view()),
                        black_box(data.y.view()),
                        weights.view(),
                        0.0,
                    )
                    .expect("valid data")
                })
            });
        }
    }
    group.finish();
}

fn one_epoch(c: &mut Criterion) {
    const ROWS: usize = 1_000_000;
    const FEATURES: usize = 64;
    let mut group = c.benchmark_group("epoch");
    group.sample_size(10).measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(ROWS as u64));
    group.sampling_mode(SamplingMode::Flat);
    let data = OnceCell::new();
    let variants = [
        ("batch_1", Variant::Stochastic),
        ("batch_32", Variant::MiniBatch(32)),
        ("batch_256", Variant::MiniBatch(256)),
        ("full", Variant::Full),
    ];
    for (name, variant) in variants {
        let descent = GradientDescent::linear()
            .variant(variant)
            .optimizer(Optimizer::sgd(0.001))
            .max_epochs(1)
            .seed(SEED)
            .device(Device::Cpu);
        group.bench_function(BenchmarkId::new("cpu", name), |b| {
            let data: &Synthetic = data.get_or_init(|| synthetic(ROWS, FEATURES));
            b.iter(|| {
                descent
                    .fit(black_box(data.x.view()), black_box(data.y.view()))
                    .expect("valid data")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, full_batch_gradient, one_epoch);
criterion_main!(benches);
