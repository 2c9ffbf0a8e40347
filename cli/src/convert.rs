//! `downhill convert`: a table read as `fit` reads it (one-hot text
//! columns, missing values, labels) and written cleaned, CSV, Parquet or
//! `.npy` by the output's extension, block by block, so that a large table
//! is cleaned once, whatever its size.

use std::path::PathBuf;

use downhill::data::source::DataSource;
use downhill::data::table::{write_source, Categorical, Format, Missing, TableData};
use downhill::Model;

use crate::args::{describe_table, located, names, open_npy, table_options, DataArgs};

/// Arguments of `downhill convert`.
#[derive(clap::Args, Debug)]
pub struct ConvertArgs {
    /// The table to read: CSV, Parquet, .npy or svmlight (.svm, .svmlight,
    /// .libsvm) (by extension).
    #[arg(value_name = "IN")]
    input: PathBuf,
    /// The file to write: CSV, Parquet, .npy, svmlight or .npz (by
    /// extension); .npy holds one float32 matrix whose last column is the
    /// target; svmlight the target as each line's label and the non-zero
    /// features one-based; .npz the non-zero features as SciPy's
    /// save_npz writes a CSR matrix, and the target as the array y.
    #[arg(value_name = "OUT")]
    output: PathBuf,
    /// The target column (for .npy input: the targets' file or the column index).
    #[arg(long, value_name = "COLUMN")]
    target: String,
    /// Comma-separated feature columns [default: every other column].
    #[arg(long, value_delimiter = ',', value_name = "a,b,c")]
    features: Option<Vec<String>>,
    /// linear (the target is a number) or logistic (class labels, written as
    /// their class codes: 0 and 1 for two, 0 to K − 1 in sorted order for K).
    #[arg(long, default_value = "linear")]
    model: Model,
    /// Text columns: onehot (one feature per value, named column=value) or drop.
    #[arg(long, default_value = "onehot")]
    categorical: Categorical,
    /// Text columns with more distinct values than this are left out.
    #[arg(long, default_value_t = 50)]
    max_categories: usize,
    /// Missing cells (empty, NA, NaN, null, ?): error, drop (the rows) or
    /// mean (fill numbers with the column's mean; a text cell encodes as
    /// none of its column's values).
    #[arg(long, default_value = "error")]
    missing: Missing,
    /// Logistic model: the target value written as 1 [default: the second
    /// of the two in sorted order]; a target of more classes takes none.
    #[arg(long, value_name = "VALUE")]
    positive_class: Option<String>,
    /// Hash text columns into 2^N features (as fit's --hash-bits).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=24))]
    hash_bits: Option<u32>,
    /// Comma-separated text columns to hash [default: every text column].
    #[arg(long, value_delimiter = ',', value_name = "a,b", requires = "hash_bits")]
    hash_columns: Option<Vec<String>>,
    /// Pairs of columns whose products are hashed too, a:b (as fit's
    /// --interactions).
    #[arg(long, value_delimiter = ',', value_name = "a:b", value_parser = crate::args::column_pair, requires = "hash_bits")]
    interactions: Vec<(String, String)>,
}

/// `downhill convert`: a table is read once to learn its encoding, then
/// encoded and written block by block, so that a table larger than memory
/// converts too.
pub fn convert(args: &ConvertArgs) -> Result<(), String> {
    if Format::of(&args.input) == Format::of(&args.output) && Format::of(&args.input) == Format::Npy {
        return Err("an .npy file is already a matrix of numbers: nothing to convert".into());
    }
    // The output is written while the input is read block by block.
    downhill::atomic_file::check_output(&args.output, &[(&args.input, "input")])
        .map_err(|e| e.to_string())?;
    let data = DataArgs {
        data: args.input.clone(),
        target: args.target.clone(),
        features: args.features.clone(),
        categorical: args.categorical,
        max_categories: args.max_categories,
        missing: args.missing,
        positive_class: args.positive_class.clone(),
        weight_column: None,
        zero_based: false,
        hash_bits: args.hash_bits,
        hash_columns: args.hash_columns.clone(),
        interactions: args.interactions.clone(),
    };
    let (source, feature_names, target_name): (Box<dyn DataSource>, Vec<String>, String) =
        match Format::of(&args.input) {
            Format::Npy => {
                if args.features.is_some() {
                    return Err(
                        "--features names CSV or Parquet columns; an .npy file's columns are all features"
                            .into(),
                    );
                }
                let file = open_npy(&data).map_err(|e| located(&data, e))?;
                let names = file.feature_names().map_err(|e| located(&data, e))?;
                let target = file.target_name();
                (Box::new(file), names, target)
            }
            Format::Svmlight | Format::Npz => {
                // The labels as they are: a conversion keeps the numbers.
                let file =
                    crate::fit::SparseFile::open(&data, Model::Linear).map_err(|e| located(&data, e))?;
                (Box::new(file.rows), file.names, file.target)
            }
            _ => {
                let table = TableData::open(
                    &data.data,
                    &data.target,
                    names(&data.features).as_deref(),
                    &table_options(&data, args.model),
                )
                .map_err(|e| located(&data, e))?;
                describe_table(
                    table.dropped(),
                    table.encoding(),
                    table.rows_dropped(),
                    [table.cells_filled(), table.text_cells_blank()],
                );
                // A wide table is read as sparse rows, and written from them.
                let table = match table.reads_sparse() {
                    true => table.read_sparse().map_err(|e| located(&data, e))?,
                    false => table,
                };
                let names = table.feature_names();
                let target = table
                    .encoding()
                    .target
                    .clone()
                    .unwrap_or_else(|| args.target.clone());
                (Box::new(table), names, target)
            }
        };
    write_source(source.as_ref(), &feature_names, &target_name, &args.output).map_err(|e| e.to_string())?;
    let (rows, features) = (source.rows(), source.features());
    say!(
        "wrote {}: {rows} rows × {features} features and the target {target_name:?}{}",
        args.output.display(),
        match Format::of(&args.output) {
            Format::Npy => format!(
                " (column {features}; fit it with --data {} --target {features})",
                args.output.display(),
            ),
            Format::Npz => format!(
                " (the array y; fit it with --data {} --target y)",
                args.output.display(),
            ),
            _ => String::new(),
        }
    );
    Ok(())
}
