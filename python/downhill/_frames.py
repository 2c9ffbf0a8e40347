"""Frames with text columns (pandas or polars): written to a CSV file in a
temporary folder, which the library reads through its table encoding, the
one the ``downhill`` program uses (numbers as numbers, text one-hot,
missing cells an error naming the cell). The file goes with the object."""

import os
import tempfile

import numpy as np

# The columns the package adds to the file: the target and the weights.
TARGET = "__downhill_target__"
WEIGHT = "__downhill_weight__"


def _library(X):
    return type(X).__module__.split(".")[0]


def _text_columns(X):
    """The names of ``X``'s columns that hold something other than numbers."""
    library = _library(X)
    if library == "pandas" and hasattr(X, "dtypes") and hasattr(X, "columns"):
        from pandas.api.types import is_numeric_dtype

        return [str(column) for column, dtype in zip(X.columns, X.dtypes) if not is_numeric_dtype(dtype)]
    if library == "polars" and hasattr(X, "schema"):
        return [str(name) for name, dtype in X.schema.items() if not dtype.is_numeric()]
    return []


def is_text_frame(X):
    """Whether ``X`` is a pandas or polars frame with a column of something
    other than numbers (text, categories, dates)."""
    library = _library(X)
    if library == "pandas" and hasattr(X, "dtypes") and hasattr(X, "columns"):
        from pandas.api.types import is_numeric_dtype

        return any(not is_numeric_dtype(dtype) for dtype in X.dtypes)
    if library == "polars" and hasattr(X, "schema"):
        return any(not dtype.is_numeric() for dtype in X.schema.values())
    return False


class Frame:
    """Rows given as a frame to be read through the table encoding."""

    def __init__(self, frame):
        self.frame = frame
        self.columns = [str(column) for column in frame.columns]
        # Read as text by the library whatever they hold ("01000", "NA").
        self.text_columns = _text_columns(frame)
        for reserved in (TARGET, WEIGHT):
            if reserved in self.columns:
                raise ValueError(f"the column name {reserved!r} is the package's own; rename the column")

    def __len__(self):
        return len(self.frame)


class TableFile:
    """``frame`` (with ``target`` and ``weights`` as columns of their own,
    where given) as a CSV file, removed on leaving the ``with`` block."""

    def __init__(self, frame, target=None, weights=None):
        self._folder = tempfile.TemporaryDirectory(prefix="downhill-")
        self.path = os.path.join(self._folder.name, "table.csv")
        extra = {}
        if target is not None:
            target = np.asarray(target)
            extra[TARGET] = target.astype(np.int64) if target.dtype.kind in "iu" else target
        if weights is not None:
            extra[WEIGHT] = np.asarray(weights)
        # Booleans as 0 and 1, as an array of them reads.
        if _library(frame.frame) == "polars":
            import polars as pl

            data = frame.frame.with_columns(pl.col(pl.Boolean).cast(pl.Int8))
            data = data.with_columns([pl.Series(name, values) for name, values in extra.items()])
            data.write_csv(self.path)
        else:
            booleans = frame.frame.select_dtypes(include="bool").columns
            data = frame.frame.astype({column: "int8" for column in booleans}) if len(booleans) else frame.frame
            data = data.assign(**extra) if extra else data
            data.to_csv(self.path, index=False)

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self._folder.cleanup()
