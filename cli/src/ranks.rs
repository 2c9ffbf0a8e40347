//! `mpirun -np N downhill fit …`: the fit as one rank of an MPI job (the
//! `distributed` feature). Each rank reads its shard of `--data` (its rows
//! of the one file, or its own file where the path holds `{rank}`), the
//! ranks fit the model of all the rows together, and rank 0 alone prints,
//! plots and saves.

use downhill::DataError;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use downhill::data::source::{DataSource, RowRange};
use downhill::distributed::{agree, gather, gather_bytes, shard_of, shard_of_groups, Collective, Mpi};
use downhill::metrics::Scoring;
use downhill::{CvScoring, Error, Fitted, GradientDescent};

use downhill::data::parquet_source::ParquetData;
use downhill::data::table::{Format, Missing, TableData};
use downhill::Model;

use crate::args::{
    fit_with_progress, for_class_codes, for_classes, located, names, open_npy, table_options, CvArgs,
    DataArgs, FitArgs, ScoringArg, TrainArgs,
};
use crate::fit::{check_output_paths, check_resume_options, report, streamed_file, Described, Streamed};

/// The MPI job this process is a rank of, where an MPI launcher started it
/// (Open MPI's, MPICH's or a PMIx launcher's variables are set); `None`
/// for a process on its own.
pub fn join() -> Result<Option<Arc<Mpi>>, String> {
    let launched = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"]
        .iter()
        .any(|name| std::env::var_os(name).is_some());
    match launched {
        false => Ok(None),
        true => Mpi::initialize()
            .map(|mpi| Some(Arc::new(mpi)))
            .map_err(|e| e.to_string()),
    }
}

/// How a rank's fit failed.
pub enum Failure {
    /// Every rank knows it (the ranks agreed on it, or every rank met the
    /// same refusal): rank 0 says it, every rank exits.
    Agreed(String),
    /// This rank alone knows it, in the middle of the fit, where the
    /// others wait for it in a collective: it says it and ends the job.
    Local(String),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        match error {
            Error::RankFailed { .. } | Error::EveryRankFailed { .. } => Failure::Agreed(error.to_string()),
            other => Failure::Local(other.to_string()),
        }
    }
}

/// `downhill fit` as one rank of `mpi`'s job: its exit code.
pub fn fit_exit(args: &FitArgs, mpi: &Arc<Mpi>) -> ExitCode {
    exit_code(fit(args, mpi), mpi)
}

/// `downhill cv` as one rank of `mpi`'s job: its exit code.
pub fn cv_exit(args: &CvArgs, mpi: &Arc<Mpi>) -> ExitCode {
    exit_code(cv(args, mpi), mpi)
}

/// The exit code of a rank whose command ended with `result`: an agreed
/// failure said by rank 0, a rank's own by that rank, which ends the job.
fn exit_code(result: Result<(), Failure>, mpi: &Mpi) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Agreed(message)) => {
            if mpi.rank() == 0 {
                eprintln!("error: {message}");
            }
            ExitCode::FAILURE
        }
        Err(Failure::Local(message)) => {
            eprintln!("error: rank {} of {}: {message}", mpi.rank(), mpi.size());
            mpi.abort(1)
        }
    }
}

/// A command that runs on one process, refused under a launcher of
/// several.
pub fn alone(command: &str, mpi: &Mpi) -> Result<(), String> {
    match mpi.size() {
        1 => Ok(()),
        n => Err(format!(
            "`downhill {command}` runs on one process; of the commands only `fit` and `cv` run over ranks ({n} were started)"
        )),
    }
}

