//! `downhill convert`: a table read as `fit` reads it (one-hot text
//! columns, missing values, labels) and written cleaned, CSV, Parquet or
//! `.npy` by the output's extension, so that a large table is cleaned once.

use std::path::PathBuf;

use downhill::table::{Categorical, Format, Missing};
use downhill::Model;

use crate::args::{load, DataArgs};

/// Arguments of `downhill convert`.
#[derive(clap::Args, Debug)]
pub struct ConvertArgs {
    /// The table to read: CSV, Parquet or .npy (by extension).
    #[arg(value_name = "IN")]
    input: PathBuf,
    /// The file to write: CSV, Parquet or .npy (by extension); .npy holds
    /// one float32 matrix whose last column is the target.
    #[arg(value_name = "OUT")]
    output: PathBuf,
    /// The target column (for .npy input: the targets' file or the column index).
    #[arg(long, value_name = "COLUMN")]
    target: String,
    /// Comma-separated feature columns [default: every other column].
    #[arg(long, value_delimiter = ',', value_name = "a,b,c")]
    features: Option<Vec<String>>,
    /// linear (the target is a number) or logistic (two labels, written as 0 and 1).
    #[arg(long, default_value = "linear")]
    model: Model,
    /// Text columns: onehot (one feature per value, named column=value) or drop.
    #[arg(long, default_value = "onehot")]
    categorical: Categorical,
    /// Text columns with more distinct values than this are left out.
    #[arg(long, default_value_t = 50)]
    max_categories: usize,
    /// Missing cells (empty, NA, NaN, null, ?): error, drop (the rows) or
    /// mean (fill numbers with the column's mean).
    #[arg(long, default_value = "error")]
    missing: Missing,
    /// Logistic model: the target value written as 1 [default: the second
    /// of the two in sorted order].
    #[arg(long, value_name = "VALUE")]
    positive_class: Option<String>,
}

/// `downhill convert`.
pub fn convert(args: &ConvertArgs) -> Result<(), String> {
    if Format::of(&args.input) == Format::of(&args.output) && Format::of(&args.input) == Format::Npy {
        return Err("an .npy file is already a matrix of numbers: nothing to convert".into());
    }
    let data = DataArgs {
        data: args.input.clone(),
        target: args.target.clone(),
        features: args.features.clone(),
        categorical: args.categorical,
        max_categories: args.max_categories,
        missing: args.missing,
        positive_class: args.positive_class.clone(),
    };
    let table = load(&data, args.model)?;
    table.write(&args.output).map_err(|e| e.to_string())?;
    println!(
        "wrote {}: {} rows × {} features and the target {:?}{}",
        args.output.display(),
        table.x.nrows(),
        table.x.ncols(),
        table.target_name(),
        match Format::of(&args.output) {
            Format::Npy => format!(
                " (column {}; fit it with --data {} --target {})",
                table.x.ncols(),
                args.output.display(),
                table.x.ncols()
            ),
            _ => String::new(),
        }
    );
    Ok(())
}
