//! Issue 23's hostile inputs to the `downhill` program: each ended in a
//! panic, a crash, a hang or a silent wrong answer, and now ends in one
//! line of error (exit 1) that names the value, or in a right answer.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_downhill");
/// The repository's root, where the test data lies and where the program
/// runs (as it did when the program was part of the library's package).
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// A fresh folder for one test.
fn folder(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("downhill-hostile-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    dir
}

/// `args` for a message, each cut to 60 characters (a test passes a name
/// of 70,000).
fn shown(args: &[&str]) -> String {
    let cut: Vec<String> = args.iter().map(|a| a.chars().take(60).collect()).collect();
    format!("{cut:?}")
}

/// Runs the program with `args`, killed after 60 s: a hang fails the
/// test instead of stalling the suite. Its output is read as it comes, so
/// that a long report never fills the pipe.
fn run_with(args: &[&str], stdin: Stdio, stdout: Stdio) -> Output {
    use std::io::Read;
    let mut child = Command::new(BINARY)
        .current_dir(ROOT)
        .args(args)
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                pipe.read_to_end(&mut bytes).expect("the pipe reads");
            }
            bytes
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child can be waited on") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} hung for 60 s", shown(args));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().expect("stdout read"),
        stderr: err.join().expect("stderr read"),
    }
}