fn fit(args: &FitArgs, mpi: &Arc<Mpi>) -> Result<(), Failure> {
    let collective: Arc<dyn Collective> = mpi.clone();
    let ranks = collective.as_ref();
    let (rank, size) = (ranks.rank(), ranks.size());
    for (flag, given, instead) in [
        (
            "--test-size",
            args.test_size.is_some(),
            "hold out a file per rank and score it with `downhill predict`",
        ),
        (
            "--validation-fraction",
            args.validation_fraction.is_some(),
            "stop on the training loss (--tol)",
        ),
        (
            "--plot-path",
            args.plot_path.is_some(),
            "draw it from one process",
        ),
    ] {
        if given {
            return Err(Failure::Agreed(format!(
                "{flag} holds out or draws rows of one process, not of a fit over ranks: {instead}"
            )));
        }
    }
    // Rank 0 writes the plots and the model: a path that cannot take one
    // fails every rank before the fit.
    let plots = match rank {
        0 => check_output_paths(args),
        _ => Ok(()),
    };
    agree(ranks, plots)?;
    if args.resume.is_some() {
        match check_resume_options(args).map_err(Failure::Agreed)? {
            Some(warning) if rank == 0 => eprintln!("{warning}"),
            _ => {}
        }
    }
    // Each rank's file: its own where the path names the rank, else the
    // one file, of which it reads its rows.
    let own_file = args.data.data.to_string_lossy().contains("{rank}");
    let mut data = args.data.clone();
    if own_file {
        data.data = PathBuf::from(of_rank(&data.data.to_string_lossy(), rank));
        data.target = of_rank(&data.target, rank);
    }
    let resumed = args
        .resume
        .as_ref()
        .map(|path| Fitted::load(path).map_err(|e| format!("{}: {e}", path.display())))
        .transpose();
    let resumed = agree(ranks, resumed)?;
    // A resumed fit reads the columns its model was fitted to, its means
    // filling missing cells, as `fit --resume` on one process does.
    // (An .npy file's columns are the features, without names to choose.)
    if let Some(saved) = resumed.as_ref().and_then(Fitted::encoding) {
        if Format::of(&data.data) != Format::Npy {
            data.features = Some(saved.column_names().into_iter().map(String::from).collect());
            data.missing = Missing::Mean;
        }
    }
    let file = match (own_file, parquet_numbers(&data, &args.train)) {
        (true, _) => open_own_file(&data, &args.train, ranks)?,
        // One file of numbers: the ranks share it by whole row groups.
        (false, Some(numbers)) => Streamed::Numbers(numbers),
        (false, None) => agree(
            ranks,
            streamed_file(&data, &args.train, true).and_then(|file| {
                file.ok_or_else(|| format!("{} cannot be read as a stream", data.data.display()))
            }),
        )?,
    };
    // A resumed fit reads a table with the saved encoding (its means
    // fill the missing cells), where the table encodes to its features.
    let file = match (resumed.as_ref().and_then(Fitted::encoding), file) {
        (Some(saved), Streamed::Table(table)) => table
            .with_encoding(saved.clone())
            .map(Streamed::Table)
            .map_err(|e| format!("{}: {e}", data.data.display())),
        (_, file) => Ok(file),
    };
    let file = agree(ranks, file)?;
    // What reading left out and filled: of every rank's file, or of the
    // one file that every rank surveyed whole.
    let counts = match &file {
        Streamed::Table(table) => [
            table.rows_dropped() as f64,
            table.cells_filled() as f64,
            table.text_cells_blank() as f64,
        ],
        _ => [0.0; 3],
    };
    let counts = gather(ranks, &counts)?;
    if rank == 0 {
        let total = |k: usize| match own_file {
            true => counts.iter().map(|c| c[k] as usize).sum::<usize>(),
            false => counts[0][k] as usize,
        };
        file.describe_with(total(0), [total(1), total(2)]);
    }
    let source = file.source();
    // A Parquet file of numbers hands out whole row groups where it has
    // one per rank at least; any other file, consecutive rows.
    let range = match (own_file, &file) {
        (true, _) => 0..source.rows(),
        (false, Streamed::Numbers(parquet)) => shard_of_groups(&parquet.row_groups(), rank, size)
            .or_else(|| shard_of(source.rows(), rank, size))
            .unwrap_or_default(),
        (false, _) => shard_of(source.rows(), rank, size).unwrap_or_default(),
    };
    let shard = agree(ranks, RowRange::new(source, range.clone()))?;
    // Every rank reads the same columns, encoded the same way.
    let names = agree(ranks, file.feature_names())?;
    same_on_every_rank(ranks, &names.join(", "), |r, theirs, ours| {
        format!("rank {r}'s file has the features {theirs}; rank 0's has {ours}")
    })?;
    let (rows, features) = (shard.rows(), shard.features());
    let total = gather(ranks, &[rows as f64])?
        .iter()
        .map(|r| r[0] as usize)
        .sum::<usize>();
    // Decided by each rank from its own rows' labels: agreed.
    let descent = match &resumed {
        Some(fitted) => Ok(fitted.continuation(args.train.epochs.unwrap_or(1))),
        None => fresh_settings(args, &file, total, own_file),
    };
    let descent = agree(ranks, descent)?;
    // Labels read from each rank's own file could make other classes.
    same_on_every_rank(ranks, &descent.loss_settings().to_string(), |r, theirs, ours| {
        format!("rank {r}'s targets make the {theirs} loss, rank 0's the {ours} (other classes)")
    })?;
    let descent = descent.distributed(Arc::clone(&collective));
    // A rank's failure names its own file, where each has one.
    let with_file = |e: Error| match e {
        Error::RankFailed { rank, cause } if own_file => {
            let file = of_rank(&args.data.data.to_string_lossy(), rank);
            let cause = match cause.contains(&file) {
                true => cause,
                false => format!("{file}: {cause}"),
            };
            Error::RankFailed { rank, cause }
        }
        other => other,
    };
    let started = Instant::now();
    let fitted = match rank {
        0 => {
            fit_with_progress(
                &descent,
                format!("fitting {total} rows × {features} features over {size} ranks"),
                |descent| descent.fit_source(&shard),
            )
            .map_err(with_file)?
            .0
        }
        _ => descent.fit_source(&shard).map_err(with_file)?,
    };
    let elapsed = started.elapsed();
    // Every rank scores its own rows; rank 0 reports the scores of all.
    let (feature_names, encoding) = agree(ranks, file.described(&fitted))?;
    let scores = crate::report::scores_of_source(
        &fitted,
        &shard,
        encoding.labels.as_ref(),
        Scoring::over_ranks(ranks),
    )?;
    if rank != 0 {
        return Ok(());
    }
    let described = Described {
        feature_names: &feature_names,
        rows: total,
        features,
        encoding: &encoding,
        scored: Some(format!(
            "all {total} rows, over {size} ranks (rank 0 read rows {}..{} of {})",
            range.start,
            range.end,
            data.data.display()
        )),
    };
    report(args, &described, &fitted, elapsed, &scores, None, None).map_err(Failure::Agreed)
}

