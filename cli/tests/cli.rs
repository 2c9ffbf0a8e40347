//! The `downhill` program driven as a user would: fit → save → predict on
//! CSV files whose answers are known, bad CSV files, and the plots it
//! writes (parsed as SVG, decoded as PNG).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BINARY: &str = env!("CARGO_BIN_EXE_downhill");
/// The repository's root, where the test data lies and where the program
/// runs (as it did when the program was part of the library's package).
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// A fresh folder for one test.
fn folder(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("downhill-cli-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    dir
}

fn run(args: &[&str]) -> Output {
    Command::new(BINARY)
        .current_dir(ROOT)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn succeed(args: &[&str]) -> String {
    let output = run(args);
    assert!(output.status.success(), "{args:?} failed: {}", stderr(&output));
    stdout(&output)
}

/// The command fails with a one-line message that contains every part of
/// `expected`, and no panic.
fn fail_with(args: &[&str], expected: &[&str]) {
    let output = run(args);
    assert!(!output.status.success(), "{args:?} should fail");
    let message = stderr(&output);
    assert!(
        !message.contains("panicked") && !message.contains("RUST_BACKTRACE"),
        "{message}"
    );
    let line = message
        .lines()
        .find(|l| l.starts_with("error"))
        .unwrap_or_else(|| panic!("no error line in {message:?}"));
    for part in expected {
        assert!(line.contains(part), "{line:?} lacks {part:?}");
    }
}

/// 60 rows of y = 2a − 3b + 1 exactly, a text column, and a 0/1 label.
fn exact_csv(dir: &Path) -> PathBuf {
    let mut text = String::from("name,a,b,y,label\n");
    for i in 0..60 {
        let a = (i % 7) as f64 - 3.0 + 0.1 * i as f64;
        let b = ((i * 5) % 11) as f64 * 0.5;
        let y = 2.0 * a - 3.0 * b + 1.0;
        let label = u8::from(a - b + 1.0 > 0.0);
        text.push_str(&format!("row{i},{a},{b},{y},{label}\n"));
    }
    let path = dir.join("exact.csv");
    std::fs::write(&path, text).expect("written");
    path
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("saved")).expect("valid JSON")
}

#[test]
fn fit_save_predict_round_trip_recovers_a_known_plane() {
    let dir = folder("round-trip");
    let csv = exact_csv(&dir);
    let model = dir.join("model.json");
    let out = succeed(&[
        "fit",
        "--data",
        csv.to_str().unwrap(),
        "--target",
        "y",
        "--lr",
        "0.1",
        "--epochs",
        "3000",
        "--standardize",
        "--device",
        "cpu",
        "--save",
        model.to_str().unwrap(),
    ]);
    // The report names each coefficient by its column.
    assert!(
        out.contains("R²") && out.lines().any(|l| l.trim_start().starts_with('a')),
        "{out}"
    );
    let saved = read_json(&model);
    assert_eq!(saved["model"], "linear");
    assert_eq!(saved["features"], serde_json::json!(["a", "b", "label"]));
    let weights: Vec<f64> = saved["weights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_f64().unwrap())
        .collect();
    let bias = saved["bias"].as_f64().unwrap();
    // In the units of the CSV although the fit ran on standardized data.
    for (found, expected) in weights.iter().zip([2.0, -3.0, 0.0]) {
        assert!((found - expected).abs() <= 1e-3 * 3.0, "weights {weights:?}");
    }
    assert!((bias - 1.0).abs() <= 1e-3, "bias {bias}");
    assert_eq!(saved["options"]["standardize"], true);
    assert_eq!(saved["history"].as_array().unwrap().len(), 3000);

    // Predict on a file whose columns come in another order, with extra ones.
    let new_rows = dir.join("new.csv");
    std::fs::write(&new_rows, "label,b,extra,a\n1,0,x,0\n0,2,y,1.5\n1,-1,z,-2\n").unwrap();
    let predictions = dir.join("predictions.csv");
    succeed(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--data",
        new_rows.to_str().unwrap(),
        "--output",
        predictions.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&predictions).unwrap();
    let values: Vec<f64> = text.lines().skip(1).map(|l| l.parse().unwrap()).collect();
    let expected = [1.0, 2.0 * 1.5 - 3.0 * 2.0 + 1.0, 2.0 * -2.0 + 3.0 + 1.0];
    assert_eq!(text.lines().next(), Some("prediction"));
    for (found, expected) in values.iter().zip(expected) {
        assert!((found - expected).abs() <= 1e-2, "{values:?} vs {expected}");
    }
}

#[test]
fn standardized_fit_matches_the_closed_form_on_noisy_data() {
    let dir = folder("closed-form");
    let mut text = String::from("x1,x2,target\n");
    let mut state = 12345u64;
    let mut uniform = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    for _ in 0..300 {
        let (x1, x2) = (uniform() * 40.0 + 100.0, uniform() * 0.02);
        let y = 0.5 * x1 - 400.0 * x2 + 7.0 + (uniform() - 0.5);
        text.push_str(&format!("{x1},{x2},{y}\n"));
    }
    let csv = dir.join("noisy.csv");
    std::fs::write(&csv, text).unwrap();
    let model = dir.join("model.json");
    succeed(&[
        "fit",
        "--data",
        csv.to_str().unwrap(),
        "--target",
        "target",
        "--lr",
        "0.1",
        "--epochs",
        "4000",
        "--standardize",
        "--device",
        "cpu",
        "--save",
        model.to_str().unwrap(),
    ]);
    let saved = read_json(&model);
    let data = downhill::data::read_csv(&csv, Some("target"), None).unwrap();
    let (w, b) = downhill::reference::least_squares(data.x.view(), data.y.unwrap().view(), 0.0).unwrap();
    let found: Vec<f64> = saved["weights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    for (f, e) in found.iter().zip(w.iter()) {
        assert!((f - e).abs() <= 1e-3 * e.abs(), "{found:?} vs {w}");
    }
    let bias = saved["bias"].as_f64().unwrap();
    assert!((bias - b).abs() <= 1e-3 * b.abs().max(1.0), "{bias} vs {b}");

    // L-BFGS on the same table, without hand-set rates: to 1e-5 of the
    // closed form, and the saved model names its solver and stop reason.
    let lbfgs_model = dir.join("lbfgs.json");
    let report = succeed(&[
        "fit",
        "--data",
        csv.to_str().unwrap(),
        "--target",
        "target",
        "--solver",
        "lbfgs",
        "--device",
        "cpu",
        "--save",
        lbfgs_model.to_str().unwrap(),
    ]);
    assert!(report.contains("solver:       L-BFGS, memory 10"), "{report}");
    assert!(report.contains("iterations:"), "{report}");
    let saved = read_json(&lbfgs_model);
    assert_eq!(saved["options"]["solver"]["kind"], "lbfgs", "{saved}");
    let stop = saved["stop_reason"]["kind"].as_str().unwrap();
    assert!(["converged", "rounding_limit"].contains(&stop), "{saved}");
    for (f, e) in saved["weights"].as_array().unwrap().iter().zip(w.iter()) {
        let f = f.as_f64().unwrap();
        assert!((f - e).abs() <= 1e-5 * e.abs(), "{f} vs {e}");
    }
    let bias = saved["bias"].as_f64().unwrap();
    assert!((bias - b).abs() <= 1e-5 * b.abs().max(1.0), "{bias} vs {b}");
    fail_with(
        &[
            "fit",
            "--data",
            csv.to_str().unwrap(),
            "--target",
            "target",
            "--solver",
            "lbfgs",
            "--variant",
            "32",
        ],
        &["lbfgs", "full batch", "minibatch:32"],
    );
}

#[test]
fn bad_csv_files_give_one_line_errors() {
    let dir = folder("bad");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let good = write("good.csv", "a,b,y\n1,2,3\n2,3,5\n3,5,8\n");
    fail_with(
        &["fit", "--data", &good, "--target", "nope"],
        &["nope", "a, b, y"],
    );
    fail_with(
        &["fit", "--data", &good, "--target", "y", "--features", "a,zzz"],
        &["zzz"],
    );
    let text = write("text.csv", "a,b,y\n1,2,3\n2,three,5\n3,5,8\n");
    fail_with(
        &["fit", "--data", &text, "--target", "y"],
        &["line 3", "\"b\"", "three"],
    );
    let ragged = write("ragged.csv", "a,b,y\n1,2,3\n2,3\n3,5,8\n");
    fail_with(
        &["fit", "--data", &ragged, "--target", "y"],
        &["line 3", "2 cells", "3"],
    );
    let empty = write("empty.csv", "");
    fail_with(
        &["fit", "--data", &empty, "--target", "y"],
        &["empty.csv", "header"],
    );
    let header_only = write("header.csv", "a,b,y\n");
    fail_with(
        &["fit", "--data", &header_only, "--target", "y"],
        &["header.csv", "data rows"],
    );
    // One label is no classification (three are the multinomial model).
    let labels = write("labels.csv", "a,label\n1,1\n2,1\n3,1\n");
    fail_with(
        &[
            "fit", "--data", &labels, "--target", "label", "--model", "logistic",
        ],
        &["label", "1 distinct values", "at least two"],
    );
    let missing = dir.join("missing.csv");
    fail_with(
        &["fit", "--data", missing.to_str().unwrap(), "--target", "y"],
        &["missing.csv"],
    );
    fail_with(
        &[
            "fit",
            "--data",
            &good,
            "--target",
            "y",
            "--variant",
            "minibatch:0",
        ],
        &["minibatch:0"],
    );
    fail_with(
        &[
            "fit",
            "--data",
            &good,
            "--target",
            "y",
            "--schedule",
            "step:x:0.5",
        ],
        &["step:x:0.5"],
    );
    fail_with(
        &["fit", "--data", &good, "--target", "y", "--lr=-1"],
        &["learning rate", "-1"],
    );
    // predict: a saved model whose feature is not in the new file.
    let model = dir.join("model.json");
    succeed(&[
        "fit",
        "--data",
        &good,
        "--target",
        "y",
        "--device",
        "cpu",
        "--save",
        model.to_str().unwrap(),
    ]);
    let other = write("other.csv", "a,c\n1,2\n");
    fail_with(
        &["predict", "--model", model.to_str().unwrap(), "--data", &other],
        &["\"b\""],
    );
    fail_with(&["predict", "--model", &good, "--data", &other], &["not a model"]);
}

fn assert_svg(path: &Path) {
    let text = std::fs::read_to_string(path).expect("the plot was written");
    let document = roxmltree::Document::parse(&text).expect("valid XML");
    assert_eq!(document.root_element().tag_name().name(), "svg");
    // Curves are drawn as polylines or paths, and the axes are labelled.
    assert!(document
        .descendants()
        .any(|n| n.has_tag_name("polyline") || n.has_tag_name("path")));
    assert!(document.descendants().any(|n| n.has_tag_name("text")));
}

fn assert_png(path: &Path) {
    let file = std::fs::File::open(path).expect("the plot was written");
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("a PNG header");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a known size")];
    let frame = reader.next_frame(&mut pixels).expect("decodable pixels");
    assert_eq!((frame.width, frame.height), (960, 640));
    // Not a blank canvas.
    assert!(pixels.iter().any(|&p| p < 128));
}

#[test]
fn plots_are_valid_svg_and_png() {
    let dir = folder("plots");
    let csv = exact_csv(&dir);
    let csv = csv.to_str().unwrap();
    let svg = dir.join("loss.svg");
    let png = dir.join("loss.png");
    let contour = dir.join("contour.svg");
    let contour_png = dir.join("contour.png");
    let sweep = dir.join("sweep.svg");
    for (plot, log) in [(&svg, false), (&png, true)] {
        let mut args = vec![
            "fit",
            "--data",
            csv,
            "--target",
            "y",
            "--features",
            "a,b",
            "--device",
            "cpu",
        ];
        args.extend([
            "--variant",
            "minibatch:8",
            "--optimizer",
            "adam",
            "--lr",
            "0.05",
            "--plot",
            plot.to_str().unwrap(),
        ]);
        if log {
            args.push("--log-scale");
        }
        succeed(&args);
    }
    assert_svg(&svg);
    assert_png(&png);
    for path in [&contour, &contour_png] {
        let out = succeed(&[
            "fit",
            "--data",
            csv,
            "--target",
            "y",
            "--features",
            "a",
            "--lr",
            "0.02",
            "--epochs",
            "20",
            "--device",
            "cpu",
            "--plot-path",
            path.to_str().unwrap(),
        ]);
        assert!(out.contains(path.to_str().unwrap()), "{out}");
    }
    assert_svg(&contour);
    assert_png(&contour_png);
    let out = succeed(&[
        "sweep",
        "--data",
        csv,
        "--target",
        "y",
        "--features",
        "a,b",
        "--standardize",
        "--lrs",
        "0.01,0.1,1.2",
        "--epochs",
        "40",
        "--device",
        "cpu",
        "--plot",
        sweep.to_str().unwrap(),
    ]);
    assert_svg(&sweep);
    // lr 1.2 on standardized data diverges; 0.1 is the largest stable one.
    assert!(out.contains("DIVERGED") || out.contains("UNSTABLE"), "{out}");
    assert!(out.contains("largest stable learning rate: 0.1"), "{out}");
    // The contour plot needs one feature.
    fail_with(
        &[
            "fit",
            "--data",
            csv,
            "--target",
            "y",
            "--features",
            "a,b",
            "--device",
            "cpu",
            "--plot-path",
            contour.to_str().unwrap(),
        ],
        &["one feature"],
    );
}

#[test]
fn help_explains_every_command() {
    let help = succeed(&["--help"]);
    for command in ["demo", "fit", "predict", "sweep", "bench"] {
        assert!(help.contains(command), "{help}");
    }
    let fit = succeed(&["fit", "--help"]);
    for flag in [
        "--data",
        "--target",
        "--features",
        "--model",
        "--variant",
        "--optimizer",
        "--lr",
        "--schedule",
        "--l2",
        "--epochs",
        "--tol",
        "--patience",
        "--standardize",
        "--seed",
        "--device",
        "--plot",
        "--plot-path",
        "--save",
    ] {
        assert!(fit.contains(flag), "fit --help lacks {flag}");
    }
}

/// 600 rows of a price on two nearly equal features and one more, in raw
/// units: at lr 0.75 on standardized features the full-batch step along
/// the pair's direction (curvature 2 · 2) overshoots by a factor of 2 each
/// epoch, so the loss grows about fourfold per epoch: slowly enough that
/// the divergence factor (1e6 × the first loss) has not fired when early
/// stopping's patience runs out.
fn exploding_csv(dir: &Path) -> PathBuf {
    let mut text = String::from("carat,weight,depth,price\n");
    let mut state = 12345u64;
    let mut uniform = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    for _ in 0..600 {
        let carat = 0.2 + 2.0 * uniform();
        let weight = carat + 0.01 * (uniform() - 0.5);
        let depth = 55.0 + 10.0 * uniform();
        let price = 4000.0 * carat + 30.0 * depth + 200.0 * (uniform() - 0.5);
        text.push_str(&format!("{carat:.4},{weight:.4},{depth:.3},{price:.2}\n"));
    }
    let path = dir.join("prices.csv");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn an_exploding_loss_under_early_stopping_is_divergence_not_convergence() {
    let dir = folder("exploding");
    let csv = exploding_csv(&dir);
    let args = [
        "fit",
        "--data",
        csv.to_str().unwrap(),
        "--target",
        "price",
        "--standardize",
        "--lr",
        "0.75",
        "--epochs",
        "5000",
        "--tol",
        "1e-6",
        "--device",
        "cpu",
    ];
    let output = run(&args);
    let (out, err) = (stdout(&output), stderr(&output));
    assert!(!output.status.success(), "a diverged fit must not exit 0: {out}");
    assert!(out.contains("diverged"), "{out}");
    assert!(!out.contains("converged"), "{out}");
    assert!(err.contains("diverged"), "{err}");
}

#[test]
fn predict_gives_the_library_s_predictions_and_names_bad_model_files() {
    let dir = folder("predict-identical");
    let csv = exact_csv(&dir);
    let model = dir.join("model.json");
    for (kind, target) in [("linear", "y"), ("logistic", "label")] {
        succeed(&[
            "fit",
            "--data",
            csv.to_str().unwrap(),
            "--target",
            target,
            "--features",
            "a,b",
            "--model",
            kind,
            "--variant",
            "minibatch:8",
            "--optimizer",
            "adam",
            "--lr",
            "0.05",
            "--epochs",
            "50",
            "--standardize",
            "--device",
            "cpu",
            "--save",
            model.to_str().unwrap(),
        ]);
        let predictions = dir.join("predictions.csv");
        succeed(&[
            "predict",
            "--model",
            model.to_str().unwrap(),
            "--data",
            csv.to_str().unwrap(),
            "--output",
            predictions.to_str().unwrap(),
        ]);
        let fitted = downhill::Fitted::load(&model).unwrap();
        let data = downhill::data::read_csv(&csv, None, Some(&["a", "b"])).unwrap();
        let expected = fitted.predict(data.x.view()).unwrap();
        let text = std::fs::read_to_string(&predictions).unwrap();
        let found: Vec<f32> = text
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(found, expected.to_vec(), "{kind}");
    }
    // A model file cut short, and one of a schema version from the future.
    let text = std::fs::read_to_string(&model).unwrap();
    let truncated = dir.join("truncated.json");
    std::fs::write(&truncated, &text[..text.len() / 3]).unwrap();
    fail_with(
        &[
            "predict",
            "--model",
            truncated.to_str().unwrap(),
            "--data",
            csv.to_str().unwrap(),
        ],
        &["truncated.json", "not a model saved by downhill"],
    );
    let future = dir.join("future.json");
    let current = format!("\"version\": {}", downhill::SCHEMA_VERSION);
    std::fs::write(&future, text.replacen(&current, "\"version\": 7", 1)).unwrap();
    fail_with(
        &[
            "predict",
            "--model",
            future.to_str().unwrap(),
            "--data",
            csv.to_str().unwrap(),
        ],
        &["future.json", "schema version 7"],
    );
}

#[path = "../../tests/common/mod.rs"]
mod common;

fn run_with(args: &[&str], env: &[(&str, Option<&str>)]) -> Output {
    let mut command = Command::new(BINARY);
    command.current_dir(ROOT);
    command.args(args);
    for (name, value) in env {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    command.output().expect("the binary runs")
}

#[test]
fn negative_values_reach_downhill_s_own_checks() {
    let dir = folder("negative");
    let csv = exact_csv(&dir);
    let csv = csv.to_str().unwrap();
    fail_with(
        &["fit", "--data", csv, "--target", "y", "--lr", "-1"],
        &["learning rate", "-1"],
    );
    fail_with(
        &["fit", "--data", csv, "--target", "y", "--l2", "-0.5"],
        &["L2 penalty", "-0.5"],
    );
}

#[test]
fn an_unknown_wgpu_backend_is_an_error_naming_the_valid_ones() {
    let dir = folder("backend");
    let csv = exact_csv(&dir);
    let output = run_with(
        &[
            "fit",
            "--data",
            csv.to_str().unwrap(),
            "--target",
            "y",
            "--device",
            "gpu",
        ],
        &[("WGPU_BACKEND", Some("vulkan,bogus"))],
    );
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("\"bogus\"") && message.contains("vulkan, metal, dx12 or gl"),
        "{message}"
    );
}

/// `sweep` on the GPU says how its models share the passes when they are
/// more than one pass sums: 40 rates, 32 a pass, 2 passes a round.
#[test]
fn a_gpu_sweep_says_its_models_go_in_groups() {
    if common::gpu("a sweep on the GPU").is_none() {
        return;
    }
    let dir = folder("gpu-sweep");
    let csv = dir.join("rows.csv");
    // 30,000 rows × 5: enough values for the models to share passes.
    let mut text = String::from("a,b,c,d,e,y\n");
    for i in 0..30_000u32 {
        let v: Vec<f32> = (0..5)
            .map(|j| ((i * 7 + j * 13) % 101) as f32 / 50.0 - 1.0)
            .collect();
        let y: f32 = v.iter().enumerate().map(|(j, x)| j as f32 * x).sum();
        text += &format!("{},{},{},{},{},{y}\n", v[0], v[1], v[2], v[3], v[4]);
    }
    std::fs::write(&csv, text).unwrap();
    let rates: Vec<String> = (0..40).map(|k| format!("{}", 0.001 * 1.1f32.powi(k))).collect();
    let out = succeed(&[
        "sweep",
        "--data",
        csv.to_str().unwrap(),
        "--target",
        "y",
        "--device",
        "gpu",
        "--epochs",
        "3",
        "--lrs",
        &rates.join(","),
    ]);
    assert!(
        out.contains("at most 32 at a time") && out.contains("2 passes a round for 40 rates"),
        "{out}"
    );
}

#[test]
fn the_gpu_programs_say_when_the_adapter_is_software_and_mesa_stays_quiet() {
    let Some(context) = common::gpu("the CLI on a GPU") else {
        return;
    };
    let dir = folder("software");
    let csv = exact_csv(&dir);
    let fit = run_with(
        &[
            "fit",
            "--data",
            csv.to_str().unwrap(),
            "--target",
            "y",
            "--device",
            "gpu",
            "--epochs",
            "5",
        ],
        &[("XDG_RUNTIME_DIR", None)],
    );
    assert!(fit.status.success(), "{}", stderr(&fit));
    assert!(!stderr(&fit).contains("XDG_RUNTIME_DIR"), "{}", stderr(&fit));
    let demo = run_with(
        &[
            "demo",
            "--epochs",
            "2",
            "--plot",
            dir.join("demo.svg").to_str().unwrap(),
        ],
        &[("XDG_RUNTIME_DIR", None)],
    );
    assert!(demo.status.success(), "{}", stderr(&demo));
    assert!(!stderr(&demo).contains("XDG_RUNTIME_DIR"), "{}", stderr(&demo));
    let (fit, demo) = (stdout(&fit), stdout(&demo));
    if context.adapter().is_software() {
        assert!(fit.contains("a software adapter"), "{fit}");
        // Like Device::Auto, the demo passes over a software adapter.
        assert!(
            demo.contains("software one") && demo.contains("running on the CPU"),
            "{demo}"
        );
        assert!(!demo.contains("on gpu"), "{demo}");
    } else {
        assert!(!fit.contains("software adapter"), "{fit}");
        assert!(demo.contains("on gpu"), "{demo}");
    }
}

#[test]
fn scaling_is_on_by_default_and_no_standardize_turns_it_off() {
    let dir = folder("scaling");
    let csv = exploding_csv(&dir);
    let csv = csv.to_str().unwrap();
    let model = dir.join("model.json");
    // Raw prices around 5,000 on carats: the defaults fit on standardized
    // columns and report in the CSV's units.
    let out = succeed(&[
        "fit",
        "--data",
        csv,
        "--target",
        "price",
        "--features",
        "carat,depth",
        "--epochs",
        "300",
        "--lr",
        "0.1",
        "--device",
        "cpu",
        "--save",
        model.to_str().unwrap(),
    ]);
    assert!(out.contains("on standardized features and target"), "{out}");
    let saved = read_json(&model);
    assert_eq!(saved["options"]["standardize"], true);
    assert_eq!(saved["options"]["standardize_target"], true);
    let data = downhill::data::read_csv(csv, Some("price"), Some(&["carat", "depth"])).unwrap();
    let (w, _) =
        downhill::reference::least_squares(data.x.view(), data.y.as_ref().unwrap().view(), 0.0).unwrap();
    let weights: Vec<f64> = saved["weights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    for (found, expected) in weights.iter().zip(w.iter()) {
        assert!(
            (found - expected).abs() <= 1e-2 * expected.abs(),
            "{weights:?} vs {w}"
        );
    }
    // The same on the raw columns diverges, and says what to try.
    let raw = run(&[
        "fit",
        "--data",
        csv,
        "--target",
        "price",
        "--features",
        "carat,depth",
        "--epochs",
        "300",
        "--lr",
        "0.1",
        "--device",
        "cpu",
        "--no-standardize",
    ]);
    assert!(!raw.status.success());
    assert!(stdout(&raw).contains("diverged"), "{}", stdout(&raw));
    assert!(stderr(&raw).contains("--no-standardize"), "{}", stderr(&raw));
}

/// 2,000 rows of three features around 1e3, 1e4 and 1e5 (the last mostly
/// the first again, so that the standardized columns stay correlated and
/// the scaled problem keeps a condition number above 100) and a target
/// around 1e4 with noise.
fn raw_scales_csv(dir: &Path) -> PathBuf {
    let mut text = String::from("a,b,c,target\n");
    let mut state = 99u64;
    let mut uniform = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    for _ in 0..2000 {
        let a = 1e3 * (1.0 + 0.2 * uniform());
        let b = 1e4 * (1.0 + 0.2 * uniform());
        let c = 1e5 * (1.0 + 0.005 * uniform()) + 20.0 * a;
        let y = 3.0 * a - 0.5 * b + 0.02 * c + 5000.0 + 100.0 * uniform();
        text.push_str(&format!("{a:.3},{b:.3},{c:.3},{y:.3}\n"));
    }
    let path = dir.join("raw.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// The condition number of the squared error's Hessian over [X 1], in
/// float64, of the columns as they are and standardized.
fn condition_numbers(x: &downhill::ndarray::Array2<f32>) -> (f64, f64) {
    let (n, d) = x.dim();
    let condition = |column: &dyn Fn(usize, usize) -> f64| {
        let design = nalgebra::DMatrix::from_fn(n, d + 1, |i, j| if j < d { column(i, j) } else { 1.0 });
        let values = (design.transpose() * &design).symmetric_eigenvalues();
        values.max() / values.min()
    };
    let raw = condition(&|i, j| f64::from(x[[i, j]]));
    let stats: Vec<(f64, f64)> = (0..d)
        .map(|j| {
            let column = x.column(j).mapv(f64::from);
            let mean = column.mean().unwrap();
            (mean, column.mapv(|v| (v - mean).powi(2)).mean().unwrap().sqrt())
        })
        .collect();
    let scaled = condition(&|i, j| (f64::from(x[[i, j]]) - stats[j].0) / stats[j].1);
    (raw, scaled)
}

#[test]
fn the_defaults_fit_raw_scales_to_the_closed_form_solution() {
    let dir = folder("defaults");
    let csv = raw_scales_csv(&dir);
    let data = downhill::data::read_csv(&csv, Some("target"), None).unwrap();
    let y = data.y.clone().unwrap();
    let (raw_condition, scaled_condition) = condition_numbers(&data.x);
    assert!(
        raw_condition > 1e6 && scaled_condition > 100.0,
        "{raw_condition} {scaled_condition}"
    );
    // The least-squares solution in float64 (nalgebra's QR).
    let (w, b) = downhill::reference::least_squares(data.x.view(), y.view(), 0.0).unwrap();
    let closed = data.x.mapv(f64::from).dot(&w) + b;
    let closed_r2 = downhill::metrics::r2(y.view(), closed.mapv(|v| v as f32).view()).unwrap();
    let r2_of = |out: &str| -> f64 {
        let line = out.lines().find(|l| l.starts_with("R²:")).expect("an R² line");
        line.trim_start_matches("R²:").trim().parse().unwrap()
    };
    for extra in [&[][..], &["--optimizer", "adam"][..]] {
        let model = dir.join("model.json");
        let mut args = vec![
            "fit",
            "--data",
            csv.to_str().unwrap(),
            "--target",
            "target",
            "--device",
            "cpu",
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--save", model.to_str().unwrap()]);
        let out = succeed(&args);
        // Adam's automatic rate is fixed, and said so (issue 23).
        let said = match extra.is_empty() {
            true => "(auto, from the loss's largest curvature",
            false => "(auto: the fixed rate for adam",
        };
        assert!(out.contains(said), "{out}");
        let saved = read_json(&model);
        assert_eq!(saved["options"]["auto_learning_rate"], true, "{extra:?}");
        assert!(saved["options"]["optimizer"]["learning_rate"].as_f64().unwrap() > 0.0);
        let r2 = r2_of(&out);
        assert!(
            (r2 - closed_r2).abs() <= 1e-3,
            "{extra:?}: R² {r2} vs {closed_r2}\n{out}"
        );
        if extra.is_empty() {
            // The defaults: Nesterov with the momentum from the curvatures,
            // stopped once the parameters settle, lands on the closed form.
            assert!(
                out.contains("(auto, from the curvature's condition number"),
                "{out}"
            );
            assert!(out.contains("stopped:      converged"), "{out}");
            let weights: Vec<f64> = saved["weights"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let bias = saved["bias"].as_f64().unwrap();
            for (found, expected) in weights.iter().chain([&bias]).zip(w.iter().chain([&b])) {
                assert!(
                    (found - expected).abs() <= 1e-4 * expected.abs(),
                    "{found} vs {expected}\n{out}"
                );
            }
        }
    }
}

/// 200 customers: income and balance in raw units, a Yes/No `student`
/// column, a city, an ID, a few empty cells, and a Yes/No target that
/// follows the balance.
fn credit_csv(dir: &Path) -> PathBuf {
    let mut text = String::from("id,student,city,income,balance,default\n");
    let mut state = 5u64;
    let mut uniform = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    for i in 0..200 {
        let student = if uniform() < 0.3 { "Yes" } else { "No" };
        let city = ["Paris", "Lyon", "Nice"][(uniform() * 3.0) as usize];
        let income = 20000.0 + 40000.0 * uniform();
        let balance = 2000.0 * uniform();
        let default = if balance + 300.0 * (uniform() - 0.5) > 1400.0 {
            "Yes"
        } else {
            "No"
        };
        let income = if i % 50 == 7 {
            String::new()
        } else {
            format!("{income:.0}")
        };
        text.push_str(&format!(
            "C{i:03},{student},{city},{income},{balance:.2},{default}\n"
        ));
    }
    let path = dir.join("credit.csv");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_real_table_with_text_columns_labels_and_missing_cells() {
    let dir = folder("credit");
    let csv = credit_csv(&dir);
    let csv = csv.to_str().unwrap();
    let model = dir.join("credit.json");
    // Missing cells are an error by default, naming the choices.
    fail_with(
        &["fit", "--data", csv, "--target", "default", "--model", "logistic"],
        &[
            "4 rows have missing values",
            "income",
            "--missing drop",
            "--missing mean",
        ],
    );
    for (policy, says) in [
        ("drop", "4 rows with missing cells left out"),
        ("mean", "4 cells filled"),
    ] {
        let out = succeed(&[
            "fit",
            "--data",
            csv,
            "--target",
            "default",
            "--model",
            "logistic",
            "--missing",
            policy,
            "--device",
            "cpu",
            "--save",
            model.to_str().unwrap(),
        ]);
        assert!(out.contains(says), "{out}");
        assert!(
            out.contains("left out:     column \"id\": 200 distinct values, more than the cap of 50"),
            "{out}"
        );
        assert!(out.contains("target:       \"No\" → 0, \"Yes\" → 1"), "{out}");
        for name in [
            "student=No",
            "student=Yes",
            "city=Lyon",
            "city=Nice",
            "city=Paris",
            "income",
            "balance",
        ] {
            assert!(
                out.lines().any(|l| l.trim_start().starts_with(name)),
                "{name} in {out}"
            );
        }
        let accuracy: f64 = out
            .lines()
            .find(|l| l.starts_with("accuracy:"))
            .unwrap()
            .trim_start_matches("accuracy:")
            .trim()
            .parse()
            .unwrap();
        assert!(accuracy > 0.9, "{out}");
    }
    // Predict on new rows: an unseen city, an empty income, IDs kept,
    // labels back as Yes/No with probabilities, and the scores where the
    // target is present.
    let new_rows = dir.join("new.csv");
    std::fs::write(
        &new_rows,
        "id,city,student,income,balance,default\nN1,Rome,No,30000,1900,Yes\nN2,Paris,Yes,,100,No\nN3,Lyon,No,45000,1500,Yes\n",
    )
    .unwrap();
    let output = run(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--data",
        new_rows.to_str().unwrap(),
        "--keep",
        "id",
        "--proba",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let (out, err) = (stdout(&output), stderr(&output));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "id,prediction,probability Yes");
    let rows: Vec<Vec<&str>> = lines[1..].iter().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.iter().map(|r| r[0]).collect::<Vec<_>>(), ["N1", "N2", "N3"]);
    assert_eq!(
        rows.iter().map(|r| r[1]).collect::<Vec<_>>(),
        ["Yes", "No", "Yes"],
        "{out}"
    );
    for row in &rows {
        let p: f64 = row[2].parse().unwrap();
        assert_eq!(p > 0.5, row[1] == "Yes", "{out}");
    }
    assert!(err.contains("1 cell with values the model had not seen"), "{err}");
    assert!(err.contains("1 cell missing, filled"), "{err}");
    assert!(err.contains("accuracy:") && err.contains("ROC AUC:"), "{err}");
}

#[test]
fn a_two_class_loss_on_three_labels_names_them() {
    let dir = folder("three");
    let path = dir.join("three.csv");
    std::fs::write(&path, "x,grade\n1,A\n2,B\n3,C\n4,A\n").unwrap();
    fail_with(
        &[
            "fit",
            "--data",
            path.to_str().unwrap(),
            "--target",
            "grade",
            "--model",
            "logistic",
            "--loss",
            "hinge",
        ],
        &[
            "3 classes",
            "\"A\" → 0, \"B\" → 1, \"C\" → 2",
            "--loss hinge",
            "multinomial",
        ],
    );
}

/// A target that is a measurement (numbers that are not whole, or nearly
/// one value a row) is refused as class labels; a resume names its target.
#[test]
fn a_measurement_is_not_taken_for_class_labels() {
    let dir = folder("measurement");
    let decimals = dir.join("decimals.csv");
    std::fs::write(&decimals, "x,size\n1,0.5\n2,1.25\n3,2\n4,0.5\n5,3\n6,2\n").unwrap();
    fail_with(
        &[
            "fit",
            "--data",
            decimals.to_str().unwrap(),
            "--target",
            "size",
            "--model",
            "logistic",
        ],
        &["size", "not whole", "--model linear"],
    );
    let ids = dir.join("ids.csv");
    let mut text = String::from("x,id\n");
    for i in 0..120 {
        text.push_str(&format!("{i},{}\n", 1000 + i % 100));
    }
    std::fs::write(&ids, text).unwrap();
    fail_with(
        &[
            "fit",
            "--data",
            ids.to_str().unwrap(),
            "--target",
            "id",
            "--model",
            "logistic",
        ],
        &["100 distinct values among 120 rows", "--model linear"],
    );
    // A model resumed on another target column is refused, naming both.
    let iris = Path::new(ROOT).join("tests/data/iris.csv");
    let model = dir.join("iris.json");
    succeed(&[
        "fit",
        "--data",
        iris.to_str().unwrap(),
        "--target",
        "species",
        "--model",
        "logistic",
        "--features",
        "sepal_length,sepal_width,petal_length,petal_width",
        "--epochs",
        "3",
        "--save",
        model.to_str().unwrap(),
    ]);
    fail_with(
        &[
            "fit",
            "--resume",
            model.to_str().unwrap(),
            "--data",
            iris.to_str().unwrap(),
            "--target",
            "weight",
        ],
        &["\"species\"", "\"weight\""],
    );
}

/// `--checkpoint` writes the fit every K epochs with the table's encoding;
/// `fit --resume` of the checkpoint for the epochs left saves the model
/// the uninterrupted fit saves.
#[test]
fn a_checkpoint_resumes_on_the_table_to_the_uninterrupted_fit() {
    let dir = folder("checkpoint");
    let iris = Path::new(ROOT).join("tests/data/iris.csv");
    let iris = iris.to_str().unwrap();
    let (checkpoint, whole, resumed) = (
        dir.join("ck.json"),
        dir.join("whole.json"),
        dir.join("resumed.json"),
    );
    let fit = [
        "fit",
        "--data",
        iris,
        "--target",
        "species",
        "--model",
        "logistic",
        "--features",
        "sepal_length,sepal_width,petal_length,petal_width",
        "--variant",
        "minibatch:16",
        "--optimizer",
        "adam",
        "--lr",
        "0.02",
        "--epochs",
        "10",
    ];
    let mut first = fit.to_vec();
    first.extend([
        "--checkpoint",
        checkpoint.to_str().unwrap(),
        "--checkpoint-every",
        "3",
        "--save",
    ]);
    first.push(whole.to_str().unwrap());
    succeed(&first);
    let saved = downhill::Fitted::load(&checkpoint).unwrap();
    assert_eq!(saved.stop_reason(), downhill::StopReason::Checkpoint { epoch: 9 });
    assert!(
        saved.encoding().is_some(),
        "the checkpoint carries the table's encoding"
    );
    succeed(&[
        "fit",
        "--resume",
        checkpoint.to_str().unwrap(),
        "--data",
        iris,
        "--target",
        "species",
        "--epochs",
        "1",
        "--save",
        resumed.to_str().unwrap(),
    ]);
    let (a, b) = (
        downhill::Fitted::load(&resumed).unwrap(),
        downhill::Fitted::load(&whole).unwrap(),
    );
    assert_eq!(a.coefficients(), b.coefficients());
    assert_eq!(a.intercepts(), b.intercepts());
    assert_eq!(a.history().losses(), b.history().losses());
}

/// Iris by its species' names, weighted, through the CLI: the multinomial
/// model with L2 (alpha = 1/(C Σ s) for C = 1) by L-BFGS reaches
/// scikit-learn's weighted optimum (tests/data/make_multinomial.py), and
/// the saved model predicts each class's probability by name.
#[test]
fn iris_by_name_fits_the_multinomial_model_and_predicts_each_class() {
    let dir = folder("iris");
    let iris = Path::new(ROOT).join("tests/data/iris.csv");
    let iris = iris.to_str().unwrap();
    let model = dir.join("iris.json");
    // Σ s = 50 · (1 + 2 + 3) over the 150 rows.
    let alpha = (1.0f64 / 300.0).to_string();
    let said = succeed(&[
        "fit",
        "--data",
        iris,
        "--target",
        "species",
        "--model",
        "logistic",
        "--weight-column",
        "weight",
        "--no-standardize",
        "--solver",
        "lbfgs",
        "--l2",
        &alpha,
        "--epochs",
        "2000",
        "--save",
        model.to_str().unwrap(),
    ]);
    assert!(said.contains("multinomial logistic (3 classes)"), "{said}");
    assert!(
        said.contains("macro F1:") && said.contains("virginica:"),
        "{said}"
    );
    let fitted = downhill::Fitted::load(&model).unwrap();
    let expected = std::fs::read_to_string(Path::new(ROOT).join("tests/data/iris_expected.csv")).unwrap();
    let weighted: Vec<Vec<f64>> = expected
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .filter(|row: &Vec<f64>| row[0] == 1.0)
        .collect();
    for (k, row) in weighted.iter().enumerate() {
        let found: Vec<f32> = std::iter::once(fitted.intercepts()[k])
            .chain(fitted.coefficients().column(k).iter().copied())
            .collect();
        for (&a, &e) in found.iter().zip(&row[5..]) {
            assert!((f64::from(a) - e).abs() <= 1e-4 * 12.0, "class {k}: {a} vs {e}");
        }
    }
    let predictions = dir.join("predictions.csv");
    let err = stderr(&run(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--data",
        iris,
        "--proba",
        "--output",
        predictions.to_str().unwrap(),
    ]));
    assert!(err.contains("accuracy:") && err.contains("setosa:"), "{err}");
    let written = std::fs::read_to_string(&predictions).unwrap();
    let mut lines = written.lines();
    assert_eq!(
        lines.next(),
        Some("prediction,probability setosa,probability versicolor,probability virginica")
    );
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let p: Vec<f64> = cells[1..].iter().map(|v| v.parse().unwrap()).collect();
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-5, "{line}");
        let most =
            ["setosa", "versicolor", "virginica"][(0..3).fold(0, |b, k| if p[k] > p[b] { k } else { b })];
        assert_eq!(cells[0], most, "{line}");
    }
}

/// A target of more than two labels: `convert` writes their class codes in
/// sorted order and names every label (past ten, the first and the last),
/// and `fit --model logistic` fits the multinomial model to it, read whole
/// and streamed alike.
#[test]
fn a_target_of_many_labels_converts_to_codes_and_fits_the_multinomial_model() {
    let dir = folder("many-labels");
    let three = dir.join("three.csv");
    std::fs::write(&three, "x,grade\n1,B\n2,C\n3,A\n4,B\n").unwrap();
    let three = three.to_str().unwrap();
    let cleaned = dir.join("clean.csv");
    let said = succeed(&[
        "convert",
        three,
        cleaned.to_str().unwrap(),
        "--target",
        "grade",
        "--model",
        "logistic",
    ]);
    assert!(
        said.contains("target:       \"A\" → 0, \"B\" → 1, \"C\" → 2"),
        "{said}"
    );
    let written = std::fs::read_to_string(&cleaned).unwrap();
    let codes: Vec<&str> = written
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(codes, ["1", "2", "0", "1"]);

    let mut twelve = String::from("x,grade\n");
    for i in 0..12 {
        twelve.push_str(&format!("{i},g{:02}\n", 11 - i));
    }
    let twelve_path = dir.join("twelve.csv");
    std::fs::write(&twelve_path, twelve).unwrap();
    let said = succeed(&[
        "convert",
        twelve_path.to_str().unwrap(),
        dir.join("twelve.npy").to_str().unwrap(),
        "--target",
        "grade",
        "--model",
        "logistic",
    ]);
    assert!(
        said.contains("\"g00\" → 0, \"g01\" → 1, ") && said.contains("\"g07\" → 7, … 3 more …, \"g11\" → 11"),
        "{said}"
    );
    assert!(!said.contains("g08"), "{said}");
    // The .npy file holds the class codes: --model logistic reads codes
    // 0 … 11 as twelve classes.
    let said = succeed(&[
        "fit",
        "--data",
        dir.join("twelve.npy").to_str().unwrap(),
        "--target",
        "1",
        "--model",
        "logistic",
        "--epochs",
        "5",
    ]);
    assert!(said.contains("multinomial logistic (12 classes)"), "{said}");

    // Fit, read whole and streamed (a budget smaller than the file): the
    // same multinomial model, its coefficients headed by the labels.
    let fit = [
        "fit", "--data", three, "--target", "grade", "--model", "logistic", "--epochs", "20",
    ];
    let whole = succeed(&fit);
    let mut streamed = fit.to_vec();
    streamed.extend(["--memory-budget", "16B"]);
    let streamed = succeed(&streamed);
    for said in [&whole, &streamed] {
        assert!(said.contains("multinomial logistic (3 classes)"), "{said}");
    }
    let coefficients = |said: &str| said.split("coefficients").nth(1).unwrap_or_default().to_string();
    // Equal but for the order of the sums (blocks of the stream).
    let numbers = |said: &str| -> Vec<f64> {
        coefficients(said)
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect()
    };
    let (a, b) = (numbers(&whole), numbers(&streamed));
    assert_eq!(a.len(), 6, "{whole}");
    assert!(
        a.iter().zip(&b).all(|(a, b)| (a - b).abs() < 1e-5),
        "{whole}\n{streamed}"
    );
    assert!(
        coefficients(&whole)
            .lines()
            .nth(1)
            .is_some_and(|heads| heads.split_whitespace().eq(["A", "B", "C"])),
        "{whole}"
    );
}

#[test]
fn sweep_names_the_best_rate_and_clips_runaway_curves() {
    let dir = folder("sweep-best");
    let csv = exact_csv(&dir);
    let plot = dir.join("sweep.svg");
    let out = succeed(&[
        "sweep",
        "--data",
        csv.to_str().unwrap(),
        "--target",
        "y",
        "--features",
        "a,b",
        "--lrs",
        "0.01,0.1,1.2",
        "--epochs",
        "40",
        "--device",
        "cpu",
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert!(
        out.contains("best learning rate: 0.1 (the lowest final loss"),
        "{out}"
    );
    let svg = std::fs::read_to_string(&plot).unwrap();
    let document = roxmltree::Document::parse(&svg).unwrap();
    let texts: Vec<&str> = document.descendants().filter_map(|n| n.text()).collect();
    assert!(
        texts.iter().any(|t| t.contains("lr 1.2 (left the plot at epoch")),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t.contains("log scale")), "{texts:?}");
}

#[test]
fn test_size_reports_train_and_held_out_scores() {
    let dir = folder("test-size");
    let csv = credit_csv(&dir);
    let out = succeed(&[
        "fit",
        "--data",
        csv.to_str().unwrap(),
        "--target",
        "default",
        "--model",
        "logistic",
        "--missing",
        "drop",
        "--test-size",
        "0.25",
        "--device",
        "cpu",
    ]);
    // 196 rows after the drop; a quarter of each class held out.
    assert!(
        out.contains("held out:     49 of 196 rows (seed 0, stratified)"),
        "{out}"
    );
    let line = out.lines().find(|l| l.starts_with("accuracy:")).unwrap();
    assert!(line.contains("train") && line.contains("test"), "{line}");
    fail_with(
        &[
            "fit",
            "--data",
            csv.to_str().unwrap(),
            "--target",
            "default",
            "--model",
            "logistic",
            "--missing",
            "drop",
            "--test-size",
            "1.5",
        ],
        &["test fraction", "1.5"],
    );
}

/// `downhill fit … | head -1`: the reader goes away after the first line
/// (the label mapping, printed before the fit), and the report's lines,
/// printed after the fit, find no reader: the program ends without a panic.
#[test]
fn a_closed_pipe_ends_the_program_quietly() {
    use std::io::{BufRead, BufReader};
    let dir = folder("pipe");
    let mut text = String::from("x,label\n");
    for i in 0..200_000 {
        let x = (i % 1000) as f64 / 100.0;
        text.push_str(&format!(
            "{x},{}\n",
            if (i * 7919) % 1000 < i % 1000 { "Yes" } else { "No" }
        ));
    }
    let csv = dir.join("many.csv");
    std::fs::write(&csv, text).unwrap();
    let mut child = Command::new(BINARY)
        .current_dir(ROOT)
        .args([
            "fit",
            "--data",
            csv.to_str().unwrap(),
            "--target",
            "label",
            "--model",
            "logistic",
        ])
        .args(["--device", "cpu", "--epochs", "200"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("target:"), "{first}");
    // The reader is dropped here, long before the fit ends.
    let output = child.wait_with_output().unwrap();
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(!errors.contains("panicked"), "{errors}");
    assert_ne!(output.status.code(), Some(101), "{errors}");
}

/// `--data` picks the format by extension: the same table as CSV and as
/// Parquet fits to the same printed model, a Parquet file is predicted with
/// `--keep`, and an `.npy` matrix takes its target by column index.
#[test]
fn parquet_and_npy_files_fit_and_predict_like_csv() {
    let data = |name: &str| {
        Path::new(ROOT)
            .join("tests/data")
            .join(name)
            .to_str()
            .unwrap()
            .to_string()
    };
    let dir = folder("formats");
    let coefficients = |out: &str| -> String {
        out.lines()
            .skip_while(|l| !l.starts_with("coefficients"))
            .take_while(|l| !l.starts_with("saved"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let model = dir.join("model.json");
    let model = model.to_str().unwrap();
    let from_csv = succeed(&[
        "fit",
        "--data",
        &data("formats.csv"),
        "--target",
        "y",
        "--device",
        "cpu",
    ]);
    let from_parquet = succeed(&[
        "fit",
        "--data",
        &data("formats.parquet"),
        "--target",
        "y",
        "--device",
        "cpu",
        "--save",
        model,
    ]);
    assert!(from_parquet.contains("city=Nice"), "{from_parquet}");
    assert_eq!(coefficients(&from_csv), coefficients(&from_parquet));
    let predicted = succeed(&[
        "predict",
        "--model",
        model,
        "--data",
        &data("formats.parquet"),
        "--keep",
        "city",
    ]);
    let mut lines = predicted.lines();
    assert_eq!(lines.next(), Some("city,prediction"));
    assert_eq!(lines.count(), 60);

    let npy_model = dir.join("npy.json");
    let npy_model = npy_model.to_str().unwrap();
    let from_npy = succeed(&[
        "fit",
        "--data",
        &data("formats_xy.npy"),
        "--target",
        "3",
        "--device",
        "cpu",
        "--save",
        npy_model,
    ]);
    assert!(from_npy.contains("3 features"), "{from_npy}");
    let from_pair = succeed(&[
        "fit",
        "--data",
        &data("formats_x32.npy"),
        "--target",
        &data("formats_y.npy"),
        "--device",
        "cpu",
    ]);
    assert_eq!(coefficients(&from_npy), coefficients(&from_pair));
    let predicted = succeed(&[
        "predict",
        "--model",
        npy_model,
        "--data",
        &data("formats_x64.npy"),
    ]);
    assert_eq!(predicted.lines().count(), 61);
    // The model of a matrix's column 3 predicts from the same matrix: its
    // features' columns are taken by name, the target's left out.
    assert_eq!(
        succeed(&["predict", "--model", npy_model, "--data", &data("formats_xy.npy")]),
        predicted
    );
    fail_with(
        &[
            "fit",
            "--data",
            &data("formats_int.npy"),
            "--target",
            &data("formats_y.npy"),
        ],
        &["formats_int.npy", "dtype '<i8'"],
    );
    // An .npy file has no column names to choose features by.
    fail_with(
        &[
            "fit",
            "--data",
            &data("formats_x32.npy"),
            "--target",
            &data("formats_y.npy"),
            "--features",
            "x0,x2",
        ],
        &[
            "formats_x32.npy",
            "--features",
            "an .npy file's columns are all features",
        ],
    );
}

/// A rate whose loss stalls far above where it started is not stable,
/// though neither the divergence rule nor the tolerance's "converged"
/// caught it: the start is the loss at zero parameters, ln 3 for three
/// classes.
#[test]
fn sweep_judges_stability_against_the_loss_at_the_start() {
    let out = succeed(&[
        "sweep",
        "--data",
        "tests/data/iris.csv",
        "--target",
        "species",
        "--features",
        "sepal_length,sepal_width,petal_length,petal_width",
        "--model",
        "logistic",
        "--variant",
        "minibatch:16",
        "--optimizer",
        "adam",
        "--lrs",
        "100,0.1",
        "--device",
        "cpu",
    ]);
    let row = |lr: &str| {
        out.lines()
            .find(|line| line.split_whitespace().next() == Some(lr))
            .unwrap_or_else(|| panic!("no row for {lr}: {out}"))
            .to_string()
    };
    assert!(!row("0.1").contains('←'), "{out}");
    assert!(
        row("100").contains("UNSTABLE") || row("100").contains("DIVERGED"),
        "{out}"
    );
    assert!(
        out.contains("largest stable learning rate: 0.1 (it and every smaller rate neither diverged nor ended above the loss at the start, 1.09861)"),
        "{out}"
    );
}

/// Hints where a user's first try is off: a 0/1 target fitted as a
/// number, weights per label for more than two classes, a plot file of a
/// format not written, class codes with a gap; the binary probability's
/// column names its class.
#[test]
fn first_tries_that_are_off_get_a_hint() {
    let dir = folder("hints");
    let csv = dir.join("binary.csv");
    let mut text = String::from("a,b,y\n");
    for i in 0..60 {
        text.push_str(&format!("{},{},{}\n", i % 7, (i * 3) % 11, u8::from(i % 7 > 3)));
    }
    std::fs::write(&csv, text).unwrap();
    let csv = csv.to_str().unwrap();
    let out = succeed(&["fit", "--data", csv, "--target", "y", "--device", "cpu"]);
    assert!(out.contains("--model logistic fits a classifier"), "{out}");
    // The classes separate (y is a > 3): without a penalty the weights
    // grow to the epoch limit, which the note explains.
    let logistic = succeed(&[
        "fit", "--data", csv, "--target", "y", "--model", "logistic", "--device", "cpu",
    ]);
    assert!(logistic.contains("accuracy:     1\n"), "{logistic}");
    assert!(logistic.contains("the fit separates the classes"), "{logistic}");
    let penalized = succeed(&[
        "fit", "--data", csv, "--target", "y", "--model", "logistic", "--device", "cpu", "--l2", "0.01",
    ]);
    assert!(!penalized.contains("note:"), "{penalized}");
    fail_with(
        &[
            "fit",
            "--data",
            "tests/data/iris.csv",
            "--target",
            "species",
            "--model",
            "logistic",
            "--class-weight",
            "0=1,1=5",
        ],
        &[
            "--class-weight 0=W,1=W weighs the two classes",
            "3 classes",
            "--class-weight balanced",
        ],
    );
    let jpg = dir.join("loss.jpg");
    fail_with(
        &[
            "fit",
            "--data",
            csv,
            "--target",
            "y",
            "--device",
            "cpu",
            "--plot",
            jpg.to_str().unwrap(),
            "--save",
            dir.join("unsaved.json").to_str().unwrap(),
        ],
        &["name the file .svg or .png"],
    );
    // Refused before the fit: neither the plot nor the model is written.
    assert!(!jpg.exists() && !dir.join("unsaved.json").exists());
    let model = dir.join("binary.json");
    succeed(&[
        "fit",
        "--data",
        csv,
        "--target",
        "y",
        "--model",
        "logistic",
        "--device",
        "cpu",
        "--save",
        model.to_str().unwrap(),
    ]);
    let predicted = succeed(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--data",
        csv,
        "--proba",
    ]);
    assert_eq!(
        predicted.lines().next(),
        Some("prediction,probability 1"),
        "{predicted}"
    );
    // The separated classes' probabilities run far below 1e-4: written
    // in scientific notation, and read back to the same float32.
    let probabilities: Vec<&str> = predicted
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert!(probabilities.iter().any(|p| p.contains("e-")), "{predicted}");
    assert!(
        !probabilities.iter().any(|p| p.starts_with("0.0000")),
        "{predicted}"
    );
    for p in &probabilities {
        let value: f32 = p.parse().unwrap();
        assert_eq!(value.to_string().parse::<f32>().unwrap(), value);
    }
    fail_with(
        &["fit", "--data", csv, "--target", "y", "--positive-class", "1"],
        &[
            "the positive class \"1\" names a label of a classifier's target",
            "the logistic model reads labels",
        ],
    );
    let lbfgs = succeed(&[
        "fit", "--data", csv, "--target", "y", "--model", "logistic", "--solver", "lbfgs", "--l2", "0.01",
        "--device", "cpu",
    ]);
    assert!(lbfgs.contains("stopped:      converged at iteration"), "{lbfgs}");
    // Class codes 0, 1, 2 and 5: no row holds 3 or 4.
    let x = downhill::ndarray::Array2::from_shape_fn((40, 2), |(i, j)| (i * (j + 2) % 9) as f32);
    let codes = downhill::ndarray::Array1::from_shape_fn(40, |i| [0.0f32, 1.0, 2.0, 5.0][i % 4]);
    let (x_path, y_path) = (dir.join("x.npy"), dir.join("codes.npy"));
    ndarray_npy::write_npy(&x_path, &x).unwrap();
    ndarray_npy::write_npy(&y_path, &codes).unwrap();
    fail_with(
        &[
            "fit",
            "--data",
            x_path.to_str().unwrap(),
            "--target",
            y_path.to_str().unwrap(),
            "--model",
            "logistic",
        ],
        &["class codes run from 0 to 5, but no row holds 3, 4"],
    );
}

/// `--validation-fraction` on the default full batch stops on the
/// held-out loss: the saved history shows the parameters kept are of the
/// epoch of its lowest held-out loss, and the fit ran the patience (5)
/// epochs past it.
#[test]
fn a_validation_fraction_stops_the_default_fit_on_the_held_out_loss() {
    let dir = folder("validation");
    let model = dir.join("early.json");
    let out = succeed(&[
        "fit",
        "--data",
        "examples/data/diabetes.csv",
        "--target",
        "target",
        "--features",
        "age,sex,bmi,bp,s1,s2,s3,s4,s5,s6",
        "--missing",
        "mean",
        "--validation-fraction",
        "0.2",
        "--device",
        "cpu",
        "--save",
        model.to_str().unwrap(),
    ]);
    assert!(
        out.contains("early stop:   on the loss of 20 % of the rows, held out (seed 0)"),
        "{out}"
    );
    let saved = read_json(&model);
    let held_out: Vec<f64> = saved["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["validation_loss"].as_f64().unwrap())
        .collect();
    let lowest = (0..held_out.len())
        .min_by(|&a, &b| held_out[a].total_cmp(&held_out[b]))
        .unwrap();
    let (best, last) = (lowest + 1, held_out.len());
    assert_eq!(last, best + 5, "{held_out:?}");
    assert!(
        out.contains(&format!(
            "stopped:      early at epoch {last}: the held-out loss stopped improving (parameters of epoch {best}, its lowest)"
        )),
        "{out}"
    );
}

/// `fit --resume` goes on with the saved settings; options it does not
/// read are named in a warning rather than dropped silently.
#[test]
fn resume_names_the_options_it_does_not_apply() {
    let dir = folder("resume-options");
    let csv = exact_csv(&dir);
    let (csv, model) = (csv.to_str().unwrap(), dir.join("first.json"));
    let model = model.to_str().unwrap();
    succeed(&[
        "fit", "--data", csv, "--target", "y", "--epochs", "3", "--device", "cpu", "--save", model,
    ]);
    let resumed = |extra: &[&str]| {
        let mut args = vec![
            "fit", "--resume", model, "--data", csv, "--target", "y", "--epochs", "2",
        ];
        args.extend(extra);
        let output = run(&args);
        assert!(output.status.success(), "{}", stderr(&output));
        stderr(&output)
    };
    assert!(!resumed(&[]).contains("warning"));
    let warned = resumed(&["--lr", "5", "--optimizer", "sgd", "--device", "cpu"]);
    assert!(
        warned.contains(
            "continues the saved fit with its own settings; --lr, --optimizer, --device not applied"
        ),
        "{warned}"
    );
}

/// Messages name the option that is off, and the file and line of a bad
/// cell.
#[test]
fn messages_name_the_option_the_file_and_the_line() {
    let dir = folder("messages");
    let csv = dir.join("counts.csv");
    std::fs::write(&csv, "a,n,w\n1,3,1\n2,-1,1\n3,4,2\n").unwrap();
    let csv = csv.to_str().unwrap();
    fail_with(
        &["fit", "--data", csv, "--target", "n", "--loss", "poisson"],
        &["line 3 of", "counts.csv", "target \"n\" is -1", "Poisson"],
    );
    fail_with(
        &["fit", "--data", csv, "--target", "n", "--weight-column", "n"],
        &["column \"n\" is the target; it cannot also hold the sample weights"],
    );
    fail_with(
        &[
            "fit",
            "--data",
            csv,
            "--target",
            "n",
            "--validation-fraction",
            "1",
        ],
        &["the validation fraction must lie strictly between 0 and 1, got 1"],
    );
    fail_with(
        &[
            "sweep", "--data", csv, "--target", "a", "--solver", "lbfgs", "--lrs", "0.1,1",
        ],
        &["sweep compares learning rates, which L-BFGS does not take"],
    );
}

/// `predict` says which cells it filled, left blank or did not know, one
/// warning each, on standard error.
#[test]
fn predict_counts_missing_and_unseen_cells_in_its_warnings() {
    let dir = folder("predict-warnings");
    let train = dir.join("train.csv");
    let mut text = String::from("age,city,y\n");
    for i in 0..40 {
        let city = ["Lyon", "Nice", "Paris"][i % 3];
        text.push_str(&format!("{},{city},{}\n", 20 + i, (i * 7) % 11));
    }
    std::fs::write(&train, text).unwrap();
    let model = dir.join("model.json");
    succeed(&[
        "fit",
        "--data",
        train.to_str().unwrap(),
        "--target",
        "y",
        "--device",
        "cpu",
        "--save",
        model.to_str().unwrap(),
    ]);
    let later = dir.join("later.csv");
    std::fs::write(&later, "city,age\nRome,30\nParis,\n,41\n,NA\n").unwrap();
    let output = run(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--data",
        later.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let warnings = stderr(&output);
    for expected in [
        "later.csv: 1 cell with values the model had not seen (the first city=\"Rome\", line 2), encoded as all zeros",
        "later.csv: 2 cells missing, filled with the means saved with the model",
        "later.csv: 2 cells of text columns missing, encoded as none of their values (zeros)",
    ] {
        assert!(warnings.contains(expected), "{expected}\n{warnings}");
    }
    assert_eq!(stdout(&output).lines().count(), 5, "{}", stdout(&output));
}

/// `bench --write` makes .npy files block by block; `fit` reads them
/// through a memory budget of a few blocks, and the fit equals the one of
/// the same files with the rows in memory.
#[test]
fn bench_writes_npy_files_that_fit_streams_through_a_small_budget() {
    let dir = folder("streamed");
    let out = succeed(&[
        "bench",
        "--write",
        dir.to_str().unwrap(),
        "--rows",
        "20000",
        "--features",
        "4",
        "--seed",
        "3",
    ]);
    assert!(out.contains("x.npy"), "{out}");
    let (x, y) = (dir.join("x.npy"), dir.join("y.npy"));
    let fit = |budget: &str| {
        succeed(&[
            "fit",
            "--data",
            x.to_str().unwrap(),
            "--target",
            y.to_str().unwrap(),
            "--device",
            "cpu",
            "--memory-budget",
            budget,
        ])
    };
    let coefficients = |out: &str| -> Vec<f64> {
        out.lines()
            .skip_while(|l| !l.starts_with("coefficients"))
            .skip(1)
            .map(|l| l.split_whitespace().last().unwrap().parse().unwrap())
            .collect()
    };
    let (streamed, resident) = (fit("64KB"), fit("1GB"));
    assert!(streamed.contains("converged"), "{streamed}");
    let (a, b) = (coefficients(&streamed), coefficients(&resident));
    assert_eq!(a.len(), 5);
    for (a, b) in a.iter().zip(&b) {
        assert!((a - b).abs() <= 1e-4 * a.abs().max(1.0), "{streamed}\n{resident}");
    }
}

/// `bench --json` into `dir`: the printed tables and the JSON.
fn bench_report(dir: &Path, args: &[&str]) -> (String, serde_json::Value) {
    let json = dir.join("bench.json");
    let mut all = vec!["bench", "--json", json.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = succeed(&all);
    (out, read_json(&json))
}

/// A run's figures agree with its own epoch times and work counts: the
/// median of the timed epochs (the warm-up left out) gives the rates, their
/// sum the total, and the counts cover every epoch, the warm-up included.
fn check_bench_run(run: &serde_json::Value, rows: usize, x_bytes: f64, timed: usize) {
    let what = format!("{run}");
    assert!(run["error"].is_null(), "{what}");
    assert_eq!(run["epochs"], timed, "{what}");
    assert_eq!(run["warmup_epochs"], 1, "{what}");
    let epochs: Vec<f64> = run["epoch_seconds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_f64().unwrap())
        .collect();
    assert_eq!(epochs.len(), timed, "{what}");
    assert!(epochs.iter().all(|&s| s > 0.0), "{what}");
    let mut sorted = epochs.clone();
    sorted.sort_by(f64::total_cmp);
    let median = if timed % 2 == 1 {
        sorted[timed / 2]
    } else {
        (sorted[timed / 2 - 1] + sorted[timed / 2]) / 2.0
    };
    let field = |name: &str| {
        run[name]
            .as_f64()
            .unwrap_or_else(|| panic!("no {name} in {what}"))
    };
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs();
    assert!(close(field("median_epoch_seconds"), median), "{what}");
    assert!(close(field("seconds"), epochs.iter().sum()), "{what}");
    assert!(close(field("samples_per_s"), rows as f64 / median), "{what}");
    let steps = field("steps_per_epoch");
    assert!(close(field("steps_per_s"), steps / median), "{what}");
    assert!(close(field("us_per_step"), 1e6 * median / steps), "{what}");
    assert!(close(field("gb_per_s"), x_bytes / 1e9 / median), "{what}");
    let batch = run["batch_size"].as_str().unwrap();
    let expected_steps = match batch {
        "full" => 1,
        size => rows.div_ceil(size.parse::<usize>().unwrap()),
    };
    assert_eq!(steps, expected_steps as f64, "{what}");
    let work = &run["work"];
    assert_eq!(work["epochs"], timed + 1, "{what}");
    assert_eq!(work["steps"], (timed + 1) * expected_steps, "{what}");
    let per_epoch = |count: &str| work[count].as_f64().unwrap() / (timed + 1) as f64;
    assert!(
        close(field("submissions_per_epoch"), per_epoch("submissions")),
        "{what}"
    );
    assert!(
        close(field("readbacks_per_epoch"), per_epoch("readbacks")),
        "{what}"
    );
    assert!(
        close(field("x_bytes_read_per_epoch"), per_epoch("x_bytes_read")),
        "{what}"
    );
    assert!(
        close(field("x_reads_per_epoch"), per_epoch("x_bytes_read") / x_bytes),
        "{what}"
    );
    assert!(
        close(field("shuffle_seconds_per_epoch"), per_epoch("shuffle_seconds")),
        "{what}"
    );
    assert!(
        close(
            field("dispatches_per_step"),
            work["dispatches"].as_f64().unwrap() / ((timed + 1) * expected_steps) as f64
        ),
        "{what}"
    );
    assert!(field("final_loss").is_finite(), "{what}");
}

/// `bench` times the epochs after a warm-up epoch (the median for the
/// rates), says so, and prints and writes the work the engine counted; on
/// the CPU there is no kernel generation and no GPU work.
#[test]
fn bench_reports_median_epochs_after_a_warm_up_and_the_work_counted() {
    let dir = folder("bench-cpu");
    let (rows, features, timed) = (5000, 4, 3);
    let (out, report) = bench_report(
        &dir,
        &[
            "--rows",
            "5000",
            "--features",
            "4",
            "--epochs",
            "3",
            "--batch-sizes",
            "64,full",
            "--device",
            "cpu",
        ],
    );
    for expected in [
        "3 timed epochs per run after 1 warm-up epoch",
        "times exclude the warm-up epoch",
        "rates from the median epoch",
        "epoch ms",
        "total s",
        "µs/step",
        "samples/s",
        "GB/s",
        "% peak",
        "shuffle ms",
        "dispatches/step",
        "submissions/epoch",
        "readbacks/epoch",
        "X read/epoch",
        "1.00× X",
        "counts include the warm-up epoch",
    ] {
        assert!(out.contains(expected), "{expected:?} missing from\n{out}");
    }
    assert!(!out.contains("÷"), "no kernel ratio without a GPU run\n{out}");
    assert_eq!(report["warmup_epochs"], 1);
    assert_eq!(report["epochs"], timed);
    assert_eq!(report["kernels"], serde_json::json!([]));
    let x_bytes = (rows * features * 4) as f64;
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{report}");
    for run in runs {
        assert_eq!(run["device"], "cpu");
        assert!(run["kernels"].is_null(), "{run}");
        check_bench_run(run, rows, x_bytes, timed);
        // The CPU reads each row once an epoch and talks to no GPU.
        assert_eq!(run["x_reads_per_epoch"], 1.0, "{run}");
        for count in ["dispatches", "submissions", "readbacks", "uploaded_bytes"] {
            assert_eq!(run["work"][count], 0, "{count}: {run}");
        }
    }
    fail_with(
        &["bench", "--device", "cpu", "--kernels", "current,newest"],
        &["newest", "current or legacy"],
    );
}

/// On the GPU, `--kernels current,legacy` runs each configuration once per
/// kernel generation, names the generation in the table and the JSON, and
/// gives current ÷ legacy per configuration; the full batch's structure is
/// one submission and one readback an epoch, X read once.
#[test]
fn bench_runs_each_gpu_configuration_once_per_kernel_generation() {
    if common::gpu("bench --kernels on the GPU").is_none() {
        return;
    }
    let dir = folder("bench-gpu");
    let (rows, features, timed) = (3000, 4, 2);
    let (out, report) = bench_report(
        &dir,
        &[
            "--rows",
            "3000",
            "--features",
            "4",
            "--epochs",
            "2",
            "--batch-sizes",
            "64,full",
            "--device",
            "gpu",
            "--kernels",
            "current,legacy",
        ],
    );
    for expected in [
        "times exclude the warm-up epoch and the upload of X",
        "% peak: of the GPU copy bandwidth",
        "current ÷ legacy",
        "dispatches/step",
    ] {
        assert!(out.contains(expected), "{expected:?} missing from\n{out}");
    }
    assert_eq!(report["kernels"], serde_json::json!(["current", "legacy"]));
    let x_bytes = (rows * features * 4) as f64;
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4, "{report}");
    for batch in ["64", "full"] {
        let of = |kernels: &str| {
            runs.iter()
                .find(|r| r["batch_size"] == batch && r["kernels"] == kernels)
                .unwrap_or_else(|| panic!("no {kernels} run of batch {batch}: {report}"))
        };
        let (current, legacy) = (of("current"), of("legacy"));
        for run in [current, legacy] {
            assert_eq!(run["device"], "gpu");
            check_bench_run(run, rows, x_bytes, timed);
            assert!(run["dispatches_per_step"].as_f64().unwrap() > 0.0, "{run}");
            if batch == "full" {
                assert_eq!(run["submissions_per_epoch"], 1.0, "{run}");
                assert_eq!(run["readbacks_per_epoch"], 1.0, "{run}");
                assert_eq!(run["x_reads_per_epoch"], 1.0, "{run}");
            }
        }
        // Both generations fit the same data the same way.
        let (a, b) = (
            current["final_loss"].as_f64().unwrap(),
            legacy["final_loss"].as_f64().unwrap(),
        );
        assert!((a - b).abs() <= 1e-3 * b.abs(), "{a} vs {b}");
        // The ratio line of this configuration: batch, shuffle, ratio.
        let shuffle = current["shuffle"].as_str().unwrap();
        let ratio = out
            .lines()
            .skip_while(|l| !l.contains("current ÷ legacy kernels"))
            .find(|l| l.split_whitespace().take(2).eq([batch, shuffle]))
            .unwrap_or_else(|| panic!("no ratio line for batch {batch}\n{out}"));
        let printed: f64 = ratio
            .split_whitespace()
            .last()
            .unwrap()
            .trim_end_matches('×')
            .parse()
            .unwrap();
        let expected = current["samples_per_s"].as_f64().unwrap() / legacy["samples_per_s"].as_f64().unwrap();
        assert!(
            (printed - expected).abs() <= 5e-4 * expected + 1e-3,
            "{printed} vs {expected}\n{out}"
        );
    }
}

/// `convert` cleans a table once (one-hot text, mean-filled cells, labels
/// as 0/1) into Parquet, `.npy` or CSV; each fits to the same coefficients
/// as the original table.
#[test]
fn convert_writes_cleaned_tables_that_fit_like_the_original() {
    let dir = folder("convert");
    let csv = credit_csv(&dir);
    let csv = csv.to_str().unwrap();
    let cleaning = [
        "--target",
        "default",
        "--model",
        "logistic",
        "--missing",
        "mean",
        "--features",
        "student,city,income,balance",
    ];
    let fit_args = |data: &str, target: &str| -> Vec<String> {
        [
            "fit",
            "--data",
            data,
            "--target",
            target,
            "--model",
            "logistic",
            "--device",
            "cpu",
            "--missing",
            "mean",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let coefficients = |out: &str| -> Vec<f64> {
        out.lines()
            .skip_while(|l| !l.starts_with("coefficients"))
            .skip(1)
            .map(|l| l.split_whitespace().last().unwrap().parse().unwrap())
            .collect()
    };
    let mut original = fit_args(csv, "default");
    original.extend(["--features", "student,city,income,balance"].map(String::from));
    let original: Vec<&str> = original.iter().map(String::as_str).collect();
    let reference = coefficients(&succeed(&original));
    assert_eq!(reference.len(), 8);
    for (name, target) in [
        ("clean.parquet", "default"),
        ("clean.csv", "default"),
        ("clean.npy", "7"),
    ] {
        let out = dir.join(name);
        let out = out.to_str().unwrap();
        let mut args = vec!["convert", csv, out];
        args.extend(cleaning);
        let said = succeed(&args);
        assert!(said.contains("200 rows × 7 features"), "{said}");
        let converted = fit_args(out, target);
        let converted: Vec<&str> = converted.iter().map(String::as_str).collect();
        let found = coefficients(&succeed(&converted));
        assert_eq!(found.len(), reference.len(), "{name}");
        for (a, b) in found.iter().zip(&reference) {
            assert!(
                (a - b).abs() <= 1e-4 * b.abs().max(1e-3),
                "{name}: {found:?} vs {reference:?}"
            );
        }
    }
}

/// `convert` reads its input block by block while it writes: writing over
/// the input would destroy it, so the same file is refused, and the file
/// is left as it was.
#[test]
fn convert_refuses_to_write_over_its_input() {
    let dir = folder("convert-same");
    let csv = dir.join("t.csv");
    let text = "a,b,y\n1,2,3\n2,1,4\n3,5,1\n";
    std::fs::write(&csv, text).unwrap();
    let path = csv.to_str().unwrap();
    fail_with(&["convert", path, path, "--target", "y"], &["is the input file"]);
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), text);
}

/// `fit --resume model.json` continues a saved fit over the rows of
/// `--data` (scikit-learn's partial_fit): five epochs, saved, then three
/// more, print the coefficients of one fit of eight epochs.
#[test]
fn resume_continues_a_saved_fit_like_one_longer_fit() {
    let dir = folder("resume");
    let csv = exact_csv(&dir);
    let csv = csv.to_str().unwrap();
    let model = dir.join("first.json");
    let model = model.to_str().unwrap();
    let coefficients = |out: &str| -> String {
        out.lines()
            .skip_while(|l| !l.starts_with("coefficients"))
            .take_while(|l| !l.starts_with("saved"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let common = [
        "--data",
        csv,
        "--target",
        "y",
        "--features",
        "a,b",
        "--device",
        "cpu",
    ];
    let run = |extra: &[&str]| {
        let mut args = vec!["fit"];
        args.extend_from_slice(&common);
        args.extend_from_slice(extra);
        succeed(&args)
    };
    let whole = run(&[
        "--epochs",
        "8",
        "--variant",
        "minibatch:8",
        "--optimizer",
        "adam",
        "--lr",
        "0.05",
    ]);
    run(&[
        "--epochs",
        "5",
        "--variant",
        "minibatch:8",
        "--optimizer",
        "adam",
        "--lr",
        "0.05",
        "--save",
        model,
    ]);
    let resumed = run(&["--resume", model, "--epochs", "3"]);
    assert!(resumed.contains("epochs:       8"), "{resumed}");
    assert_eq!(coefficients(&resumed), coefficients(&whole));
}

/// `--loss` picks the model it fits when `--model` is not given: a
/// classification loss fits the logistic model on the labels, Poisson the
/// linear one; a loss of the other model than `--model` names is an error.
#[test]
fn the_loss_picks_its_model_and_reports_what_it_gives() {
    let dir = folder("losses");
    let csv = exact_csv(&dir);
    let csv = csv.to_str().unwrap();
    let out = succeed(&[
        "fit",
        "--data",
        csv,
        "--target",
        "label",
        "--features",
        "a,b",
        "--loss",
        "modified_huber",
    ]);
    assert!(out.contains("logistic regression"), "{out}");
    assert!(out.contains("log-loss:"), "{out}");
    let out = succeed(&[
        "fit",
        "--data",
        csv,
        "--target",
        "label",
        "--features",
        "a,b",
        "--loss",
        "hinge",
    ]);
    assert!(out.contains("ROC AUC:") && !out.contains("log-loss:"), "{out}");
    fail_with(
        &[
            "fit",
            "--data",
            csv,
            "--target",
            "y",
            "--features",
            "a,b",
            "--model",
            "linear",
            "--loss",
            "hinge",
        ],
        &["hinge loss fits a logistic model", "linear"],
    );
}

#[test]
fn weight_column_and_class_weights_reach_the_weighted_optimum() {
    let dir = folder("weights");
    // tests/data/logistic.csv with its labels as text.
    let source = std::fs::read_to_string(Path::new(ROOT).join("tests/data/logistic.csv")).unwrap();
    let mut text = String::new();
    for (i, line) in source.lines().enumerate() {
        let mut cells: Vec<&str> = line.split(',').collect();
        if i > 0 {
            cells[5] = if cells[5] == "1" { "yes" } else { "no" };
        }
        text.push_str(&cells.join(","));
        text.push('\n');
    }
    let csv = dir.join("weighted.csv");
    std::fs::write(&csv, &text).unwrap();
    let model = dir.join("model.json");
    // scikit-learn's LogisticRegression(C=1, sample_weight=weight):
    // tests/data/logistic_expected.csv, last row (make_logistic.py).
    let expected = std::fs::read_to_string(Path::new(ROOT).join("tests/data/logistic_expected.csv")).unwrap();
    let row: Vec<f64> = expected
        .lines()
        .nth(4)
        .unwrap()
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!((row[0], row[1]), (1.0, 1.0));
    let alpha = row[2].to_string();
    let report = succeed(&[
        "fit",
        "--data",
        csv.to_str().unwrap(),
        "--target",
        "y",
        "--model",
        "logistic",
        "--weight-column",
        "weight",
        "--solver",
        "lbfgs",
        "--no-standardize",
        "--penalty",
        "l2",
        "--alpha",
        &alpha,
        "--save",
        model.to_str().unwrap(),
    ]);
    assert!(report.contains("weights:      column \"weight\""), "{report}");
    let saved = read_json(&model);
    assert_eq!(
        saved["features"].as_array().unwrap().len(),
        5,
        "the weight is not a feature"
    );
    let found: Vec<f64> = std::iter::once(saved["bias"].as_f64().unwrap())
        .chain(
            saved["weights"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap()),
        )
        .collect();
    for (f, e) in found.iter().zip(&row[3..]) {
        assert!((f - e).abs() <= 1e-5 * 3.6, "{found:?} vs {:?}", &row[3..]);
    }
    // Balanced class weights are accepted and reported; a negative weight
    // is named by its line.
    let report = succeed(&[
        "fit",
        "--data",
        csv.to_str().unwrap(),
        "--target",
        "y",
        "--model",
        "logistic",
        "--class-weight",
        "balanced",
        "--epochs",
        "5",
    ]);
    assert!(report.contains("class weights: balanced"), "{report}");
    let negative = dir.join("negative.csv");
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut cells: Vec<String> = lines[6].split(',').map(String::from).collect();
    cells[6] = "-2".into();
    lines[6] = cells.join(",");
    std::fs::write(&negative, lines.join("\n") + "\n").unwrap();
    fail_with(
        &[
            "fit",
            "--data",
            negative.to_str().unwrap(),
            "--target",
            "y",
            "--model",
            "logistic",
            "--weight-column",
            "weight",
        ],
        &["line 7", "sample weight is -2"],
    );
    fail_with(
        &[
            "fit",
            "--data",
            csv.to_str().unwrap(),
            "--target",
            "y",
            "--model",
            "logistic",
            "--class-weight",
            "2=1",
        ],
        &["label \"2\""],
    );
}

/// Every output that is also an input is refused before anything is
/// written, the input left as it was: `predict --output` over its `--data`
/// or `--model`, and `fit --save` or `--checkpoint` over its `--data`
/// (through a link too).
#[test]
fn outputs_never_overwrite_inputs() {
    let dir = folder("output-is-input");
    let csv = exact_csv(&dir);
    let data = csv.to_str().unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    let model = dir.join("model.json");
    let model_path = model.to_str().unwrap();
    succeed(&[
        "fit",
        "--data",
        data,
        "--target",
        "y",
        "--features",
        "a,b",
        "--save",
        model_path,
    ]);
    let saved = std::fs::read_to_string(&model).unwrap();
    let link = dir.join("link.csv");
    std::os::unix::fs::symlink(&csv, &link).unwrap();
    for (output, input) in [
        (data, "--data"),
        (model_path, "--model"),
        (link.to_str().unwrap(), "--data"),
    ] {
        fail_with(
            &[
                "predict", "--model", model_path, "--data", data, "--output", output,
            ],
            &[output, &format!("is the {input} file")],
        );
    }
    for flag in ["--save", "--checkpoint"] {
        fail_with(
            &[
                "fit",
                "--data",
                data,
                "--target",
                "y",
                "--features",
                "a,b",
                flag,
                data,
            ],
            &[data, "is the --data file"],
        );
    }
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), text);
    assert_eq!(std::fs::read_to_string(&model).unwrap(), saved);
}

/// A fit that diverges is an error and does not replace the model that
/// `--save` names.
#[test]
fn a_diverged_fit_keeps_the_saved_model() {
    let dir = folder("diverged-save");
    let csv = exploding_csv(&dir);
    let data = csv.to_str().unwrap();
    let model = dir.join("model.json");
    let path = model.to_str().unwrap();
    let base = [
        "fit",
        "--data",
        data,
        "--target",
        "price",
        "--standardize",
        "--device",
        "cpu",
        "--save",
        path,
    ];
    succeed(&base);
    let good = std::fs::read_to_string(&model).unwrap();
    let diverging: Vec<&str> = base
        .iter()
        .copied()
        .chain(["--lr", "0.75", "--epochs", "5000"])
        .collect();
    let output = run(&diverging);
    assert!(!output.status.success(), "{}", stdout(&output));
    assert!(!stdout(&output).contains("saved"), "{}", stdout(&output));
    assert!(stderr(&output).contains("not written"), "{}", stderr(&output));
    assert_eq!(std::fs::read_to_string(&model).unwrap(), good);
}

/// The outputs are checked before the fit: a `--save` into a missing
/// folder fails at once, with "cannot write".
#[test]
fn an_output_that_cannot_be_written_fails_before_the_fit() {
    let dir = folder("unwritable-save");
    let csv = exact_csv(&dir);
    let missing = dir.join("no-such-folder").join("model.json");
    for flag in ["--save", "--checkpoint"] {
        fail_with(
            &[
                "fit",
                "--data",
                csv.to_str().unwrap(),
                "--target",
                "y",
                "--features",
                "a,b",
                flag,
                missing.to_str().unwrap(),
            ],
            &["cannot write", missing.to_str().unwrap()],
        );
    }
}

/// A 1 MB file system (tmpfs, where this process may mount one): every
/// writer that finds the disk full fails with a message, never a signal,
/// and leaves the file that was there, and no temporary file beside it.
#[test]
fn a_full_disk_leaves_the_old_files() {
    let dir = folder("full-disk");
    let small = dir.join("small");
    std::fs::create_dir_all(&small).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs", small.to_str().unwrap()])
        .output();
    if !matches!(&mounted, Ok(output) if output.status.success()) {
        eprintln!("skipped: this process cannot mount a 1 MB tmpfs ({mounted:?})");
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(&small);
    // 40,000 rows × 12 features of random digits: 2 MB as float32 (and
    // as Parquet, which cannot compress them), more as text.
    let mut state = 987654321u64;
    let mut text = (0..12).map(|j| format!("x{j},")).collect::<String>() + "y\n";
    for _ in 0..40_000 {
        let row: Vec<String> = (0..13)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                format!("{:.6}", (state >> 11) as f64 / (1u64 << 53) as f64)
            })
            .collect();
        text.push_str(&row.join(","));
        text.push('\n');
    }
    let csv = dir.join("big.csv");
    std::fs::write(&csv, &text).unwrap();
    let model = small.join("model.json");
    let fit_small = exact_csv(&dir);
    succeed(&[
        "fit",
        "--data",
        fit_small.to_str().unwrap(),
        "--target",
        "y",
        "--features",
        "a,b",
        "--save",
        model.to_str().unwrap(),
    ]);
    let old_model = std::fs::read(&model).unwrap();
    for name in ["out.npy", "out.csv", "out.parquet"] {
        let out = small.join(name);
        std::fs::write(&out, "the old file").unwrap();
        let output = run(&[
            "convert",
            csv.to_str().unwrap(),
            out.to_str().unwrap(),
            "--target",
            "y",
        ]);
        assert_eq!(output.status.code(), Some(1), "{name}: {}", stderr(&output));
        assert!(
            stderr(&output).contains("cannot write"),
            "{name}: {}",
            stderr(&output)
        );
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "the old file", "{name}");
        std::fs::remove_file(&out).unwrap();
    }
    // The predictions of 40,000 rows take more than the space left.
    let predictions = small.join("predictions.csv");
    std::fs::write(&predictions, "the old file").unwrap();
    let big_model = dir.join("big-model.json");
    succeed(&[
        "fit",
        "--data",
        csv.to_str().unwrap(),
        "--target",
        "y",
        "--save",
        big_model.to_str().unwrap(),
    ]);
    let filler = small.join("filler");
    std::fs::write(&filler, vec![0u8; 900_000]).unwrap();
    let output = run(&[
        "predict",
        "--model",
        big_model.to_str().unwrap(),
        "--data",
        csv.to_str().unwrap(),
        "--output",
        predictions.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(std::fs::read_to_string(&predictions).unwrap(), "the old file");
    // And a model: the disk filled to its last bytes.
    std::fs::remove_file(&predictions).unwrap();
    {
        use std::io::Write;
        let mut filler = std::fs::File::create(small.join("filler2")).unwrap();
        while filler.write_all(&[0u8; 4096]).is_ok() {}
    }
    let output = run(&[
        "fit",
        "--data",
        csv.to_str().unwrap(),
        "--target",
        "y",
        "--save",
        model.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(std::fs::read(&model).unwrap(), old_model);
    let mut left: Vec<String> = std::fs::read_dir(&small)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["filler", "filler2", "model.json"]);
}

/// A table's problems come in one message, each as it would alone; a
/// target missing in rows without any other missing cell is said so; the
/// hints name the options that change them.
#[test]
fn a_table_s_problems_come_at_once_and_name_their_options() {
    let dir = folder("table-problems");
    let both = dir.join("both.csv");
    std::fs::write(&both, "a,b,y\n1,2,3\n2,,4\n3,1,x\n4,2,5\n5,3,6\n").unwrap();
    let output = run(&["fit", "--data", both.to_str().unwrap(), "--target", "y"]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("2 problems with the table"), "{message}");
    assert!(message.contains("holds \"x\", not a number"), "{message}");
    assert!(message.contains("--model logistic"), "{message}");
    assert!(message.contains("missing values (columns: b"), "{message}");
    let target_only = dir.join("target-only.csv");
    std::fs::write(&target_only, "a,b,y\n1,2,3\n2,1,4\n3,1,\n4,2,5\n5,3,6\n").unwrap();
    fail_with(
        &["fit", "--data", target_only.to_str().unwrap(), "--target", "y"],
        &[
            "1 row has no value in the target \"y\"",
            "line 4",
            "no other missing cell",
        ],
    );
    // A text column past the count the survey keeps: "at least", and the
    // option named.
    let wide = dir.join("wide.csv");
    let mut text = String::from("name,a,y\n");
    for i in 0..12_000 {
        text.push_str(&format!("n{i},{},{}\n", i % 7, (i * 13) % 11));
    }
    std::fs::write(&wide, text).unwrap();
    let out = succeed(&[
        "fit",
        "--data",
        wide.to_str().unwrap(),
        "--target",
        "y",
        "--epochs",
        "1",
    ]);
    assert!(
        out.contains("at least 10000 distinct values, more than the cap of 50 (--max-categories)"),
        "{out}"
    );
    // Past the cap raised, a column of a value a row is an identifier,
    // left out by that rule; named, it is one-hot encoded as sparse rows
    // (12,000 × 12,001 would be a 0.58 GB dense matrix, beyond the budget).
    let raised = succeed(&[
        "fit",
        "--data",
        wide.to_str().unwrap(),
        "--target",
        "y",
        "--max-categories",
        "100000",
        "--memory-budget",
        "100MB",
        "--epochs",
        "1",
    ]);
    assert!(
        raised.contains("\"name\": 12000 distinct values in 12000 cells: an identifier"),
        "{raised}"
    );
    let named = succeed(&[
        "fit",
        "--data",
        wide.to_str().unwrap(),
        "--target",
        "y",
        "--features",
        "name,a",
        "--max-categories",
        "100000",
        "--memory-budget",
        "100MB",
        "--epochs",
        "1",
    ]);
    assert!(named.contains("12000 rows × 12001 features"), "{named}");
}

/// `predict --missing`: mean (the default) fills a row's missing cells
/// with the saved means and says how to choose otherwise; drop leaves the
/// rows out (the kept columns and the scores with them); error refuses,
/// naming the first line.
#[test]
fn predict_chooses_what_missing_cells_become() {
    let dir = folder("predict-missing");
    let train = dir.join("train.csv");
    std::fs::write(
        &train,
        "id,a,b,y\n1,1,2,3\n2,2,1,4\n3,3,1,5\n4,4,2,7\n5,5,3,9\n6,6,2,9\n",
    )
    .unwrap();
    let model = dir.join("model.json");
    succeed(&[
        "fit",
        "--data",
        train.to_str().unwrap(),
        "--target",
        "y",
        "--features",
        "a,b",
        "--save",
        model.to_str().unwrap(),
    ]);
    let new = dir.join("new.csv");
    std::fs::write(&new, "id,a,b,y\n7,1,,3\n8,2,1,4\n9,,1,5\n").unwrap();
    let (model, new) = (model.to_str().unwrap(), new.to_str().unwrap());
    let filled = run(&["predict", "--model", model, "--data", new, "--keep", "id"]);
    assert!(filled.status.success(), "{}", stderr(&filled));
    assert_eq!(stdout(&filled).lines().count(), 4, "{}", stdout(&filled));
    assert!(
        stderr(&filled).contains("--missing drop leaves such rows out"),
        "{}",
        stderr(&filled)
    );
    let dropped = run(&[
        "predict",
        "--model",
        model,
        "--data",
        new,
        "--keep",
        "id",
        "--missing",
        "drop",
    ]);
    assert!(dropped.status.success(), "{}", stderr(&dropped));
    let lines: Vec<String> = stdout(&dropped).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].starts_with("8,"), "{lines:?}");
    assert!(
        stderr(&dropped).contains("scores on the 1 rows"),
        "{}",
        stderr(&dropped)
    );
    fail_with(
        &["predict", "--model", model, "--data", new, "--missing", "error"],
        &["2 rows have missing cells", "line 2", "--missing drop"],
    );
}

/// A text column of numbers written with separators is one-hot encoded,
/// as asked, with a warning that says how they are written.
#[test]
fn numbers_written_as_text_are_warned_of() {
    let dir = folder("numbers-as-text");
    let csv = dir.join("prices.csv");
    std::fs::write(
        &csv,
        "price,a,y\n\"1,000\",1,3\n\"2,500\",2,4\n\"1,200\",3,5\n\"3,000\",4,7\n",
    )
    .unwrap();
    let output = run(&["fit", "--data", csv.to_str().unwrap(), "--target", "y"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("column \"price\" holds numbers with thousands separators"),
        "{}",
        stderr(&output)
    );
}

/// Four fits checkpointing to one path at every epoch: each writes its
/// own temporary file and renames it, so none fails (they shared one
/// `.partial` name, and three in four lost their file to another's rename
/// when this test was written).
#[test]
fn fits_checkpointing_to_one_path_all_finish() {
    let dir = folder("shared-checkpoint");
    let csv = exact_csv(&dir);
    let checkpoint = dir.join("ck.json");
    let args = [
        "fit",
        "--data",
        csv.to_str().unwrap(),
        "--target",
        "y",
        "--features",
        "a,b",
        "--variant",
        "minibatch:4",
        "--epochs",
        "1000",
        "--checkpoint",
        checkpoint.to_str().unwrap(),
        "--checkpoint-every",
        "1",
    ];
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(BINARY)
                .current_dir(ROOT)
                .args(args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        !names.iter().any(|n| n.to_string_lossy().contains("partial")),
        "{names:?}"
    );
    read_json(&checkpoint);
}

/// `convert` killed while it writes leaves the file that was there: the
/// rows go to a temporary file, renamed over the output only when whole.
#[test]
fn a_killed_convert_leaves_the_old_output() {
    let dir = folder("killed-convert");
    let mut text = String::from("a,b,c,y\n");
    for i in 0..1_000_000u64 {
        text.push_str(&format!(
            "{},{},{},{}\n",
            i % 97,
            (i * 7) % 89,
            (i * 13) % 83,
            i % 2
        ));
    }
    let csv = dir.join("big.csv");
    std::fs::write(&csv, text).unwrap();
    for name in ["out.npy", "out.csv", "out.parquet"] {
        // What an uninterrupted convert writes: a kill that lands after the
        // rename (but before the process exits) leaves this, not the old file.
        let finished = dir.join(format!("finished-{name}"));
        let started = std::time::Instant::now();
        succeed(&[
            "convert",
            csv.to_str().unwrap(),
            finished.to_str().unwrap(),
            "--target",
            "y",
        ]);
        let whole_run = started.elapsed();
        let finished = std::fs::read(&finished).unwrap();
        let out = dir.join(name);
        std::fs::write(&out, "the old file").unwrap();
        let mut child = Command::new(BINARY)
            .current_dir(ROOT)
            .args([
                "convert",
                csv.to_str().unwrap(),
                out.to_str().unwrap(),
                "--target",
                "y",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Late in the run, when the rows are being written: the kill lands
        // mid-write on a machine as fast as the uninterrupted run was.
        std::thread::sleep(whole_run.mul_f64(0.7));
        let _ = child.kill();
        let status = child.wait().unwrap();
        let written = std::fs::read(&out).unwrap();
        if status.success() {
            assert!(
                written == finished,
                "{name}: a finished convert wrote something else"
            );
        } else {
            // Killed: the old file, or the whole new one if the kill came
            // after the rename; never a part of either.
            assert!(
                written == b"the old file" || written == finished,
                "{name}: a killed convert left {} bytes that are neither the old file nor the finished one",
                written.len()
            );
        }
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|file| file.ends_with(".partial") || file.contains(".partial."))
            .collect();
        // A SIGKILL can leave the hidden temporary file (nothing can remove
        // it); it never takes the output's name.
        for file in &leftovers {
            assert!(file.starts_with('.'), "{name}: {file}");
        }
    }
}

/// A corrupt Parquet page panics inside the decoder; the library reports
/// it as an error, and the program prints that error alone: no panic
/// message before it (unless RUST_BACKTRACE asks for the default report).
#[test]
fn a_panic_the_library_catches_prints_nothing_but_the_error() {
    let dir = folder("caught-panic");
    let train = dir.join("train.csv");
    std::fs::write(&train, "x1,y\n1,2\n2,4\n3,6\n4,8\n").unwrap();
    let model = dir.join("model.json");
    succeed(&[
        "fit",
        "--data",
        train.to_str().unwrap(),
        "--target",
        "y",
        "--save",
        model.to_str().unwrap(),
    ]);
    let corrupt = Path::new(ROOT).join("tests/data/fuzz/definition_levels_past_the_page.parquet");
    let output = run_with(
        &[
            "predict",
            "--model",
            model.to_str().unwrap(),
            "--data",
            corrupt.to_str().unwrap(),
            "--keep",
            "y",
        ],
        &[("RUST_BACKTRACE", None)],
    );
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(!message.contains("panicked"), "{message}");
    assert_eq!(
        message.lines().filter(|l| !l.trim().is_empty()).count(),
        1,
        "{message}"
    );
    assert!(message.contains("the Parquet decoder failed"), "{message}");
}

/// The program calls itself `downhill`, whatever its package is named.
#[test]
fn the_program_names_itself_downhill() {
    let out = run(&["--version"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("downhill "), "{text}");
}

/// An svmlight file (issue 25): `fit` reads its sparse rows, labels −1 and
/// +1 as the two classes of a logistic model, names the features by their
/// indices as written, and saves them; `predict` reads the same file as
/// the model's features (one-based, as it was fitted) and writes the
/// labels as the file has them; `--zero-based` reads index 1 as the
/// second feature; a malformed line is one error naming its line.
#[test]
fn svmlight_files_fit_and_predict_with_their_own_labels() {
    let dir = folder("svmlight");
    let data = dir.join("pm.svm");
    // y = +1 where x1 > x2, on 80 rows of 4 features, half of them absent.
    let mut text = String::from("# an svmlight file\n");
    for i in 0..80 {
        let (a, b) = ((i % 7) as f32 - 3.0, (i % 5) as f32 - 2.0);
        let label = if a > b { "+1" } else { "-1" };
        let extra = if i % 2 == 0 {
            format!(" 4:{}", (i % 3) as f32)
        } else {
            String::new()
        };
        text.push_str(&format!("{label} 1:{a} 2:{b}{extra}\n"));
    }
    std::fs::write(&data, text).unwrap();
    let model = dir.join("pm.json");
    let report = succeed(&[
        "fit",
        "--data",
        data.to_str().unwrap(),
        "--target",
        "sign",
        "--model",
        "logistic",
        "--solver",
        "lbfgs",
        "--l2",
        "1e-2",
        "--device",
        "cpu",
        "--save",
        model.to_str().unwrap(),
    ]);
    assert!(report.contains("80 rows × 4 features"), "{report}");
    assert!(report.contains("accuracy:     1"), "{report}");
    let saved = read_json(&model);
    assert_eq!(saved["features"][0], "1", "{saved}");
    assert_eq!(
        saved["encoding"]["labels"]["classes"],
        serde_json::json!(["-1", "1"])
    );
    let predictions = succeed(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    let lines: Vec<&str> = predictions.lines().collect();
    assert_eq!(lines[0], "prediction");
    assert_eq!(lines.len(), 81);
    // Row 0: a = −3, b = −2: −1; row 4: a = 1, b = 2: −1; row 5: a = 2, b = −2: +1.
    assert_eq!((lines[1], lines[5], lines[6]), ("-1", "-1", "1"));
    // Unstandardized by default (centring would make the rows dense), and
    // said so; --standardize asks for it and is obeyed.
    let default = run(&[
        "fit",
        "--data",
        data.to_str().unwrap(),
        "--target",
        "sign",
        "--model",
        "logistic",
        "--device",
        "cpu",
    ]);
    assert!(
        stderr(&default).contains("fitted unstandardized"),
        "{}",
        stderr(&default)
    );
    let asked = run(&[
        "fit",
        "--data",
        data.to_str().unwrap(),
        "--target",
        "sign",
        "--model",
        "logistic",
        "--device",
        "cpu",
        "--standardize",
    ]);
    assert!(asked.status.success() && !stderr(&asked).contains("fitted unstandardized"));
    assert!(
        stdout(&asked).contains("on standardized features"),
        "{}",
        stdout(&asked)
    );
    // Read from 0, the same file has 5 features, the first all zero.
    let zero = succeed(&[
        "fit",
        "--data",
        data.to_str().unwrap(),
        "--target",
        "sign",
        "--model",
        "logistic",
        "--zero-based",
        "--device",
        "cpu",
    ]);
    assert!(zero.contains("80 rows × 5 features"), "{zero}");
    // A CSV converted to svmlight fits as the CSV does (unstandardized).
    let converted = dir.join("logistic.svm");
    succeed(&[
        "convert",
        "tests/data/logistic.csv",
        converted.to_str().unwrap(),
        "--target",
        "y",
        "--features",
        "x0,x1,x2,x3,x4",
    ]);
    let from_svm = succeed(&[
        "fit",
        "--data",
        converted.to_str().unwrap(),
        "--target",
        "y",
        "--model",
        "logistic",
        "--device",
        "cpu",
    ]);
    let from_csv = succeed(&[
        "fit",
        "--data",
        "tests/data/logistic.csv",
        "--target",
        "y",
        "--features",
        "x0,x1,x2,x3,x4",
        "--model",
        "logistic",
        "--device",
        "cpu",
        "--no-standardize",
    ]);
    let coefficients = |report: &str| {
        report
            .lines()
            .skip_while(|l| !l.starts_with("coefficients"))
            .skip(2)
            .map(|l| l.split_whitespace().last().unwrap_or("").to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(coefficients(&from_svm).len(), 5, "{from_svm}");
    assert_eq!(
        coefficients(&from_svm),
        coefficients(&from_csv),
        "{from_svm}\n{from_csv}"
    );
    // A SciPy CSR matrix with its targets' .npy file fits as the svmlight
    // file it came from.
    let from_npz = succeed(&[
        "fit",
        "--data",
        "tests/data/sparse_csr.npz",
        "--target",
        "tests/data/sparse_y.npy",
        "--model",
        "logistic",
        "--solver",
        "lbfgs",
        "--l2",
        "1e-3",
        "--device",
        "cpu",
    ]);
    let from_file = succeed(&[
        "fit",
        "--data",
        "tests/data/sparse.svm",
        "--target",
        "y",
        "--model",
        "logistic",
        "--solver",
        "lbfgs",
        "--l2",
        "1e-3",
        "--device",
        "cpu",
    ]);
    assert!(from_npz.contains("on 400 rows × 60 features"), "{from_npz}");
    assert_eq!(coefficients(&from_npz).len(), 60, "{from_npz}");
    assert_eq!(coefficients(&from_npz), coefficients(&from_file));
    fail_with(
        &[
            "fit",
            "--data",
            "tests/data/sparse_csc.npz",
            "--target",
            "tests/data/sparse_y.npy",
            "--device",
            "cpu",
        ],
        &["sparse_csc.npz", "not a SciPy sparse matrix in CSR form", "csc"],
    );
    // What sparse rows do not take yet is refused by name.
    for option in [["--test-size", "0.2"], ["--validation-fraction", "0.2"]] {
        fail_with(
            &[
                "fit",
                "--data",
                data.to_str().unwrap(),
                "--target",
                "sign",
                "--device",
                "cpu",
                option[0],
                option[1],
            ],
            &[option[0], "not yet read with sparse rows"],
        );
    }
    let bad = dir.join("bad.svm");
    std::fs::write(&bad, "1 1:2\n0 2:x\n").unwrap();
    fail_with(
        &[
            "fit",
            "--data",
            bad.to_str().unwrap(),
            "--target",
            "y",
            "--device",
            "cpu",
        ],
        &["bad.svm, line 2", "\"2:x\"", "not a number"],
    );
}

/// A table made wide by a text column of many values is fitted and
/// predicted as sparse rows (never the dense rows × values matrix); the
/// report lists its largest weights; an identifier column not named is
/// left out, saying why.
#[test]
fn wide_one_hot_tables_fit_and_predict_as_sparse_rows() {
    let dir = folder("wide_table");
    let data = dir.join("wide.csv");
    let mut text = String::from("item,x1,y\n");
    for i in 0..3000 {
        let (item, x1) = (i % 1500, (i % 7) as f32 - 3.0);
        let y = 0.5 * x1 + ((item * 37) % 19) as f32 / 9.0;
        text.push_str(&format!("id{item},{x1},{y}\n"));
    }
    std::fs::write(&data, text).unwrap();
    let model = dir.join("wide.json");
    let report = succeed(&[
        "fit",
        "--data",
        data.to_str().unwrap(),
        "--target",
        "y",
        "--features",
        "item,x1",
        "--max-categories",
        "5000",
        "--solver",
        "lbfgs",
        "--l2",
        "1e-6",
        "--device",
        "cpu",
        "--save",
        model.to_str().unwrap(),
    ]);
    assert!(report.contains("3000 rows × 1501 features"), "{report}");
    assert!(
        report.contains("the 40 largest of 1501 weights shown"),
        "{report}"
    );
    let r2: f64 = report
        .lines()
        .find_map(|line| line.strip_prefix("R²:"))
        .map(|v| v.trim().parse().unwrap())
        .unwrap();
    assert!(r2 > 0.999, "{report}");
    let output = dir.join("predictions.csv");
    let predicted = run(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert!(predicted.status.success());
    let said = String::from_utf8_lossy(&predicted.stderr);
    assert!(said.contains("scores on the 3000 rows"), "{said}");
    let predictions = std::fs::read_to_string(&output).unwrap();
    let values: Vec<f64> = predictions.lines().skip(1).map(|l| l.parse().unwrap()).collect();
    assert_eq!(values.len(), 3000);
    // Row 1: item 1 (37 mod 19 = 18: 2.0), x1 = -2.
    assert!((values[1] - (-1.0 + 2.0)).abs() < 1e-2, "{}", values[1]);

    // Unnamed, the same column of 1,500 values in 1,500 rows is an
    // identifier.
    let ids = dir.join("ids.csv");
    let first: String = std::fs::read_to_string(&data)
        .unwrap()
        .lines()
        .take(1501)
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&ids, first + "\n").unwrap();
    let report = succeed(&[
        "fit",
        "--data",
        ids.to_str().unwrap(),
        "--target",
        "y",
        "--max-categories",
        "5000",
        "--device",
        "cpu",
        "--epochs",
        "5",
    ]);
    assert!(
        report.contains("column \"item\": 1500 distinct values in 1500 cells: an identifier"),
        "{report}"
    );
}

/// `--hash-bits` hashes text columns (and `--interactions` pairs) into
/// 2^N features, saved with the model so that `predict` hashes alike; a
/// text column of any number of values then needs no cap.
#[test]
fn hashed_text_columns_fit_and_predict() {
    let dir = folder("hashing");
    let data = dir.join("hashed.csv");
    let mut text = String::from("user,item,x,y\n");
    for i in 0..2000 {
        let (user, item, x) = (i % 997, i % 13, (i % 5) as f32);
        let y = 0.3 * x + if item % 2 == 0 { 1.0 } else { -1.0 };
        text.push_str(&format!("u{user},i{item},{x},{y}\n"));
    }
    std::fs::write(&data, text).unwrap();
    let model = dir.join("hashed.json");
    let report = succeed(&[
        "fit",
        "--data",
        data.to_str().unwrap(),
        "--target",
        "y",
        "--hash-bits",
        "12",
        "--interactions",
        "item:x",
        "--solver",
        "lbfgs",
        "--l2",
        "1e-6",
        "--device",
        "cpu",
        "--save",
        model.to_str().unwrap(),
    ]);
    assert!(report.contains("2000 rows × 4097 features"), "{report}");
    let saved = read_json(&model);
    assert_eq!(saved["encoding"]["hashing"]["bits"], 12, "{}", saved["encoding"]);
    let output = dir.join("predictions.csv");
    succeed(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    let predictions = std::fs::read_to_string(&output).unwrap();
    let values: Vec<f64> = predictions.lines().skip(1).map(|l| l.parse().unwrap()).collect();
    assert_eq!(values.len(), 2000);
    // Row 2: item 2 (+1), x = 2.
    assert!((values[2] - 1.6).abs() < 1e-2, "{}", values[2]);
    fail_with(
        &[
            "fit",
            "--data",
            data.to_str().unwrap(),
            "--target",
            "y",
            "--interactions",
            "item:x",
        ],
        &["required arguments were not provided"],
    );
    fail_with(
        &[
            "fit",
            "--data",
            data.to_str().unwrap(),
            "--target",
            "y",
            "--hash-bits",
            "40",
        ],
        &["40"],
    );
}

/// `bench --sparse` times fits of seeded sparse rows from their CSR
/// arrays, its rates in CSR bytes.
#[test]
fn bench_times_sparse_rows() {
    let out = succeed(&[
        "bench",
        "--sparse",
        "5",
        "--rows",
        "300",
        "--features",
        "400",
        "--model",
        "logistic",
        "--batch-sizes",
        "sgd,full",
        "--device",
        "cpu",
        "--epochs",
        "1",
    ]);
    assert!(out.contains("CSR arrays"), "{out}");
    assert!(out.contains("full"), "{out}");
}

/// `bench --path N` times a path of N strengths in lockstep against one
/// fit, and writes the JSON with each model's passes: N models × the
/// warm-up and timed epochs; `--folds K` their cross-validation, the folds
/// side by side and one after another. Fewer than 2 strengths are refused
/// by name.
#[test]
fn bench_times_a_path_against_one_fit() {
    let dir = folder("bench-path");
    let json = dir.join("path.json");
    let out = succeed(&[
        "bench",
        "--path",
        "4",
        "--folds",
        "3",
        "--rows",
        "3000",
        "--features",
        "50",
        "--device",
        "cpu",
        "--epochs",
        "2",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.contains("path ÷ one fit"), "{out}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let run = &report["runs"][0];
    assert_eq!(run["model_passes"], 4 * 3, "{report}");
    assert!(run["ratio"].as_f64().unwrap() > 0.0, "{report}");
    assert!(out.contains("folds side by side"), "{out}");
    for key in ["folds_together_seconds", "folds_apart_seconds"] {
        assert!(run[key].as_f64().unwrap() > 0.0, "{key}: {report}");
    }
    fail_with(
        &["bench", "--path", "1", "--rows", "100", "--device", "cpu"],
        &["--path takes at least 2 strengths, not 1"],
    );
}

/// (alpha, mean score) of the first `count` rows of the table `downhill
/// cv` printed in `text`.
fn cv_rows(text: &str, count: usize) -> Vec<(f64, f64)> {
    text.lines()
        .skip_while(|line| !line.contains("mean score"))
        .skip(1)
        .take(count)
        .map(|line| {
            let cells: Vec<f64> = line
                .split_whitespace()
                .take(2)
                .map(|v| v.parse().unwrap())
                .collect();
            (cells[0], cells[1])
        })
        .collect()
}

/// `cv` scores each strength on each held-out fold and chooses: on a
/// plane without noise the weakest penalty predicts best (every stronger
/// one shrinks the weights off the plane), so it is chosen, and the model
/// refitted at it on every row is saved for `predict`. Bad folds and
/// strengths are errors naming them.
#[test]
fn cv_chooses_the_strength_that_predicts_best_and_saves_its_model() {
    let dir = folder("cv");
    let csv = exact_csv(&dir);
    let model = dir.join("cv.json");
    let data = csv.to_str().unwrap();
    let common = [
        "cv",
        "--data",
        data,
        "--target",
        "y",
        "--features",
        "a,b",
        "--solver",
        "lbfgs",
        "--device",
        "cpu",
    ];
    let out = succeed(
        &[
            &common[..],
            &["--alphas", "10,1,0.01,0.0001", "--save", model.to_str().unwrap()],
        ]
        .concat(),
    );
    assert!(
        out.contains("4 strengths of the L2 penalty, 5 folds (shuffled)"),
        "{out}"
    );
    assert!(out.contains("0.0001") && out.contains("← chosen"), "{out}");
    assert!(
        out.contains("chosen alpha: 0.0001 (the best mean score)"),
        "{out}"
    );
    let saved = read_json(&model);
    assert!(saved["weights"].is_array(), "{saved}");
    succeed(&["predict", "--model", model.to_str().unwrap(), "--data", data]);
    fail_with(
        &[&common[..], &["--folds", "1"]].concat(),
        &["cross-validation takes 2 folds", "got 1"],
    );
    fail_with(
        &[&common[..], &["--alphas", "0.1,-1"]].concat(),
        &["penalty strength", "-1"],
    );
    // A list that starts with a minus sign is the strengths' to refuse,
    // not an unknown option.
    fail_with(
        &[&common[..], &["--alphas", "-1,2"]].concat(),
        &["penalty strength", "-1"],
    );
    fail_with(
        &[&common[..], &["--alphas", "0.1,lots"]].concat(),
        &["--alphas", "lots"],
    );
    fail_with(&[&common[..], &["--alphas", "auto:0"]].concat(), &["auto:N"]);
    fail_with(
        &[&common[..], &["--alphas", "auto:100000000000"]].concat(),
        &["auto:N"],
    );
    // The grid comes from the standardized columns and target: the same
    // for the target in other units.
    let grid = |text: &str| -> Vec<String> {
        text.lines()
            .skip_while(|line| !line.contains("mean score"))
            .skip(1)
            .take(3)
            .map(|line| line.split_whitespace().next().unwrap_or("").to_string())
            .collect()
    };
    let scaled_csv = dir.join("scaled.csv");
    let original = std::fs::read_to_string(&csv).unwrap();
    let mut scaled = String::from("name,a,b,y,label\n");
    for line in original.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let y: f64 = cells[3].parse().unwrap();
        scaled.push_str(&format!(
            "{},{},{},{},{}\n",
            cells[0],
            cells[1],
            cells[2],
            y * 100.0,
            cells[4]
        ));
    }
    std::fs::write(&scaled_csv, scaled).unwrap();
    let auto = |file: &str| {
        succeed(&[
            "cv",
            "--data",
            file,
            "--target",
            "y",
            "--features",
            "a,b",
            "--solver",
            "lbfgs",
            "--device",
            "cpu",
            "--alphas",
            "auto:3",
        ])
    };
    let (base, hundredfold) = (auto(data), auto(scaled_csv.to_str().unwrap()));
    assert_eq!(grid(&base), grid(&hundredfold), "{base}\n{hundredfold}");
    assert_eq!(grid(&base).len(), 3, "{base}");
    // A class of fewer rows than folds is named.
    let few = dir.join("few.csv");
    std::fs::write(&few, "a,label\n1,yes\n2,no\n3,no\n4,no\n5,no\n").unwrap();
    fail_with(
        &[
            "cv",
            "--data",
            few.to_str().unwrap(),
            "--target",
            "label",
            "--model",
            "logistic",
            "--folds",
            "2",
        ],
        &["\"yes\" has 1 rows", "2 folds"],
    );
}

/// `cv` of a table larger than the memory budget reads it from the file a
/// fold at a time, and gives the table read whole's scores (to 1e-5: the
/// blocks' sums round otherwise) and choice; `--scoring` picks the score,
/// and one of the other kind of model is refused by name.
#[test]
fn cv_beyond_the_memory_budget_reads_the_file_a_fold_at_a_time() {
    let dir = folder("cv-streamed");
    let mut text = String::from("a,b,colour,label\n");
    for i in 0..2000u64 {
        // A fixed scramble of the row number: reproducible, not periodic.
        let h = i.wrapping_mul(2654435761) % 1000;
        let a = h as f64 / 100.0 - 5.0;
        let b = ((i * 7919) % 997) as f64 / 50.0 - 10.0;
        let colour = ["red", "green", "blue"][(h % 3) as usize];
        let label = if a - 0.2 * b + (i % 5) as f64 - 2.0 > 0.0 {
            "yes"
        } else {
            "no"
        };
        text.push_str(&format!("{a},{b},{colour},{label}\n"));
    }
    let csv = dir.join("rows.csv");
    std::fs::write(&csv, text).unwrap();
    let run = |extra: &[&str]| {
        succeed(
            &[
                &[
                    "cv",
                    "--data",
                    csv.to_str().unwrap(),
                    "--target",
                    "label",
                    "--model",
                    "logistic",
                    "--solver",
                    "lbfgs",
                    "--device",
                    "cpu",
                    "--alphas",
                    "auto:4",
                    "--scoring",
                    "log-loss",
                ][..],
                extra,
            ]
            .concat(),
        )
    };
    // (alpha, mean score) of each row of the table, and the chosen line.
    let table = |text: &str| -> (Vec<(f64, f64)>, String) {
        let rows = cv_rows(text, 4);
        let chosen = text
            .lines()
            .find(|line| line.contains("chosen alpha"))
            .unwrap_or("")
            .to_string();
        (rows, chosen)
    };
    let whole = run(&[]);
    let streamed = run(&["--memory-budget", "50KB"]);
    assert!(!whole.contains("a fold at a time"), "{whole}");
    assert!(
        streamed.contains("read from the file a fold at a time"),
        "{streamed}"
    );
    assert!(
        streamed.contains("scored by minus the mean log-loss"),
        "{streamed}"
    );
    let ((whole_rows, whole_choice), (streamed_rows, streamed_choice)) = (table(&whole), table(&streamed));
    assert_eq!(whole_rows.len(), 4, "{whole}");
    for (w, s) in whole_rows.iter().zip(&streamed_rows) {
        assert_eq!(w.0, s.0, "{whole}\n{streamed}");
        assert!((w.1 - s.1).abs() <= 1e-5 * w.1.abs(), "{whole}\n{streamed}");
    }
    assert_eq!(whole_choice, streamed_choice);
    fail_with(
        &[
            "cv",
            "--data",
            csv.to_str().unwrap(),
            "--target",
            "a",
            "--features",
            "b",
            "--scoring",
            "roc-auc",
        ],
        &["cannot score a linear model by RocAuc"],
    );
}

/// `cv` of an svmlight file keeps each fold's rows sparse and gives the
/// table that the same rows written dense (and fitted unstandardized, as
/// sparse rows are) give: the same strengths, scores within 1e-5, the
/// same choice.
#[test]
fn cv_of_sparse_rows_matches_the_same_rows_dense() {
    let dir = folder("cv-sparse");
    let (mut svm, mut csv) = (String::new(), String::from("a,b,c,y\n"));
    for i in 0..400u64 {
        let h = i.wrapping_mul(2654435761) % 1000;
        let a = if h % 3 == 0 { 0.0 } else { h as f64 / 250.0 - 2.0 };
        let b = if h % 5 == 0 {
            0.0
        } else {
            ((i * 7919) % 997) as f64 / 400.0 - 1.2
        };
        let c = if i % 4 == 0 { 1.5 } else { 0.0 };
        let y = u8::from(a - b + c + (i % 7) as f64 / 3.0 - 1.0 > 0.0);
        let mut line = format!("{y}");
        for (j, v) in [a, b, c].iter().enumerate() {
            if *v != 0.0 {
                line.push_str(&format!(" {}:{v}", j + 1));
            }
        }
        svm.push_str(&line);
        svm.push('\n');
        csv.push_str(&format!("{a},{b},{c},{y}\n"));
    }
    let (svm_path, csv_path) = (dir.join("rows.svm"), dir.join("rows.csv"));
    std::fs::write(&svm_path, svm).unwrap();
    std::fs::write(&csv_path, csv).unwrap();
    let run = |path: &Path, extra: &[&str]| {
        succeed(
            &[
                &[
                    "cv",
                    "--data",
                    path.to_str().unwrap(),
                    "--target",
                    "y",
                    "--model",
                    "logistic",
                    "--solver",
                    "lbfgs",
                    "--device",
                    "cpu",
                    "--alphas",
                    "0.1,0.01,0.001",
                    "--scoring",
                    "log-loss",
                ][..],
                extra,
            ]
            .concat(),
        )
    };
    let sparse = run(&svm_path, &[]);
    let dense = run(&csv_path, &["--no-standardize"]);
    assert!(
        sparse.contains("sparse: each fold's entries kept sparse"),
        "{sparse}"
    );
    let (s, d) = (cv_rows(&sparse, 3), cv_rows(&dense, 3));
    assert_eq!(s.len(), 3, "{sparse}");
    for (a, b) in s.iter().zip(&d) {
        assert_eq!(a.0, b.0, "{sparse}\n{dense}");
        assert!((a.1 - b.1).abs() <= 1e-5 * b.1.abs(), "{sparse}\n{dense}");
    }
    let chosen = |text: &str| {
        text.lines()
            .find(|l| l.contains("chosen alpha"))
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(chosen(&sparse), chosen(&dense));
}
