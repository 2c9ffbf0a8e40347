#!/usr/bin/env python3
"""Writes diabetes.csv: scikit-learn's diabetes table (442 patients, raw
units) made as messy as real tables are, for the README's worked example:
`sex` as text (F/M), 10 empty cells in each of `bmi` and `bp`, and a Yes/No
column `progressed` (the disease progression score above 140).

    pip install scikit-learn pandas
    python3 examples/data/make_diabetes_table.py
"""
import numpy as np
from sklearn.datasets import load_diabetes

frame = load_diabetes(as_frame=True, scaled=False).frame
frame["sex"] = frame["sex"].map({1.0: "F", 2.0: "M"})
rng = np.random.default_rng(0)
for column in ["bmi", "bp"]:
    frame.loc[rng.choice(len(frame), 10, replace=False), column] = np.nan
frame["progressed"] = np.where(frame["target"] > 140, "Yes", "No")
frame.to_csv("diabetes.csv", index=False, na_rep="")
