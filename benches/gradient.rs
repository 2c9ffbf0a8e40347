//! One full-batch gradient and loss of the linear model
//! (`downhill::gradient` on the CPU, `GpuContext::gradient` on the GPU) over
//! n ∈ {10⁴, 10⁵, 10⁶} (times `DOWNHILL_BENCH_SCALE`) × d ∈ {16, 64, 256}
//! rows of seeded synthetic data, reported in bytes of X per second.
//! `BenchmarkId`s are `cpu/{n}x{d}` and `gpu/{n}x{d}`. The GPU figures
//! include the upload of X, which the gradient call makes each time; the
//! descent itself uploads once per fit (see `batch_sizes`).
//!
//! Each data set is generated once, the first time a benchmark that needs it
//! runs, and dropped before the next size.
//!
//! cargo bench --bench gradient

mod support;

use std::cell::OnceCell;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use downhill::{gradient, Device, Model};
use ndarray::Array1;

fn full_batch_gradient(c: &mut Criterion) {
    let gpu = support::gpu();
    let mut group = c.benchmark_group("gradient");
    group.sample_size(10).measurement_time(Duration::from_secs(3));
    for rows in [10_000, 100_000, 1_000_000].map(|n| n * support::scale()) {
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
            let id = format!("{rows}x{features}");
            group.bench_function(BenchmarkId::new("cpu", &id), |b| {
                let data = data.get_or_init(|| support::synthetic(rows, features));
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
            if let Some(context) = &gpu {
                let data = data.get_or_init(|| support::synthetic(rows, features));
                // Uploaded once: the benchmark times the gradient pass, the
                // reduction and the 4·(d + 2)-byte readback.
                let resident = context
                    .upload(Model::Linear, data.x.view(), data.y.view())
                    .expect("the data fit the device");
                group.bench_function(BenchmarkId::new("gpu", &id), |b| {
                    b.iter(|| resident.gradient(weights.view(), 0.0).expect("valid parameters"))
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, full_batch_gradient);
criterion_main!(benches);
