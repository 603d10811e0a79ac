"""A dataset made by the first step from files, read by project and name in the next
ones: a second run makes the next version, which the readers then get."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["dataset_id"])
def make(rows: int):
    import os
    import tempfile

    from pipec import Dataset
    from pipec.testing.observe import body

    folder = tempfile.mkdtemp()
    for i in range(rows):
        with open(os.path.join(folder, f"part-{i}.csv"), "w") as handle:
            handle.write(f"{i},{i * i}\n")
    dataset = Dataset.create(dataset_name="squares", dataset_project="conformance")
    dataset.add_files(folder)
    dataset.upload()
    dataset.finalize()
    body("make", dataset.version, len(dataset.list_files()))
    return dataset.id


@PipelineDecorator.component(return_values=["total"])
def total(dataset_id):
    import os

    from pipec import Dataset
    from pipec.testing.observe import body

    dataset = Dataset.get(dataset_project="conformance", dataset_name="squares")
    folder = dataset.get_local_copy()
    values = []
    for name in dataset.list_files():
        with open(os.path.join(folder, name)) as handle:
            values.append(int(handle.read().split(",")[1]))
    body("total", dataset.version, dataset.id == dataset_id)
    return sum(values)


@PipelineDecorator.component(return_values=["count"])
def count(dataset_id):
    from pipec import Dataset
    from pipec.testing.observe import body

    dataset = Dataset.get(
        dataset_project="conformance", dataset_name="squares", only_completed=True
    )
    body("count", dataset.version, dataset.id == dataset_id)
    return len(dataset.list_files("*.csv"))


@PipelineDecorator.pipeline(
    name="conformance-dataset-decorator", project="conformance", version="1"
)
def main(rows: int = 3):
    dataset_id = make(rows)
    return [total(dataset_id), count(dataset_id)]


if __name__ == "__main__":
    main()
