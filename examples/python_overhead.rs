//! The Rust side of benches/peers/python_overhead.py: generates seeded
//! synthetic rows, writes them as raw f32 for the Python package to fit,
//! then times the same fit through the library and prints JSON (each
//! run's seconds and the weights, so that the script can check that both
//! sides did the same work, bit for bit).
//!
//! cargo run --release --example python_overhead -- ROWS FEATURES EPOCHS REPEATS DATA_DIR

use std::time::Instant;

use downhill::{Device, GradientDescent, Model, Optimizer, Shuffle, Synthetic, Variant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: usize| args.get(i).map_or(Ok(default), |a| a.parse());
    let (rows, features) = (number(0, 1_000_000)?, number(1, 64)?);
    let (epochs, repeats) = (number(2, 5)?, number(3, 5)?);
    let dir = args.get(4).ok_or("DATA_DIR is missing")?;
    let data = Synthetic::generate(Model::Linear, rows, features, 0.1, 7)?;
    std::fs::create_dir_all(dir)?;
    let bytes = |v: &[f32]| v.iter().flat_map(|f| f.to_le_bytes()).collect::<Vec<u8>>();
    std::fs::write(
        format!("{dir}/x.f32"),
        bytes(data.x.as_slice().ok_or("generated rows are contiguous")?),
    )?;
    std::fs::write(
        format!("{dir}/y.f32"),
        bytes(data.y.as_slice().ok_or("generated targets are contiguous")?),
    )?;
    // The settings the script gives SGDRegressor: batches of 256, plain
    // SGD at 0.001 (its eta0 0.002 over the doubled squared error), no
    // penalty, no early stopping, rows shuffled by seed 1.
    let settings = GradientDescent::linear()
        .variant(Variant::MiniBatch(256))
        .optimizer(Optimizer::sgd(0.001))
        .shuffle(Shuffle::Rows)
        .max_epochs(epochs)
        .seed(1)
        .device(Device::Cpu);
    let mut seconds = Vec::new();
    let mut weights = Vec::new();
    for _ in 0..repeats {
        let start = Instant::now();
        let fitted = settings.fit(data.x.view(), data.y.view())?;
        seconds.push(start.elapsed().as_secs_f64());
        weights = fitted.weights().to_vec();
    }
    let list = |v: &[String]| v.join(", ");
    println!(
        "{{\"seconds\": [{}], \"weights\": [{}]}}",
        list(&seconds.iter().map(|s| format!("{s}")).collect::<Vec<_>>()),
        list(&weights.iter().map(|w| format!("{w:?}")).collect::<Vec<_>>())
    );
    Ok(())
}
