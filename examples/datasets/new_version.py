"""A new version of the iris dataset in which one file changed.

As ClearML's docs describe versions: a child of the latest version, a writable copy of
its files, one file edited, and only that file added again. The other files are the
parent's and are not stored twice.
"""

import csv
import os
import tempfile

from pipec import Dataset

parent = Dataset.get(dataset_project="dataset_examples", dataset_name="iris")
child = Dataset.create(
    dataset_name="iris", dataset_project="dataset_examples", parent_datasets=[parent.id]
)
folder = parent.get_mutable_local_copy(tempfile.mkdtemp(prefix="iris-edit-"), overwrite=True)

# the second version keeps only the first 40 setosa flowers
path = os.path.join(folder, "setosa.csv")
with open(path, newline="") as handle:
    rows = list(csv.reader(handle))
with open(path, "w", newline="") as handle:
    csv.writer(handle).writerows(rows[:41])

child.add_files(path=folder)
child.upload()
child.finalize()
print(f"dataset {child.id} version {child.version}: modified {child.list_modified_files()}")
