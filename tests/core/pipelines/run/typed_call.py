"""A script that calls its pipeline with text for typed parameters, as from a config."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["got"])
def describe(flag, count, ratio):
    print("step got", *[f"{type(v).__name__}:{v}" for v in (flag, count, ratio)])
    return [flag, count, ratio]


@PipelineDecorator.pipeline(name="typed call", project="pipec tests", version="1.0.0")
def pipeline(flag: bool = True, count: int = 1, ratio=0.5):
    print("logic got", *[f"{type(v).__name__}:{v}" for v in (flag, count, ratio)])
    return describe(flag, count, ratio)


if __name__ == "__main__":
    PipelineDecorator.debug_pipeline()
    pipeline(flag="no", count="3", ratio=2)
