"""A decorator pipeline calling another one (a nested pipeline), twice: the inner one's
steps join the outer run, named `inner.add`, `inner.add_1`, then `inner_1.add`, ..."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["value"], cache=True)
def add(a, b):
    from pipec.testing.observe import body

    body("add", a, b)
    return a + b


@PipelineDecorator.pipeline(name="conformance-nested-inner", project="conformance", version="1")
def inner(x: int = 1):
    y = add(x, 1)
    return add(y, 10)


@PipelineDecorator.pipeline(name="conformance-nested", project="conformance", version="1")
def main(x: int = 2):
    first = inner(x)
    second = inner(first)
    total = add(first, second)
    print(f"nested total {total}")
    return total


if __name__ == "__main__":
    main()
