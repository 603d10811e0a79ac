"""Sets the default execution queue before starting the pipeline, as ClearML users do."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["value"])
def work(x: int = 1):
    return x


@PipelineDecorator.pipeline(name="queued", project="tests")
def queued():
    return work()


if __name__ == "__main__":
    PipelineDecorator.set_default_execution_queue("gpu")
    queued()
