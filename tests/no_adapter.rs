//! A machine where no adapter matches: `WGPU_ADAPTER_NAME` names none, as
//! on a machine without any GPU driver. Its own test binary, because the
//! variable is read when the shared context is first built.
#![cfg(feature = "gpu")]

use downhill::EngineError;
use downhill::{gradient, Device, Error, GradientDescent, Model};
use ndarray::array;

#[test]
fn no_adapter_is_an_error_for_gpu_and_a_cpu_fallback_for_auto() {
    // SAFETY (of intent): set before any thread of this binary builds a context.
    std::env::set_var("WGPU_ADAPTER_NAME", "no adapter is called this");
    let x = array![[1.0f32], [2.0], [3.0]];
    let y = array![2.0f32, 4.0, 6.0];

    let error = GradientDescent::linear()
        .device(Device::Gpu)
        .fit(x.view(), y.view())
        .expect_err("no adapter matches");
    assert!(
        matches!(&error, Error::Engine(EngineError::GpuUnavailable { reason }) if reason.contains("no adapter is called this")),
        "{error:?}"
    );
    assert!(matches!(
        Device::Gpu.resolve(),
        Err(Error::Engine(EngineError::GpuUnavailable { .. }))
    ));
    assert!(matches!(
        gradient(
            &Device::Gpu,
            Model::Linear,
            x.view(),
            y.view(),
            array![0.0f32].view(),
            0.0
        ),
        Err(Error::Engine(EngineError::GpuUnavailable { .. }))
    ));

    let fitted = GradientDescent::linear()
        .device(Device::Auto)
        .fit(x.view(), y.view())
        .expect("Auto falls back to the CPU");
    assert_eq!(fitted.device(), Device::Cpu);
}
