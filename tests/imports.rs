//! The library's files import each other by their modules' paths, never
//! through the names the crate root re-exports (`crate::Error` for
//! `crate::error::Error`): an import through the root ties a file to
//! lib.rs, and through it to every module, which hides cycles between
//! files from `module-cycles`. Doc links may name the root's re-exports;
//! code may not. A group import from the root (`use crate::{a, b}`) is
//! refused as well: name each module's path. And a layer's folder says
//! what its files may import: src/data/ nothing above the data layer,
//! src/engine/ nothing above the engines (no driver, no estimator),
//! src/train/ nothing of the estimator, and src/math/ (the definitions
//! every engine obeys) nothing but errors.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The modules lib.rs declares.
fn root_modules(lib: &str) -> BTreeSet<String> {
    lib.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let rest = line
                .strip_prefix("pub mod ")
                .or_else(|| line.strip_prefix("pub(crate) mod "))
                .or_else(|| line.strip_prefix("mod "))?;
            Some(rest.trim_end_matches(';').trim().to_string())
        })
        .collect()
}

/// Every .rs file under `folder`.
fn sources(folder: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The names that follow `crate::` in the code of `text` (comments left
/// out): each the first segment of a path from the root.
fn root_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let code = match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        };
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = match rest.starts_with('{') {
                true => "{".to_string(),
                false => rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect(),
            };
            found.push((number + 1, name));
        }
    }
    found
}

#[test]
fn no_file_imports_through_the_crate_root() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = root_modules(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    assert!(
        modules.contains("error") && modules.contains("estimator"),
        "{modules:?}"
    );
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut through_the_root = Vec::new();
    for file in files.iter().filter(|f| !f.ends_with("lib.rs")) {
        let text = std::fs::read_to_string(file).unwrap();
        for (line, name) in root_paths(&text) {
            if !modules.contains(&name) {
                through_the_root.push(format!("{}:{line}: crate::{name}", file.display()));
            }
        }
    }
    assert!(
        through_the_root.is_empty(),
        "imports through the crate root:\n{}",
        through_the_root.join("\n")
    );
}

/// The check sees what it is for: a re-exported name, a group import and
/// a module path, in code and in a comment.
#[test]
fn the_check_finds_root_paths_in_code_only() {
    let text = "use crate::Error;\nuse crate::{fit, data};\nlet x = crate::error::Result;\n// crate::Model in a comment\n/// [`crate::Fitted`]\n";
    let found = root_paths(text);
    assert_eq!(
        found,
        vec![
            (1, "Error".to_string()),
            (2, "{".to_string()),
            (3, "error".to_string())
        ]
    );
}

/// A layer's folder, the modules of the crate root its files may import
/// (itself and those below it), and the files exempt, with the reason.
type Layer = (
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

const LAYERS: [Layer; 4] = [
    ("math", &["math", "error", "json_numbers"], &[]),
    (
        "data",
        &["data", "math", "error", "memory", "atomic_file", "distributed"],
        &[],
    ),
    (
        "engine",
        &["engine", "data", "math", "error", "reduce", "memory"],
        // A float64 engine for tests, whose own tests run whole fits.
        &[("reference_engine.rs", "tests only")],
    ),
    (
        "train",
        &[
            "train",
            "engine",
            "data",
            "math",
            "error",
            "reduce",
            "json_numbers",
        ],
        &[],
    ),
];

#[test]
fn each_layer_imports_nothing_above_it() {
    for (folder, may_import, exempt) in LAYERS {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(folder);
        let mut files = Vec::new();
        sources(&root, &mut files);
        assert!(files.len() > 3, "{folder}: {files:?}");
        let mut above = Vec::new();
        for file in files
            .iter()
            .filter(|f| !exempt.iter().any(|(name, _)| f.ends_with(name)))
        {
            let text = std::fs::read_to_string(file).unwrap();
            for (line, name) in root_paths(&text) {
                if !may_import.contains(&name.as_str()) {
                    above.push(format!("{}:{line}: crate::{name}", file.display()));
                }
            }
        }
        assert!(
            above.is_empty(),
            "src/{folder}/ imports from above its layer:\n{}",
            above.join("\n")
        );
    }
}