fn run(args: &[&str]) -> Output {
    run_with(args, Stdio::null(), Stdio::piped())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The run failed with exit status 1 (not a panic's 101, not a signal)
/// and an error line holding every part of `expected`.
fn assert_fails_with(output: &Output, args: &[&str], expected: &[&str]) {
    let message = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{}: {message}", shown(args));
    assert!(!message.contains("panicked"), "{message}");
    let line = message
        .lines()
        .find(|l| l.starts_with("error"))
        .unwrap_or_else(|| panic!("no error line in {message:?}"));
    for part in expected {
        assert!(line.contains(part), "{line:?} lacks {part:?}");
    }
}

fn fail_with(args: &[&str], expected: &[&str]) {
    assert_fails_with(&run(args), args, expected);
}

fn succeed(args: &[&str]) -> String {
    let output = run(args);
    assert!(
        output.status.success(),
        "{} failed: {}",
        shown(args),
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// 20 rows of y = 2a + 1 and a label a > 10, under the column names given.
fn small_csv(dir: &Path, a: &str) -> PathBuf {
    let mut csv = format!("{a},y,label\n");
    for i in 0..20 {
        csv.push_str(&format!("{i},{},{}\n", 2 * i + 1, u8::from(i > 10)));
    }
    let path = dir.join("small.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

#[test]
fn a_column_name_of_70000_characters_is_reported_without_a_panic() {
    let dir = folder("long-name");
    let name = "a".repeat(70_000);
    let csv = small_csv(&dir, &name);
    let csv = csv.to_str().unwrap();
    let common = ["fit", "--data", csv, "--device", "cpu", "--features", &name];
    let linear = succeed(&[&common[..], &["--target", "y"]].concat());
    assert!(linear.contains(&name), "the coefficient names its column");
    let logistic = succeed(&[&common[..], &["--target", "label", "--model", "logistic"]].concat());
    assert!(logistic.contains(&name), "the coefficient names its column");
}

#[test]
fn fit_and_sweep_into_a_full_device_fail_with_a_message() {
    if !Path::new("/dev/full").exists() {
        eprintln!("skipped: no /dev/full on this system");
        return;
    }
    let dir = folder("dev-full");
    let csv = small_csv(&dir, "a");
    let csv = csv.to_str().unwrap();
    let commands: [&[&str]; 2] = [
        &["fit", "--data", csv, "--target", "y", "--device", "cpu"],
        &[
            "sweep", "--data", csv, "--target", "y", "--lrs", "0.01,0.1", "--epochs", "5", "--device", "cpu",
        ],
    ];
    for args in commands {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let output = run_with(args, Stdio::null(), Stdio::from(full));
        assert_fails_with(
            &output,
            args,
            &["cannot write the report to standard output", "space"],
        );
    }
}

#[test]
fn bench_shapes_that_overflow_or_exceed_the_memory_budget_are_refused_before_allocating() {
    fail_with(
        &[
            "bench",
            "--rows",
            "4294967296",
            "--features",
            "4294967296",
            "--device",
            "cpu",
        ],
        &[
            "4294967296 rows × 4294967296 features",
            "more values than this machine can address",
        ],
    );
    // 400 TB of X: beyond any machine's budget (half its memory).
    fail_with(
        &[
            "bench",
            "--rows",
            "100000000",
            "--features",
            "1000000",
            "--device",
            "cpu",
        ],
        &[
            "100000000 rows × 1000000 features",
            "400000.00 GB",
            "memory budget",
        ],
    );
}

#[test]
fn streams_and_devices_as_data_or_model_are_refused_at_once() {
    let dir = folder("not-regular");
    let csv = small_csv(&dir, "a");
    let fifo = dir.join("pipe.csv");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|status| status.success()) {
        // Nothing writes to the pipe: opening it would block for ever.
        let fifo = fifo.to_str().unwrap();
        fail_with(
            &["fit", "--data", fifo, "--target", "y"],
            &[fifo, "pipe (FIFO)", "regular (seekable) file"],
        );
    } else {
        eprintln!("no mkfifo: the named pipe is not tried");
    }
    fail_with(
        &["fit", "--data", "/dev/zero", "--target", "y"],
        &["/dev/zero is a character device", "regular (seekable) file"],
    );
    let folder_path = dir.to_str().unwrap();
    fail_with(
        &["fit", "--data", folder_path, "--target", "y"],
        &["is a directory", "name a file in it"],
    );
    // A folder to save into is refused before the fit, which prints
    // nothing of its report.
    let args = [
        "fit",
        "--data",
        csv.to_str().unwrap(),
        "--target",
        "y",
        "--save",
        folder_path,
    ];
    let output = run(&args);
    assert_fails_with(
        &output,
        &args,
        &[folder_path, "it is a folder", "name a file in it"],
    );
    assert!(
        !text(&output.stdout).contains("epochs"),
        "{}",
        text(&output.stdout)
    );
    // Standard input as a pipe, as `cat data.csv | downhill fit --data /dev/stdin` gives it.
    let args = ["fit", "--data", "/dev/stdin", "--target", "y"];
    let output = run_with(&args, Stdio::piped(), Stdio::piped());
    assert_fails_with(&output, &args, &["/dev/stdin", "not a regular file"]);
    let csv = csv.to_str().unwrap();
    fail_with(
        &["predict", "--model", "/dev/zero", "--data", csv],
        &["/dev/zero is a character device"],
    );
    // A sparse file of just over 1 GiB is refused before it is read.
    let huge = dir.join("huge.json");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len((1 << 30) + 1)
        .unwrap();
    fail_with(
        &["predict", "--model", huge.to_str().unwrap(), "--data", csv],
        &[
            "1073741825 bytes",
            "more than the 1073741824 bytes a saved model may take",
        ],
    );
}

#[test]
fn coefficients_beyond_float32_are_an_error_naming_the_column() {
    let dir = folder("overflow");
    // The table: tiny features, huge targets.
    let csv = dir.join("tiny.csv");
    std::fs::write(
        &csv,
        "a,y\n1e-30,1e10\n2e-30,3e10\n3e-30,2e10\n4e-30,5e10\n5e-30,4e10\n",
    )
    .unwrap();
    let save = dir.join("model.json");
    let (csv, save) = (csv.to_str().unwrap(), save.to_str().unwrap());
    fail_with(
        &[
            "fit", "--data", csv, "--target", "y", "--device", "cpu", "--save", save,
        ],
        &["column \"a\"", "weights[0]", "overflows float32", "rescale"],
    );
    assert!(!Path::new(save).exists(), "an overflowed fit is not saved");
    // Subnormal features.
    let subnormal = dir.join("subnormal.csv");
    std::fs::write(&subnormal, "a,y\n1e-40,1\n2e-40,3\n3e-40,2\n4e-40,5\n5e-40,4\n").unwrap();
    fail_with(
        &[
            "fit",
            "--data",
            subnormal.to_str().unwrap(),
            "--target",
            "y",
            "--device",
            "cpu",
        ],
        &["column \"a\"", "overflows float32"],
    );
}

/// An .npy file of float32 of `rows` × `columns`, 0, 1, 2, … in C order.
fn npy(rows: usize, columns: usize) -> Vec<u8> {
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {columns}), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in 0..rows * columns {
        bytes.extend_from_slice(&(v as f32).to_le_bytes());
    }
    bytes
}

#[test]
fn an_npy_file_cut_short_names_the_bytes_its_header_needs_and_holds() {
    let dir = folder("npy-cut");
    let whole = npy(10, 4);
    assert_eq!(whole.len(), 128 + 160);
    let cut = dir.join("cut.npy");
    std::fs::write(&cut, &whole[..200]).unwrap();
    fail_with(
        &[
            "fit",
            "--data",
            cut.to_str().unwrap(),
            "--target",
            "3",
            "--device",
            "cpu",
        ],
        &[
            "cut.npy",
            "cut short",
            "needs 160 bytes of data, the file holds 72",
            "88 bytes missing",
        ],
    );
}

#[test]
fn a_held_out_split_that_takes_a_class_from_training_is_refused() {
    let dir = folder("split-class");
    let csv = dir.join("four.csv");
    std::fs::write(&csv, "a,label\n1,no\n2,no\n3,no\n4,yes\n").unwrap();
    fail_with(
        &[
            "fit",
            "--data",
            csv.to_str().unwrap(),
            "--target",
            "label",
            "--model",
            "logistic",
            "--test-size",
            "0.5",
            "--device",
            "cpu",
        ],
        &["4 rows", "training part", "\"yes\""],
    );
}
