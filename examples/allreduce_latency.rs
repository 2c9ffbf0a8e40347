//! The cost of the one all-reduce a data-parallel step makes: d + 3
//! float64 numbers summed over every rank, timed for several d.
//!
//! ```sh
//! cargo build --release --features distributed --example allreduce_latency
//! mpirun -np 2 target/release/examples/allreduce_latency
//! ```
//!
//! Rank 0 prints, for each d, the median and the 90th percentile of the
//! microseconds one all-reduce took over 2,000 calls (after 200 to warm up).

use std::time::Instant;

use downhill::distributed::{Collective, Mpi};

fn main() -> Result<(), downhill::Error> {
    let mpi = Mpi::initialize()?;
    const CALLS: usize = 2_000;
    if mpi.rank() == 0 {
        println!("ranks {}", mpi.size());
        println!("{:>9} {:>12} {:>12}", "d + 3", "median µs", "p90 µs");
    }
    for features in [1usize, 16, 64, 256, 1_024, 16_384, 262_144] {
        let mut values = vec![1.0f64; features + 3];
        for _ in 0..200 {
            mpi.all_reduce_sum(&mut values)?;
        }
        let mut micros: Vec<f64> = (0..CALLS)
            .map(|_| {
                let started = Instant::now();
                mpi.all_reduce_sum(&mut values)
                    .map(|()| started.elapsed().as_secs_f64() * 1e6)
            })
            .collect::<Result<_, _>>()?;
        micros.sort_by(f64::total_cmp);
        if mpi.rank() == 0 {
            println!(
                "{:>9} {:>12.2} {:>12.2}",
                features + 3,
                micros[CALLS / 2],
                micros[CALLS * 9 / 10]
            );
        }
    }
    Ok(())
}
