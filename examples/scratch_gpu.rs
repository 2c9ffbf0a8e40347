use downhill::*;
fn main() {
    let ctx = GpuContext::shared().unwrap();
    for (rows, d, batch, epochs) in [
        (30000usize, 5usize, 64usize, 2usize),
        (60000, 5, 1, 2),
        (50000, 64, 256, 2),
        (50000, 200, 250, 2),
    ] {
        let s = Synthetic::generate(Model::Linear, rows, d, 0.1, 42).unwrap();
        let g = GradientDescent::linear()
            .variant(Variant::MiniBatch(batch))
            .optimizer(Optimizer::sgd(0.001))
            .max_epochs(epochs)
            .seed(1);
        let c = g.clone().device(Device::Cpu).fit(s.x.view(), s.y.view()).unwrap();
        let gg = g
            .device(Device::Gpu)
            .gpu_context(ctx.clone())
            .fit(s.x.view(), s.y.view())
            .unwrap();
        println!(
            "{rows} {d} {batch}: cpu {:?} {}\n   gpu {:?} {}",
            c.history().losses(),
            c.bias(),
            gg.history().losses(),
            gg.bias()
        );
    }
}
