"""Steps run where the pipeline was launched, as ClearML runs local steps: one writes a
file by a relative path, and the next reads it there (the kit launches each run in a
folder named `run-N`)."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["count"])
def prepare(n):
    import os

    from pipec.testing.observe import body

    os.makedirs("prepared", exist_ok=True)
    with open(os.path.join("prepared", "numbers.txt"), "w") as handle:
        handle.write("\n".join(str(i) for i in range(n)))
    body("prepare", n)
    return n


@PipelineDecorator.component(return_values=["total", "folder"])
def total(count):
    import os

    from pipec.testing.observe import body

    with open("prepared/numbers.txt") as handle:
        numbers = [int(line) for line in handle]
    body("total", count, len(numbers))
    return sum(numbers), os.path.basename(os.getcwd())


@PipelineDecorator.pipeline(name="conformance-working-dir", project="conformance", version="1")
def main(n: int = 5):
    count = prepare(n)
    return total(count)


if __name__ == "__main__":
    main()