/// `downhill cv` as one rank of a job: every rank reads its share of the
/// one file, the folds are of every row (each rank's the share of its
/// rows), each fold's fits and scores are of every rank's rows, and rank 0
/// prints the table and saves the model refitted over the ranks.
fn cv(args: &CvArgs, mpi: &Arc<Mpi>) -> Result<(), Failure> {
    let collective: Arc<dyn Collective> = mpi.clone();
    let ranks = collective.as_ref();
    let (rank, size) = (ranks.rank(), ranks.size());
    let data = &args.data;
    if data.data.to_string_lossy().contains("{rank}") {
        return Err(Failure::Agreed(
            "cv over ranks reads one file that the ranks share, whose folds are of every row: a --data without {rank}"
                .into(),
        ));
    }
    if data.weight_column.is_some() {
        return Err(Failure::Agreed(
            "--weight-column is not read by cv yet; cross-validate unweighted rows".into(),
        ));
    }
    if args.scoring.map(ScoringArg::scoring) == Some(CvScoring::RocAuc) {
        return Err(Failure::Agreed(
            "--scoring roc-auc ranks every held-out row at once, which rows spread over ranks are not: score by accuracy or log-loss"
                .into(),
        ));
    }
    let save = match (rank, &args.save) {
        (0, Some(path)) => {
            downhill::atomic_file::check_output(path, &[(&data.data, "--data")]).map_err(|e| e.to_string())
        }
        _ => Ok(()),
    };
    agree(ranks, save)?;
    let file = match parquet_numbers(data, &args.train) {
        Some(numbers) => Streamed::Numbers(numbers),
        None => agree(
            ranks,
            streamed_file(data, &args.train, true).and_then(|file| {
                file.ok_or_else(|| format!("{} cannot be read as a stream", data.data.display()))
            }),
        )?,
    };
    if rank == 0 {
        file.describe();
    }
    let source = file.source();
    let total = source.rows();
    let range = match &file {
        Streamed::Numbers(parquet) => shard_of_groups(&parquet.row_groups(), rank, size)
            .or_else(|| shard_of(total, rank, size))
            .unwrap_or_default(),
        _ => shard_of(total, rank, size).unwrap_or_default(),
    };
    let shard = agree(ranks, RowRange::new(source, range.clone()))?;
    // Every rank reads the same file: the settings, the strengths (from
    // every row) and the folds come out the same on each.
    let descent = agree(
        ranks,
        settings_of(
            &args.train,
            data,
            args.train.descent(args.lr),
            &file,
            total,
            false,
        ),
    )?;
    let strengths = agree(ranks, crate::cv::strengths(&args.alphas, source, &descent))?;
    let labels = match &file {
        Streamed::Table(table) => table.encoding().labels.as_ref(),
        Streamed::Sparse(file) => file.labels.as_ref(),
        _ => None,
    };
    let folds = agree(
        ranks,
        crate::cv::targets(source).and_then(|y| crate::cv::folds(args, &y, labels)),
    )?;
    let rank_folds = agree(ranks, folds.of_rows(range.clone()).map_err(|e| e.to_string()))?;
    let options = crate::cv::plan(args, &strengths, &folds, rank == 0);
    if rank == 0 {
        say!(
            "rows:         {total} × {} features, over {size} ranks (rank 0 reads rows {}..{})",
            source.features(),
            range.start,
            range.end
        );
    }
    // The settings' own refusals (strengths, folds, scoring) are met by
    // every rank alike.
    let found = descent
        .distributed(Arc::clone(&collective))
        .cross_validate_source(&shard, &strengths, &rank_folds, options)
        .map_err(|e| match e {
            Error::Estimator(_) => Failure::Agreed(file.explain(e, &data.data)),
            other => Failure::from(other),
        })?;
    let encoding = agree(ranks, file.described(&found.fitted))?.1;
    if rank != 0 {
        return Ok(());
    }
    crate::cv::report(args, &found, total, &|_| Ok(encoding.clone())).map_err(Failure::Agreed)
}

