"""Writes one small table in the three formats downhill reads, with the
writers most users have (pandas + pyarrow, NumPy), so that tests/formats.rs
checks that the same rows fit the same model bit for bit whatever the file.

    python3 -m venv venv && venv/bin/pip install numpy pandas pyarrow
    venv/bin/python tests/data/make_formats.py

Columns: x1 (float64), x2 (float32), count (int64, Parquet only as an
integer column), city (text: dictionary-encoded in Parquet), and a target
y = 2 x1 − x2 + 0.5 count + city effect + noise. The npy files hold the
numeric columns only (x1, x2, count) and y, in float64 and float32.
formats_nulls.parquet has empty cells in x1.
"""
import os

import numpy as np
import pandas as pd

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(11)
n = 60
x1 = np.round(rng.normal(10.0, 3.0, n), 3)
x2 = rng.normal(-2.0, 0.5, n).astype(np.float32)
count = rng.integers(0, 20, n)
city = rng.choice(["Lyon", "Nice", "Paris"], n)
effect = {"Lyon": 1.0, "Nice": -1.0, "Paris": 0.0}
y = np.round(2 * x1 - x2.astype(np.float64) + 0.5 * count + np.vectorize(effect.get)(city) + rng.normal(0, 0.3, n), 4)

table = pd.DataFrame({"x1": x1, "x2": x2, "count": count, "city": city, "y": y})
# CSV: float32 values written as the float64 that equals them, so that the
# CSV's text reads back to the same float32.
csv = table.copy()
csv["x2"] = csv["x2"].astype(np.float64)
csv.to_csv(os.path.join(here, "formats.csv"), index=False, float_format="%.17g")
parquet = table.copy()
parquet["city"] = parquet["city"].astype("category")
parquet.to_parquet(os.path.join(here, "formats.parquet"), engine="pyarrow", row_group_size=16)

numeric = np.column_stack([x1, x2.astype(np.float64), count.astype(np.float64)])
np.save(os.path.join(here, "formats_x64.npy"), numeric)
np.save(os.path.join(here, "formats_x32.npy"), numeric.astype(np.float32))
np.save(os.path.join(here, "formats_y.npy"), y)
np.save(os.path.join(here, "formats_xy.npy"), np.column_stack([numeric, y]))
np.save(os.path.join(here, "formats_fortran.npy"), np.asfortranarray(numeric))
np.save(os.path.join(here, "formats_int.npy"), count.reshape(-1, 1))

# A column of dates, a type downhill does not read.
dated = table[["x1", "y"]].copy()
dated["day"] = pd.date_range("2024-01-01", periods=n, freq="D")
dated.to_parquet(os.path.join(here, "formats_dates.parquet"), engine="pyarrow")

# Empty cells in a numeric column (rows 38 and 50 of x1, counted from 1),
# for the error of a Parquet file streamed as numbers.
holed = table[["x1", "x2", "count", "y"]].copy()
holed.loc[[37, 49], "x1"] = np.nan
holed.to_parquet(os.path.join(here, "formats_nulls.parquet"), engine="pyarrow", row_group_size=16)
