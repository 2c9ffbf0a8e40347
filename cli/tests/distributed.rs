//! Data-parallel fits under `mpirun` (the `distributed` feature; CI runs
//! them with Open MPI): 1, 2 and 3 ranks over uneven shards fit the model
//! of all the rows, one rank bit for bit; a rank that cannot read its shard
//! fails the job with rank 0 naming it; a rank killed mid-fit ends the job
//! within a bounded time, its last checkpoint intact, and the checkpoint
//! resumed equals the uninterrupted fit.
#![cfg(feature = "distributed")]

#[path = "../../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use downhill::{Fitted, Model, Synthetic};

const BINARY: &str = env!("CARGO_BIN_EXE_downhill");
/// The longest any job here may take: past it the job has hung.
const BOUND: Duration = Duration::from_secs(120);

fn folder(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("downhill-distributed-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `mpirun -np ranks downhill args…` (root allowed, where CI runs as root;
/// more ranks than cores allowed), started in `dir`.
fn mpirun(dir: &Path, ranks: usize, args: &[&str], marker: &str) -> Child {
    Command::new("mpirun")
        .args([
            "--oversubscribe",
            "-np",
            &ranks.to_string(),
            "-x",
            "DOWNHILL_TEST_JOB",
        ])
        .arg(BINARY)
        .args(args)
        .current_dir(dir)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("DOWNHILL_TEST_JOB", marker)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mpirun runs (Open MPI installed)")
}

/// The job's output, failing the test where it outlives [`BOUND`].
fn finish(mut child: Child) -> Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > BOUND {
            child.kill().unwrap();
            panic!("the job hung past {BOUND:?}: {:?}", child.wait_with_output());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A job that must succeed: its standard output.
fn succeed(dir: &Path, ranks: usize, args: &[&str]) -> String {
    let output = finish(mpirun(dir, ranks, args, "succeed"));
    assert!(
        output.status.success(),
        "{ranks} ranks {args:?}: {}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// One process, no launcher.
fn alone(dir: &Path, args: &[&str]) -> String {
    let output = Command::new(BINARY).args(args).current_dir(dir).output().unwrap();
    assert!(output.status.success(), "{args:?}: {}", text(&output.stderr));
    text(&output.stdout)
}

/// Rows `rows` of `data` as a CSV table: features x0…, then a target
/// column `y` that is a number, or a label (`no`/`yes`) for `labels`, and
/// a text column `kind` that one-hot encodes.
fn write_csv(path: &Path, data: &Synthetic, rows: std::ops::Range<usize>, labels: bool) {
    let d = data.x.ncols();
    let mut text = (0..d).map(|j| format!("x{j},")).collect::<String>() + "kind,y\n";
    for i in rows {
        for j in 0..d {
            text += &format!("{},", data.x[[i, j]]);
        }
        text += ["a,", "b,", "c,"][i * 7 % 3];
        text += &match labels {
            true => ["no", "yes"][data.y[i] as usize].to_string(),
            false => data.y[i].to_string(),
        };
        text += "\n";
    }
    std::fs::write(path, text).unwrap();
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn parameters(path: &Path) -> Vec<f32> {
    let fitted = Fitted::load(path).unwrap();
    fitted
        .coefficients()
        .iter()
        .chain(fitted.intercepts().iter())
        .copied()
        .collect()
}

fn close(name: &str, found: &[f32], expected: &[f32], tolerance: f32) {
    let largest = expected.iter().fold(1.0f32, |m, p| m.max(p.abs()));
    assert_eq!(found.len(), expected.len(), "{name}");
    for (a, b) in found.iter().zip(expected) {
        assert!(
            (a - b).abs() <= tolerance * largest,
            "{name}: {a} vs {b} (of {largest}): {found:?} vs {expected:?}"
        );
    }
}

/// The value of the report line `name: value`.
fn score(report: &str, name: &str) -> Option<String> {
    report.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == name).then(|| value.trim().to_string())
    })
}

/// The scores a job of ranks reports (of all its rows) are those one
/// process reports of all `rows` rows, to the tolerance of the ranks'
/// parameters.
fn same_scores(case: &str, ranks: &str, alone: &str, rows: usize) {
    let number = |report: &str, name: &str| score(report, name).map(|v| v.parse::<f64>().unwrap());
    let mut compared = 0;
    for (name, tolerance) in [
        ("R²", 1e-4),
        ("MSE", 1e-3),
        ("log-loss", 1e-3),
        ("accuracy", 2.0 / rows as f64),
    ] {
        match (number(ranks, name), number(alone, name)) {
            (Some(a), Some(b)) => {
                assert!(
                    (a - b).abs() <= tolerance * b.abs().max(1.0),
                    "{case}: {name} {a} over ranks, {b} alone"
                );
                compared += 1;
            }
            (None, None) => {}
            other => panic!("{case}: {name} {other:?}\n{ranks}\n{alone}"),
        }
    }
    // A linear model's R² and MSE, or a logistic one's log-loss and accuracy.
    assert_eq!(compared, 2, "{case}\n{ranks}");
    if let Some(confusion) = score(ranks, "confusion") {
        let counted: usize = confusion
            .split_whitespace()
            .filter_map(|word| word.parse::<usize>().ok())
            .sum();
        assert_eq!(counted, rows, "{case}: {confusion}");
    }
}

/// Full batch and mini-batches, linear and logistic: one file split among
/// 1, 2 and 3 ranks, and a file per rank of 700, 2,600 and 1,100 rows,
/// against one process on all the rows.
#[test]
fn ranks_of_uneven_shards_fit_the_model_of_all_the_rows() {
    let dir = folder("shards");
    let shards = [0..700, 700..3300, 3300..4400];
    for (model, labels) in [(Model::Linear, false), (Model::Logistic, true)] {
        let data = Synthetic::generate(model, 4400, 5, 0.3, 21).unwrap();
        let name = model.to_string();
        write_csv(&dir.join(format!("{name}.csv")), &data, 0..4400, labels);
        for (rank, rows) in shards.iter().enumerate() {
            write_csv(
                &dir.join(format!("{name}-{rank}.csv")),
                &data,
                rows.clone(),
                labels,
            );
        }
        for (variant, extra, tolerance) in [
            ("full", &["--epochs", "60"][..], 1e-5),
            (
                "minibatch:64",
                &["--epochs", "4", "--optimizer", "adam", "--seed", "9"][..],
                1e-4,
            ),
        ] {
            let common = |data: &str, save: &str| -> Vec<String> {
                let mut args = strings(&[
                    "fit",
                    "--data",
                    data,
                    "--target",
                    "y",
                    "--model",
                    &name,
                    "--variant",
                    variant,
                    "--device",
                    "cpu",
                    "--save",
                    save,
                ]);
                args.extend(strings(extra));
                args
            };
            let whole = format!("{name}.csv");
            let single = alone(&dir, &refs(&common(&whole, "alone.json")));
            let expected = parameters(&dir.join("alone.json"));
            let case = format!("{name} {variant}");
            succeed(&dir, 1, &refs(&common(&whole, "one.json")));
            assert_eq!(
                parameters(&dir.join("one.json")),
                expected,
                "{case}: one rank is one process"
            );
            for ranks in [2, 3] {
                let report = succeed(&dir, ranks, &refs(&common(&whole, "split.json")));
                assert!(
                    report.contains(&format!(
                        "scored on:    all 4400 rows, over {ranks} ranks (rank 0 read rows 0.."
                    )),
                    "{report}"
                );
                same_scores(&case, &report, &single, 4400);
                close(
                    &format!("{case}, one file over {ranks} ranks"),
                    &parameters(&dir.join("split.json")),
                    &expected,
                    tolerance,
                );
            }
            let own = format!("{name}-{{rank}}.csv");
            let report = succeed(&dir, 3, &refs(&common(&own, "own.json")));
            assert!(report.contains("on 4400 rows"), "{report}");
            same_scores(&case, &report, &single, 4400);
            close(
                &format!("{case}, a file per rank of 700, 2600 and 1100 rows"),
                &parameters(&dir.join("own.json")),
                &expected,
                tolerance,
            );
        }
    }
}

#[test]
fn a_rank_that_cannot_read_its_shard_fails_the_job_named_by_rank_0() {
    let dir = folder("unreadable");
    let data = Synthetic::generate(Model::Linear, 100, 2, 0.1, 3).unwrap();
    write_csv(&dir.join("part-0.csv"), &data, 0..50, false);
    std::fs::write(dir.join("part-1.csv"), "nothing,here\n1,2\n").unwrap();
    let output = finish(mpirun(
        &dir,
        2,
        &["fit", "--data", "part-{rank}.csv", "--target", "y"],
        "unreadable",
    ));
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("error: rank 1 failed: part-1.csv: no column \"y\""),
        "{stderr}"
    );
    // Said once, by rank 0.
    assert_eq!(stderr.matches("error: rank 1 failed").count(), 1, "{stderr}");
}

/// The processes of the job marked `marker` whose MPI rank is `rank`.
fn processes_of(marker: &str, rank: usize) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(environment) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let variables: Vec<&[u8]> = environment.split(|&b| b == 0).collect();
        let has = |wanted: String| variables.contains(&wanted.as_bytes());
        let exe = std::fs::read_link(entry.path().join("exe")).unwrap_or_default();
        if has(format!("DOWNHILL_TEST_JOB={marker}"))
            && has(format!("OMPI_COMM_WORLD_RANK={rank}"))
            && exe.ends_with("downhill")
        {
            found.push(pid);
        }
    }
    found
}