/// The Parquet file of `data` as numbers, where it is one (number columns
/// without booleans, for a linear model without a weight column), which
/// ranks share by whole row groups.
fn parquet_numbers(data: &DataArgs, train: &TrainArgs) -> Option<ParquetData> {
    let plain = Format::of(&data.data) == Format::Parquet
        && train.model() == Model::Linear
        && data.weight_column.is_none();
    plain
        .then(|| ParquetData::open(&data.data, &data.target, names(&data.features).as_deref()).ok())
        .flatten()
        .filter(|file| !file.has_booleans())
}

/// A path or name with `{rank}` read as rank `rank`'s.
fn of_rank(pattern: &str, rank: usize) -> String {
    pattern.replace("{rank}", &rank.to_string())
}

/// This rank's own file (`--data` naming `{rank}`), read as every rank
/// reads its own: an `.npy` file as numbers; a Parquet file of numbers as
/// numbers where every rank's is one; any other table surveyed by every
/// rank and encoded as their surveys decide together (the category lists,
/// the means and the labels of all the files).
fn open_own_file(data: &DataArgs, train: &TrainArgs, ranks: &dyn Collective) -> Result<Streamed, Failure> {
    let format = Format::of(&data.data);
    if format == Format::Npy {
        return Ok(agree(ranks, open_npy(data).map(Streamed::Npy))?);
    }
    if matches!(format, Format::Svmlight | Format::Npz) {
        return Err(Failure::Agreed(
            "each rank's own svmlight or .npz file could hold other labels: share one file among the ranks (a --data without {rank})"
                .into(),
        ));
    }
    let features = names(&data.features);
    if format == Format::Parquet {
        let numbers = parquet_numbers(data, train);
        let all_numbers = gather(ranks, &[f64::from(u8::from(numbers.is_some()))])?
            .iter()
            .all(|flag| flag[0] == 1.0);
        if let (true, Some(file)) = (all_numbers, numbers) {
            return Ok(Streamed::Numbers(file));
        }
    }
    let table = TableData::open_shard(
        &data.data,
        &data.target,
        features.as_deref(),
        &table_options(data, train.model()),
        ranks,
    )
    .map_err(|e| match e {
        Error::RankFailed { .. }
        | Error::EveryRankFailed { .. }
        | Error::Data(DataError::ShardColumns { .. }) => Failure::Agreed(e.to_string()),
        other => Failure::Agreed(located(data, other)),
    })?;
    // Each rank's own rows: as sparse rows where one-hot or hashed columns
    // make them wide (within the budget), else streamed, the dense one-hot
    // columns within the budget.
    let budget = train
        .memory_budget
        .unwrap_or_else(downhill::memory::default_budget);
    let table = match table.reads_sparse() {
        true => table
            .check_sparse_bytes(budget)
            .and_then(|()| table.read_sparse()),
        false => table.check_width(budget).map(|()| table),
    };
    Ok(Streamed::Table(agree(
        ranks,
        table.map_err(|e| located(data, e)),
    )?))
}

