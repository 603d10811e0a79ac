"""Everything a ClearML pipeline file imports from clearml, imported from pipec."""

from pipec import Logger, PipelineController, PipelineDecorator, StorageManager, Task, TaskTypes


@PipelineDecorator.component(return_values=["model"], task_type=TaskTypes.training)
def train(lr: float = 0.1):
    from pipec import Task

    Task.current_task().get_logger().report_scalar("loss", "train", 0.5, 0)
    return lr


@PipelineDecorator.pipeline(name="top level imports", project="tests")
def top_level_imports(lr: float = 0.01):
    return train(lr)


if __name__ == "__main__":
    top_level_imports()
