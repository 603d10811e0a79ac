"""A step that makes a dataset version (a new one only when `bump`), and cached steps
that read it by project and name and by id: each is reused only for the same version."""

from pipec import PipelineController


def make(bump):
    import os
    import tempfile

    from pipec import Dataset

    existing = Dataset.list_datasets(dataset_project="lineage")
    if existing and not bump:
        return Dataset.get(dataset_project="lineage", dataset_name="rows").id
    folder = tempfile.mkdtemp()
    with open(os.path.join(folder, "rows.csv"), "w") as handle:
        handle.write("x\n" + "\n".join(str(i) for i in range(len(existing) + 3)))
    dataset = Dataset.create(dataset_project="lineage", dataset_name="rows")
    dataset.add_files(folder)
    dataset.finalize(auto_upload=True)
    return dataset.id


def by_name():
    from pipec import Dataset

    dataset = Dataset.get(dataset_project="lineage", dataset_name="rows", alias="rows")
    with open(dataset.get_local_copy() + "/rows.csv") as handle:
        return len(handle.read().splitlines()) - 1


def by_id(dataset_id):
    from pipec import Dataset

    return Dataset.get(dataset_id=dataset_id).version


if __name__ == "__main__":
    pipe = PipelineController(name="dataset-lineage", project="lineage", version="1")
    pipe.add_parameter(name="bump", default=False)
    pipe.add_function_step(
        name="make",
        function=make,
        function_kwargs=dict(bump="${pipeline.bump}"),
        function_return=["dataset_id"],
    )
    pipe.add_function_step(
        name="by_name",
        function=by_name,
        parents=["make"],
        function_return=["rows"],
        cache_executed_step=True,
    )
    pipe.add_function_step(
        name="by_id",
        function=by_id,
        function_kwargs=dict(dataset_id="${make.dataset_id}"),
        function_return=["version"],
        cache_executed_step=True,
    )
    pipe.start()
