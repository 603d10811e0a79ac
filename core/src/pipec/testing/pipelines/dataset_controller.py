"""A controller whose first function step makes a dataset from files and whose later
steps read it by project and name; a second run makes the next version."""

from pipec import PipelineController


def make(rows):
    import os
    import tempfile

    from pipec import Dataset
    from pipec.testing.observe import body

    folder = tempfile.mkdtemp()
    os.makedirs(os.path.join(folder, "parts"))
    for i in range(rows):
        with open(os.path.join(folder, "parts", f"{i}.txt"), "w") as handle:
            handle.write(str(i + 1))
    dataset = Dataset.create(dataset_name="numbers", dataset_project="conformance")
    dataset.add_files(folder, wildcard="*.txt")
    dataset.upload()
    dataset.finalize()
    body("make", dataset.version, len(dataset.list_files()))
    return dataset.id


def total(dataset_id):
    import os

    from pipec import Dataset
    from pipec.testing.observe import body

    dataset = Dataset.get(dataset_project="conformance", dataset_name="numbers")
    folder = dataset.get_local_copy()
    values = []
    for name in dataset.list_files("parts/*"):
        with open(os.path.join(folder, name)) as handle:
            values.append(int(handle.read()))
    body("total", dataset.version, dataset.id == dataset_id)
    return sum(values)


def largest(dataset_id, total):
    from pipec import Dataset
    from pipec.testing.observe import body

    dataset = Dataset.get(dataset_project="conformance", dataset_name="numbers")
    copy = dataset.get_local_copy()
    sizes = [entry.size for entry in dataset.file_entries]
    body("largest", dataset.version, copy == Dataset.get(dataset_id=dataset_id).get_local_copy())
    return [max(sizes), total]


if __name__ == "__main__":
    pipe = PipelineController(
        name="conformance-dataset-controller", project="conformance", version="1"
    )
    pipe.add_parameter(name="rows", default=4)
    pipe.add_function_step(
        name="make",
        function=make,
        function_kwargs=dict(rows="${pipeline.rows}"),
        function_return=["dataset_id"],
    )
    pipe.add_function_step(
        name="total",
        function=total,
        function_kwargs=dict(dataset_id="${make.dataset_id}"),
        function_return=["total"],
    )
    pipe.add_function_step(
        name="largest",
        function=largest,
        function_kwargs=dict(dataset_id="${make.dataset_id}", total="${total.total}"),
        function_return=["result"],
    )
    pipe.start()
