//! Times the CPU engine on seeded synthetic data and prints JSON; the peer
//! script `benches/peers/cpu_peers.py` runs it and times NumPy and
//! scikit-learn on the same data (which this program writes as raw f32).
//!
//! cargo run --release --example cpu_throughput -- ROWS FEATURES REPEATS [DATA_DIR]

use std::time::Instant;

use downhill::{gradient, Device, GradientDescent, Model, Optimizer, Synthetic, Variant};

fn median_seconds(repeats: usize, mut run: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..repeats)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: usize| args.get(i).map_or(Ok(default), |a| a.parse());
    let (rows, features, repeats) = (number(0, 1_000_000)?, number(1, 64)?, number(2, 5)?);
    let data = Synthetic::generate(Model::Linear, rows, features, 0.1, 7)?;
    if let Some(dir) = args.get(3) {
        std::fs::create_dir_all(dir)?;
        let bytes = |v: &[f32]| v.iter().flat_map(|f| f.to_le_bytes()).collect::<Vec<u8>>();
        std::fs::write(
            format!("{dir}/x.f32"),
            bytes(data.x.as_slice().expect("generated contiguous")),
        )?;
        std::fs::write(
            format!("{dir}/y.f32"),
            bytes(data.y.as_slice().expect("generated contiguous")),
        )?;
    }
    let (x, y) = (data.x.view(), data.y.view());
    let w = ndarray::Array1::<f32>::from_elem(features, 0.01);

    let mut results = vec![];
    {
        use rayon::prelude::*;
        let xs = data.x.as_slice().unwrap();
        let t = median_seconds(repeats, || {
            let s: f32 = xs
                .par_chunks(1 << 16)
                .map(|c| c.iter().fold(0.0f32, |a, &b| a.max(b)))
                .reduce(|| 0.0, f32::max);
            std::hint::black_box(s);
        });
        results.push(("read_bandwidth_gbs".to_string(), (xs.len() * 4) as f64 / t / 1e9));
        let t = median_seconds(repeats, || {
            let s: f32 = xs
                .chunks(1 << 16)
                .map(|c| c.iter().fold(0.0f32, |a, &b| a.max(b)))
                .fold(0.0, f32::max);
            std::hint::black_box(s);
        });
        results.push((
            "read_bandwidth_one_thread_gbs".to_string(),
            (xs.len() * 4) as f64 / t / 1e9,
        ));
    }
    let full = median_seconds(repeats, || {
        std::hint::black_box(gradient(&Device::Cpu, Model::Linear, x, y, w.view(), 0.0).unwrap());
    });
    results.push(("full_gradient".to_string(), full));
    for batch in [1usize, 32, 256] {
        let descent = GradientDescent::linear()
            .variant(Variant::MiniBatch(batch))
            .optimizer(Optimizer::sgd(0.001))
            .max_epochs(1)
            .device(Device::Cpu);
        let epoch = median_seconds(repeats.min(3), || {
            std::hint::black_box(descent.fit(x, y).unwrap());
        });
        results.push((format!("epoch_batch_{batch}"), epoch));
    }
    let body: Vec<String> = results.iter().map(|(k, v)| format!("\"{k}\": {v:.6}")).collect();
    println!(
        "{{\"rows\": {rows}, \"features\": {features}, {}}}",
        body.join(", ")
    );
    Ok(())
}
