//! The `downhill` command-line program: demo, fit, predict, sweep, cv, convert and bench.

/// `println!` that never panics: see [`report::say`].
macro_rules! say {
    () => {
        $crate::report::say(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::report::say(format_args!($($arg)*))
    };
}

mod args;
mod bench;
mod convert;
mod cv;
mod demo;
mod fit;
mod predict;
#[cfg(feature = "distributed")]
mod ranks;
mod report;
mod sweep;

use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Gradient descent for linear and logistic regression, on the CPU and the
/// GPU: fit CSV data, predict, compare learning rates, benchmark.
#[derive(Parser)]
#[command(name = "downhill", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// A short tour on built-in data (the default when no command is
    /// given): full-batch, mini-batch and stochastic descent on the GPU
    /// where there is one, checked against the CPU engine, with their loss
    /// per epoch, the coefficients against the true ones, and a loss plot.
    Demo(demo::DemoArgs),
    /// Fits a model to a CSV file and prints the stop reason, the loss, R²
    /// or accuracy, and each coefficient by its column name.
    Fit(args::FitArgs),
    /// Predicts with a model saved by `fit --save`, matching columns by name.
    Predict(args::PredictArgs),
    /// One run per learning rate: a table of final losses and stop reasons,
    /// the largest learning rate that stayed stable, and the loss curves.
    Sweep(args::SweepArgs),
    /// The penalty's strength chosen by k-fold cross-validation: each
    /// strength's mean score over the held-out folds, the choice, and the
    /// model refitted at it on every row.
    Cv(args::CvArgs),
    /// Reads a table as `fit` does (one-hot text columns, missing values,
    /// labels) and writes it cleaned as CSV, Parquet or .npy.
    Convert(convert::ConvertArgs),
    /// Throughput across batch sizes on seeded synthetic data: samples/s,
    /// steps/s, GB/s of X read and the share of the machine's measured
    /// peak, per device; optionally as JSON.
    Bench(bench::BenchArgs),
}

impl Command {
    /// The command as it is typed.
    #[cfg_attr(not(feature = "distributed"), allow(dead_code))]
    fn name(&self) -> &'static str {
        match self {
            Command::Demo(_) => "demo",
            Command::Fit(_) => "fit",
            Command::Predict(_) => "predict",
            Command::Sweep(_) => "sweep",
            Command::Cv(_) => "cv",
            Command::Convert(_) => "convert",
            Command::Bench(_) => "bench",
        }
    }
}

/// Mesa's Vulkan drivers print "error: XDG_RUNTIME_DIR is invalid or not
/// set" on every start where the variable is unset (containers, CI, ssh
/// sessions without a login). Point it at a private folder of the program's
/// own when it is unset or does not name a folder; returns that folder, to
/// be removed at the end.
fn quiet_runtime_dir() -> Option<std::path::PathBuf> {
    let usable = std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|dir| std::path::Path::new(&dir).is_dir());
    if usable {
        return None;
    }
    let dir = std::env::temp_dir().join(format!("downhill-runtime-{}", std::process::id()));
    if std::fs::create_dir_all(&dir).is_ok() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        }
        // First thing in main, before any other thread exists.
        std::env::set_var("XDG_RUNTIME_DIR", &dir);
        return Some(dir);
    }
    None
}

/// Ends the program quietly when its reader goes away (`downhill fit … |
/// head`), as command-line tools do, rather than panicking on the next
/// print. (The runtime folder of [`quiet_runtime_dir`], empty, then stays.)
fn end_quietly_on_closed_pipe() {
    #[cfg(target_os = "linux")]
    // SAFETY: first thing in main, before any other thread exists; SIG_DFL
    // is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// The message of the last panic, kept rather than printed: the library
/// catches the panics of the Parquet decoder on a corrupt file and reports
/// them as errors ([`downhill::DataError::MalformedFile`]), and the default
/// hook would print each first. A panic that ends the program is printed
/// by [`main`].
static PANIC_MESSAGE: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

fn keep_panic_messages() {
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut kept) = PANIC_MESSAGE.lock() {
            *kept = Some(info.to_string());
        }
    }));
}

fn main() -> ExitCode {
    end_quietly_on_closed_pipe();
    // With RUST_BACKTRACE set, the default hook's report and backtrace.
    if std::env::var_os("RUST_BACKTRACE").is_none() {
        keep_panic_messages();
    }
    match std::panic::catch_unwind(run) {
        Ok(code) => code,
        Err(_) => {
            let message = PANIC_MESSAGE.lock().ok().and_then(|kept| kept.clone());
            eprintln!(
                "error: downhill panicked, which is a bug; please report it with the command that did this: {}",
                message.unwrap_or_default()
            );
            ExitCode::from(101)
        }
    }
}

/// The command line's command, run.
fn run() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // What `fit` was given on the command line, as against its defaults.
    if let (Some(Command::Fit(args)), Some(("fit", given))) = (&mut cli.command, matches.subcommand()) {
        args.given = given
            .ids()
            .filter(|id| given.value_source(id.as_str()) == Some(ValueSource::CommandLine))
            .map(|id| id.to_string())
            .collect();
    }
    let runtime_dir = quiet_runtime_dir();
    let command = cli.command.unwrap_or(Command::Demo(demo::DemoArgs::default()));
    // Under an MPI launcher, `fit` runs as one rank of the job.
    #[cfg(feature = "distributed")]
    let command = match ranks::join() {
        Err(message) => Err(message),
        Ok(None) => Ok(command),
        Ok(Some(mpi)) => match command {
            Command::Fit(args) => {
                let code = ranks::fit_exit(&args, &mpi);
                if let Some(dir) = runtime_dir {
                    let _ = std::fs::remove_dir(dir);
                }
                return code;
            }
            Command::Cv(args) => {
                let code = ranks::cv_exit(&args, &mpi);
                if let Some(dir) = runtime_dir {
                    let _ = std::fs::remove_dir(dir);
                }
                return code;
            }
            other => ranks::alone(other.name(), &mpi).map(|()| other),
        },
    };
    #[cfg(not(feature = "distributed"))]
    let command: Result<Command, String> = Ok(command);
    let result = command.and_then(|command| match command {
        Command::Demo(args) => demo::demo(&args),
        Command::Fit(args) => fit::fit(&args),
        Command::Predict(args) => predict::predict(&args),
        Command::Sweep(args) => sweep::sweep(&args),
        Command::Cv(args) => cv::cv(&args),
        Command::Bench(args) => bench::bench(&args),
        Command::Convert(args) => convert::convert(&args),
    });
    if let Some(dir) = runtime_dir {
        let _ = std::fs::remove_dir(dir);
    }
    // A report that could not be written fails the command, after it has
    // done the rest of its work (a model asked for is still saved).
    let result = result.and_then(|()| report::stdout_failure().map_or(Ok(()), Err));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
