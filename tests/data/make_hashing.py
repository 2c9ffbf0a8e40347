"""Feature hashing as scikit-learn's FeatureHasher hashes, for tests/sparse.rs.

    python3 -m venv venv && venv/bin/pip install numpy scikit-learn
    venv/bin/python tests/data/make_hashing.py

hashing.csv: a small table (two text columns, a number column, a target).
hashing_expected.csv: its rows as downhill encodes them under
--hash-bits 4 --interactions city:color,city:x: the number column x, then
the 16 hashed features, from FeatureHasher(n_features=16,
input_type="dict", alternate_sign=True) over each row's dict
{"city": city, "color": color, "city=<city>^color=<color>": 1,
"city=<city>^x": x} (a string value v of key k is hashed as "k=v"; a
number value as its key alone, times the value).

hashing_places.csv: key, bits, place, sign of single keys (the place and
sign of one feature of value 1), over keys with non-ASCII text.
"""
import csv
import os

import numpy as np
from sklearn.feature_extraction import FeatureHasher

here = os.path.dirname(os.path.abspath(__file__))
rows = [
    ("Paris", "red", 1.5, 3.0),
    ("Lyon", "blue", -2.0, 1.0),
    ("Paris", "blue", 0.0, 2.0),
    ("Zürich", "green", 4.25, 5.5),
    ("Lyon", "red", 1.0, 0.5),
    ("Kraków", "red", -0.5, 2.5),
    ("Paris", "green", 3.0, 4.0),
    ("東京", "blue", 2.0, 1.5),
]
with open(os.path.join(here, "hashing.csv"), "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["city", "color", "x", "y"])
    for city, color, x, y in rows:
        w.writerow([city, color, repr(x), repr(y)])

hasher = FeatureHasher(n_features=16, input_type="dict", alternate_sign=True)
dicts = [
    {"city": city, "color": color, f"city={city}^color={color}": 1.0, f"city={city}^x": x}
    for city, color, x, _ in rows
]
hashed = hasher.transform(dicts).toarray()
with open(os.path.join(here, "hashing_expected.csv"), "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["x"] + [f"hashed[{k}]" for k in range(16)])
    for (city, color, x, _), row in zip(rows, hashed):
        w.writerow([repr(x)] + [repr(float(v)) for v in row])

keys = ["title=$", "title=Paris", "a", "", "city=Zürich", "東京=1", "x^y", "title=$1000 a Touchdown"]
with open(os.path.join(here, "hashing_places.csv"), "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["key", "bits", "place", "sign"])
    for key in keys:
        for bits in [1, 4, 18, 28]:
            n = 2 ** bits
            v = FeatureHasher(n_features=n, input_type="string", alternate_sign=True).transform([[key]])
            (place,) = v.indices
            w.writerow([key, bits, int(place), int(np.sign(v.data[0]))])
