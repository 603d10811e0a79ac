"""Pipeline logic that Airflow replays after the steps: prints, an assert and a return value."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["a", "b"])
def split(x):
    return x, x + 1


@PipelineDecorator.component(return_values=["total"])
def add(a, b):
    return a + b


@PipelineDecorator.pipeline(name="replay", project="tests", version="1")
def main(x: int = 2, limit: int = 100):
    a, b = split(x)
    total = add(a, b)
    if __import__("os").environ.get("PIPEC_TEST_EXTRA_STEP"):
        total = add(total, 1)  # a path the logic did not take when it was compiled
    print(f"replayed total: {total}")
    assert total < limit, f"total {total} reached the limit {limit}"
    return {"total": total * 10, "parts": [a, b]}


if __name__ == "__main__":
    PipelineDecorator.run_locally()
    main()