/// The settings of a fresh fit of `file`, as `fit` would make them, for
/// `rows` rows over every rank.
fn fresh_settings(
    args: &FitArgs,
    file: &Streamed,
    rows: usize,
    own_file: bool,
) -> Result<GradientDescent, String> {
    let mut descent = args.train.descent(args.lr);
    if let Some(path) = &args.checkpoint {
        descent = descent.checkpoint(path, args.checkpoint_every);
    }
    if let Streamed::Table(table) = file {
        descent = descent.checkpoint_encoding(table.encoding().clone());
    }
    settings_of(&args.train, &args.data, descent, file, rows, own_file)
}

/// `descent` with what `train` asks of the targets of `file` (`rows` rows
/// over every rank, in one file or in one per rank): the classes, their
/// weights, the sparse rows' settings.
fn settings_of(
    train: &TrainArgs,
    data: &DataArgs,
    descent: GradientDescent,
    file: &Streamed,
    rows: usize,
    own_file: bool,
) -> Result<GradientDescent, String> {
    match file {
        Streamed::Table(table) => for_classes(train, descent, table.encoding(), rows, false),
        Streamed::Npy(npy) => for_class_codes(
            train,
            descent,
            || Ok(npy.y().map_err(|e| e.to_string())?.to_vec()),
            false,
            !own_file,
        ),
        Streamed::Numbers(_) => Ok(descent),
        // One file read by every rank: the same labels on every rank.
        Streamed::Sparse(file) if !own_file => crate::fit::sparse_settings(train, &data.data, descent, file, rows),
        Streamed::Sparse(_) => Err(
            "each rank's own svmlight or .npz file could hold other labels: share one file among the ranks (a --data without {rank})"
                .into(),
        ),
    }
}

/// Refuses, on every rank, where `value` differs between a rank and rank
/// 0, with `message` of the first such rank, its value and rank 0's.
fn same_on_every_rank(
    ranks: &dyn Collective,
    value: &str,
    message: impl Fn(usize, &str, &str) -> String,
) -> Result<(), Failure> {
    let all = gather_bytes(ranks, value.as_bytes())?;
    match all.iter().position(|v| *v != all[0]) {
        None => Ok(()),
        Some(rank) => Err(Failure::Agreed(message(
            rank,
            &String::from_utf8_lossy(&all[rank]),
            &String::from_utf8_lossy(&all[0]),
        ))),
    }
}
