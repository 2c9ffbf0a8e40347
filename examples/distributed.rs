//! A data-parallel fit through the library, one rank per MPI process:
//!
//! ```sh
//! cargo build --release --features distributed --example distributed
//! mpirun -np 2 target/release/examples/distributed
//! ```
//!
//! Every rank generates the same seeded rows and keeps its share
//! (`shard_of`): a stand-in for reading its shard of a file. The ranks fit
//! mini-batch Adam together; rank 0 prints the coefficients, the truth,
//! and the fit of all the rows in one process, which the ranks' fit equals
//! to float32 rounding.

use std::sync::Arc;

use downhill::data::source::{DataSource, InMemory, RowRange};
use downhill::distributed::{shard_of, Collective, Mpi};
use downhill::{Device, GradientDescent, Model, Optimizer, Synthetic, Variant};

fn main() -> Result<(), downhill::Error> {
    let mpi = Arc::new(Mpi::initialize()?);
    let (rank, size) = (mpi.rank(), mpi.size());
    let data = Synthetic::generate(Model::Linear, 100_000, 8, 0.1, 7)?;
    let all = InMemory::new(data.x.view(), data.y.view())?;
    let mine = RowRange::new(&all, shard_of(all.rows(), rank, size).unwrap_or_default())?;
    let settings = GradientDescent::linear()
        .variant(Variant::MiniBatch(256))
        .optimizer(Optimizer::adam(0.01))
        .standardize(true)
        .max_epochs(5)
        .seed(1)
        .device(Device::Cpu);
    let fitted = settings.clone().distributed(mpi.clone()).fit_source(&mine)?;
    if rank == 0 {
        let alone = settings.fit(data.x.view(), data.y.view())?;
        println!("{size} ranks, {} rows each or so", mine.rows());
        println!("{:>10} {:>10} {:>10}", "ranks", "one", "truth");
        for j in 0..8 {
            println!(
                "{:>10.5} {:>10.5} {:>10.5}",
                fitted.weights()[j],
                alone.weights()[j],
                data.weights[j]
            );
        }
        println!(
            "{:>10.5} {:>10.5} {:>10.5}",
            fitted.bias(),
            alone.bias(),
            data.bias
        );
    }
    Ok(())
}
