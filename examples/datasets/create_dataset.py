"""Register the iris data as a dataset, the way ClearML's dataset docs do it.

Only the import points at pipec. The folder registered is one CSV per species, made
from examples/data/iris.csv, so the example needs no network access. Run it from any
folder; the dataset goes to the store (./.pipec/store, or $PIPEC_STORAGE).
"""

import csv
import os
import tempfile

from pipec import Dataset

SPECIES = ["setosa", "versicolor", "virginica"]
IRIS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "iris.csv")

folder = tempfile.mkdtemp(prefix="iris-")
with open(IRIS, newline="") as handle:
    rows = list(csv.reader(handle))
header, by_species = rows[0], {}
for row in rows[1:]:  # the last column is the species: 0, 1 or 2
    by_species.setdefault(SPECIES[int(row[-1])], []).append(row)
for species, species_rows in by_species.items():
    with open(os.path.join(folder, f"{species}.csv"), "w", newline="") as handle:
        csv.writer(handle).writerows([header, *species_rows])

dataset = Dataset.create(dataset_name="iris", dataset_project="dataset_examples")
dataset.add_files(path=folder)
dataset.upload()
dataset.finalize()
print(f"dataset {dataset.id} version {dataset.version}: {dataset.list_files()}")