#[test]
fn a_killed_rank_ends_the_job_and_its_last_checkpoint_resumes_exactly() {
    let dir = folder("killed");
    let data = Synthetic::generate(Model::Linear, 60_000, 8, 0.3, 4).unwrap();
    write_csv(&dir.join("rows.csv"), &data, 0..60_000, false);
    let fit = |epochs: &str, extra: &[&str]| -> Vec<String> {
        let mut args = strings(&[
            "fit",
            "--data",
            "rows.csv",
            "--target",
            "y",
            "--variant",
            "minibatch:32",
            "--optimizer",
            "adam",
            "--seed",
            "2",
            "--device",
            "cpu",
            "--epochs",
            epochs,
        ]);
        args.extend(strings(extra));
        args
    };
    let marker = format!("killed-{}", std::process::id());
    let checkpoint = dir.join("ck.json");
    let job = mpirun(
        &dir,
        2,
        &refs(&fit(
            "100000",
            &["--checkpoint", "ck.json", "--checkpoint-every", "2"],
        )),
        &marker,
    );
    // Wait for a checkpoint, then kill rank 1 outright.
    let started = Instant::now();
    while !checkpoint.exists() {
        assert!(started.elapsed() < BOUND, "no checkpoint was written");
        std::thread::sleep(Duration::from_millis(20));
    }
    let victims = processes_of(&marker, 1);
    assert_eq!(victims.len(), 1, "rank 1's process: {victims:?}");
    let killed = Command::new("kill")
        .args(["-9", &victims[0].to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let killed_at = Instant::now();
    let output = finish(job);
    assert!(
        !output.status.success(),
        "a job that lost a rank reports failure: {}",
        text(&output.stderr)
    );
    assert!(
        killed_at.elapsed() < Duration::from_secs(60),
        "{:?}",
        killed_at.elapsed()
    );
    // The checkpoint is whole, and resumes on the same ranks to equal the
    // fit that was never interrupted.
    let saved = Fitted::load(&checkpoint).unwrap();
    let epoch = saved.history().len();
    assert!(epoch >= 2 && epoch.is_multiple_of(2), "{epoch}");
    let more = 3;
    succeed(
        &dir,
        2,
        &refs(&fit(
            &more.to_string(),
            &["--resume", "ck.json", "--save", "resumed.json"],
        )),
    );
    succeed(
        &dir,
        2,
        &refs(&fit(&(epoch + more).to_string(), &["--save", "whole.json"])),
    );
    assert_eq!(
        parameters(&dir.join("resumed.json")),
        parameters(&dir.join("whole.json")),
        "resumed at epoch {epoch}"
    );
}

/// A Parquet file of numbers hands each rank whole row groups (65,536
/// rows each as written here) where it has one per rank, else splits its
/// rows: either way the fit of all the rows.
#[test]
fn parquet_row_groups_shared_among_ranks_fit_the_model_of_all_the_rows() {
    let dir = folder("parquet");
    let data = Synthetic::generate(Model::Linear, 150_000, 4, 0.3, 8).unwrap();
    let rows = downhill::data::source::InMemory::new(data.x.view(), data.y.view()).unwrap();
    let names: Vec<String> = (0..4).map(|j| format!("x{j}")).collect();
    downhill::data::table::write_source(&rows, &names, "y", dir.join("rows.parquet")).unwrap();
    let fit = |save: &str| -> Vec<String> {
        strings(&[
            "fit",
            "--data",
            "rows.parquet",
            "--target",
            "y",
            "--epochs",
            "30",
            "--device",
            "cpu",
            "--save",
            save,
        ])
    };
    alone(&dir, &refs(&fit("alone.json")));
    let expected = parameters(&dir.join("alone.json"));
    // Three row groups: two ranks take whole groups (65,536 and 84,464
    // rows), four ranks split the rows.
    for (ranks, first) in [(2, "rows 0..65536"), (4, "rows 0..37500")] {
        let report = succeed(&dir, ranks, &refs(&fit("split.json")));
        assert!(report.contains(first), "{ranks} ranks: {report}");
        close(
            &format!("{ranks} ranks"),
            &parameters(&dir.join("split.json")),
            &expected,
            1e-5,
        );
    }
}

/// A GPU on each rank (lavapipe in CI): the device sums its rows each
/// step, the ranks add their sums, the host steps; the full batch and
/// L-BFGS equal the CPU's fit of all the rows in one process to float32
/// rounding.
#[test]
fn gpu_ranks_fit_the_model_of_all_the_rows() {
    if common::gpu("GPU ranks").is_none() {
        return;
    }
    let dir = folder("gpu");
    let data = Synthetic::generate(Model::Logistic, 3000, 4, 0.3, 17).unwrap();
    write_csv(&dir.join("rows.csv"), &data, 0..3000, true);
    for solver in ["gd", "lbfgs"] {
        let fit = |device: &str, save: &str| -> Vec<String> {
            strings(&[
                "fit", "--data", "rows.csv", "--target", "y", "--model", "logistic", "--solver", solver,
                "--epochs", "40", "--l2", "0.01", "--device", device, "--save", save,
            ])
        };
        alone(&dir, &refs(&fit("cpu", "cpu.json")));
        let report = succeed(&dir, 2, &refs(&fit("gpu", "gpu.json")));
        assert!(report.contains("on gpu"), "{report}");
        close(
            &format!("{solver} on GPU ranks"),
            &parameters(&dir.join("gpu.json")),
            &parameters(&dir.join("cpu.json")),
            1e-4,
        );
    }
}

/// A model saved from `.npy` files over ranks resumes over ranks on them
/// (the files' columns are the features: none are chosen by name) to the
/// fit one process continues.
#[test]
fn an_npy_fit_over_ranks_resumes_over_ranks() {
    let dir = folder("npy-resume");
    let data = Synthetic::generate(Model::Linear, 900, 3, 0.2, 23).unwrap();
    ndarray_npy::write_npy(dir.join("x.npy"), &data.x).unwrap();
    ndarray_npy::write_npy(dir.join("y.npy"), &data.y).unwrap();
    let fit = |epochs: &str, extra: &[&str]| -> Vec<String> {
        let mut args = strings(&[
            "fit", "--data", "x.npy", "--target", "y.npy", "--epochs", epochs, "--device", "cpu",
        ]);
        args.extend(strings(extra));
        args
    };
    succeed(&dir, 2, &refs(&fit("3", &["--save", "first.json"])));
    succeed(
        &dir,
        2,
        &refs(&fit("2", &["--resume", "first.json", "--save", "ranks.json"])),
    );
    alone(
        &dir,
        &refs(&fit("2", &["--resume", "first.json", "--save", "alone.json"])),
    );
    close(
        "an .npy fit resumed over ranks",
        &parameters(&dir.join("ranks.json")),
        &parameters(&dir.join("alone.json")),
        1e-5,
    );
}

/// A file per rank whose categories, labels and missing cells differ:
/// the ranks' surveys add up, so every rank encodes with the category
/// lists, labels and means of all the files, as one process reading them
/// as one table does; a rank whose file has other columns is refused.
#[test]
fn files_per_rank_with_their_own_categories_encode_as_one_table() {
    let dir = folder("categories");
    let header = "size,colour,y\n";
    // Rank 0 has no "blue"; rank 1 only "yes" and only "blue"; rank 2 a
    // missing size.
    let parts = [
        "1.5,red,no\n2.5,green,yes\n0.5,red,no\n3.0,green,yes\n1.0,red,no\n",
        "2.0,blue,yes\n2.8,blue,yes\n",
        "0.7,green,no\n,red,yes\n1.2,blue,no\n2.2,red,yes\n",
    ];
    for (rank, rows) in parts.iter().enumerate() {
        std::fs::write(dir.join(format!("part-{rank}.csv")), format!("{header}{rows}")).unwrap();
    }
    std::fs::write(dir.join("all.csv"), format!("{header}{}", parts.concat())).unwrap();
    let fit = |data: &str, save: &str| -> Vec<String> {
        strings(&[
            "fit",
            "--data",
            data,
            "--target",
            "y",
            "--model",
            "logistic",
            "--epochs",
            "50",
            "--l2",
            "0.01",
            "--missing",
            "mean",
            "--device",
            "cpu",
            "--save",
            save,
        ])
    };
    alone(&dir, &refs(&fit("all.csv", "alone.json")));
    let report = succeed(&dir, 3, &refs(&fit("part-{rank}.csv", "ranks.json")));
    assert!(report.contains("on 11 rows"), "{report}");
    let (alone, ranks) = (
        Fitted::load(dir.join("alone.json")).unwrap(),
        Fitted::load(dir.join("ranks.json")).unwrap(),
    );
    assert_eq!(ranks.feature_names(), alone.feature_names());
    assert_eq!(
        ranks.encoding().map(|e| &e.labels),
        alone.encoding().map(|e| &e.labels)
    );
    close(
        "categories of every rank's file",
        &parameters(&dir.join("ranks.json")),
        &parameters(&dir.join("alone.json")),
        1e-5,
    );
    // A checkpoint of these files resumes on them exactly: their shared
    // encoding is the saved one.
    let mut checkpointed = fit("part-{rank}.csv", "unused.json");
    checkpointed.truncate(checkpointed.len() - 2);
    checkpointed.extend(["--checkpoint", "ck.json", "--checkpoint-every", "25"].map(String::from));
    succeed(&dir, 3, &refs(&checkpointed));
    let mut resumed = fit("part-{rank}.csv", "resumed.json");
    resumed.extend(["--resume", "ck.json"].map(String::from));
    let epochs = resumed.iter().position(|a| a == "--epochs").unwrap() + 1;
    resumed[epochs] = "10".into();
    succeed(&dir, 3, &refs(&resumed));
    // The last checkpoint is of the last epoch the run went on from: 25.
    let at = Fitted::load(dir.join("ck.json")).unwrap().history().len();
    assert_eq!(at, 25);
    let mut whole = fit("part-{rank}.csv", "whole.json");
    whole[epochs] = (at + 10).to_string();
    succeed(&dir, 3, &refs(&whole));
    assert_eq!(
        parameters(&dir.join("resumed.json")),
        parameters(&dir.join("whole.json")),
        "a file per rank, resumed at epoch {at}"
    );
    // Another column name on rank 1: refused, by rank 0 alone.
    std::fs::write(dir.join("part-1.csv"), "size,color,y\n2.0,blue,yes\n").unwrap();
    let output = finish(mpirun(
        &dir,
        3,
        &refs(&fit("part-{rank}.csv", "no.json")),
        "columns",
    ));
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert_eq!(
        stderr
            .matches("error: rank 1's table has the columns size, color, y; rank 0's has size, colour, y")
            .count(),
        1,
        "{stderr}"
    );
}

/// Where a column of numbers holds text in one rank's file, the error
/// names that rank and its file; a fit of chosen columns with missing
/// cells resumes under mpirun on its saved columns and means, as one
/// process resumes it.
#[test]
fn errors_name_the_rank_s_file_and_resumes_keep_the_saved_columns() {
    let dir = folder("named");
    let header = "size,colour,note,y\n";
    let good = "1.5,red,x,2.0\n2.5,green,y,3.1\n0.5,red,z,1.2\n";
    std::fs::write(dir.join("bad-0.csv"), format!("{header}{good}")).unwrap();
    std::fs::write(dir.join("bad-1.csv"), format!("{header}{good}")).unwrap();
    std::fs::write(dir.join("bad-2.csv"), format!("{header}{good}oops,red,w,2.2\n")).unwrap();
    let output = finish(mpirun(
        &dir,
        3,
        &["fit", "--data", "bad-{rank}.csv", "--target", "y"],
        "named",
    ));
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("error: rank 2 failed: bad-2.csv: line 5, column \"size\": \"oops\" is not a number"),
        "{stderr}"
    );
    // Chosen columns, a missing cell filled with the mean.
    let data = Synthetic::generate(Model::Linear, 400, 3, 0.2, 6).unwrap();
    write_csv(&dir.join("rows.csv"), &data, 0..400, false);
    let text = std::fs::read_to_string(dir.join("rows.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let comma = lines[2].find(',').unwrap();
    lines[2] = lines[2][comma..].to_string(); // x0 of the second row empty
    std::fs::write(dir.join("rows.csv"), lines.join("\n") + "\n").unwrap();
    let chosen = ["--data", "rows.csv", "--target", "y", "--device", "cpu"];
    let mut first: Vec<&str> = vec!["fit"];
    first.extend(chosen);
    first.extend([
        "--features",
        "x0,x2,kind",
        "--missing",
        "mean",
        "--epochs",
        "12",
        "--checkpoint",
        "ck.json",
        "--checkpoint-every",
        "5",
    ]);
    alone(&dir, &first);
    let mut resume: Vec<&str> = vec!["fit", "--resume", "ck.json", "--epochs", "4"];
    resume.extend(chosen);
    succeed(&dir, 2, &[&resume[..], &["--save", "ranks.json"]].concat());
    alone(&dir, &[&resume[..], &["--save", "alone.json"]].concat());
    close(
        "resumed on its saved columns",
        &parameters(&dir.join("ranks.json")),
        &parameters(&dir.join("alone.json")),
        1e-5,
    );
}

/// An svmlight file shared among ranks: each rank fits its share of the
/// sparse rows from their CSR arrays, its labels the same classes on
/// every rank, and the job fits the model of one process over all the rows
/// (to the float32 rounding of sums added in another order); each rank's
/// own svmlight file is refused by name.
#[test]
fn an_svmlight_file_shared_among_ranks_fits_the_model_of_all_the_rows() {
    let dir = folder("svmlight");
    let data = common::repository().join("tests/data/sparse.svm");
    let data = data.to_str().unwrap();
    let fit = |model: &str| {
        strings(&[
            "fit", "--data", data, "--target", "label", "--model", "logistic", "--solver", "lbfgs", "--l2",
            "1e-3", "--device", "cpu", "--save", model,
        ])
    };
    alone(&dir, &refs(&fit("alone.json")));
    let report = succeed(&dir, 3, &refs(&fit("ranks.json")));
    assert!(report.contains("over 3 ranks"), "{report}");
    close(
        "svmlight over 3 ranks",
        &parameters(&dir.join("ranks.json")),
        &parameters(&dir.join("alone.json")),
        1e-4,
    );
    let output = finish(mpirun(
        &dir,
        2,
        &[
            "fit",
            "--data",
            "rank{rank}.svm",
            "--target",
            "label",
            "--device",
            "cpu",
        ],
        "own svmlight",
    ));
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("share one file among the ranks"),
        "{}",
        text(&output.stderr)
    );
}

/// The table `downhill cv` prints: each strength's mean score and
/// standard error, and which was chosen.
fn cv_table(report: &str) -> (Vec<(f64, f64, f64)>, usize) {
    let mut rows = Vec::new();
    let mut chosen = usize::MAX;
    for line in report.lines() {
        let numbers: Vec<f64> = line
            .split_whitespace()
            .take(3)
            .map_while(|word| word.parse().ok())
            .collect();
        if numbers.len() == 3 {
            if line.contains("chosen") {
                chosen = rows.len();
            }
            rows.push((numbers[0], numbers[1], numbers[2]));
        }
    }
    (rows, chosen)
}

/// `downhill cv` over 2 and 3 ranks of one shared file (a logistic model
/// of a table with a text column and labels, an L1 path of a number
/// file): the strengths, fold scores and choice of one process on all the
/// rows, and the model refitted over the ranks that one process refits.
/// A file per rank, and ROC AUC scoring (all held-out rows at once), are
/// refused by name.
#[test]
fn cv_over_ranks_chooses_as_one_process_does() {
    let dir = folder("cv");
    let labels = Synthetic::generate(Model::Logistic, 2_400, 5, 0.5, 31).unwrap();
    write_csv(&dir.join("labels.csv"), &labels, 0..2_400, true);
    let values = Synthetic::generate(Model::Linear, 1_800, 6, 0.5, 32).unwrap();
    write_csv(&dir.join("values.csv"), &values, 0..1_800, false);
    let cases = [
        (
            "logistic",
            strings(&[
                "cv",
                "--data",
                "labels.csv",
                "--target",
                "y",
                "--model",
                "logistic",
                "--solver",
                "lbfgs",
                "--alphas",
                "auto:6",
                "--scoring",
                "log-loss",
                "--device",
                "cpu",
            ]),
        ),
        (
            "lasso",
            strings(&[
                "cv",
                "--data",
                "values.csv",
                "--target",
                "y",
                "--penalty",
                "l1",
                "--alphas",
                "auto:5",
                "--folds",
                "4",
                "--device",
                "cpu",
            ]),
        ),
    ];
    for (case, args) in cases {
        let save = |name: &'static str| [refs(&args), vec!["--save", name]].concat();
        let one = alone(&dir, &save("alone.json"));
        let (expected, chosen) = cv_table(&one);
        assert!(expected.len() >= 5 && chosen < expected.len(), "{case}: {one}");
        for ranks in [2, 3] {
            let report = succeed(&dir, ranks, &save("ranks.json"));
            assert!(
                report.contains(&format!("over {ranks} ranks")),
                "{case}: {report}"
            );
            let (found, found_chosen) = cv_table(&report);
            assert_eq!(found_chosen, chosen, "{case}, {ranks} ranks: {report}\n{one}");
            assert_eq!(found.len(), expected.len(), "{case}: {report}");
            for ((alpha, mean, error), (alpha_1, mean_1, error_1)) in found.iter().zip(&expected) {
                // Printed to 6 digits; the ranks' sums are added in another
                // order (float64 over float32 partial sums).
                assert!(
                    (alpha - alpha_1).abs() <= 1e-5 * alpha_1,
                    "{case}: {report}\n{one}"
                );
                assert!(
                    (mean - mean_1).abs() <= 1e-4 * mean_1.abs().max(1e-3),
                    "{case}: {report}\n{one}"
                );
                assert!(
                    (error - error_1).abs() <= 1e-3 * error_1.abs().max(1e-3),
                    "{case}: {report}\n{one}"
                );
            }
            close(
                &format!("{case}: the model refitted over {ranks} ranks"),
                &parameters(&dir.join("ranks.json")),
                &parameters(&dir.join("alone.json")),
                1e-4,
            );
        }
    }
    for (args, message) in [
        (
            vec![
                "cv",
                "--data",
                "rank{rank}.csv",
                "--target",
                "y",
                "--device",
                "cpu",
            ],
            "a --data without {rank}",
        ),
        (
            vec![
                "cv",
                "--data",
                "labels.csv",
                "--target",
                "y",
                "--model",
                "logistic",
                "--scoring",
                "roc-auc",
                "--device",
                "cpu",
            ],
            "--scoring roc-auc ranks every held-out row at once",
        ),
    ] {
        let output = finish(mpirun(&dir, 2, &args, "cv refused"));
        assert!(!output.status.success(), "{args:?}");
        assert!(text(&output.stderr).contains(message), "{}", text(&output.stderr));
    }
}
