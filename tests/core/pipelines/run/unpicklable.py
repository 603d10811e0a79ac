"""A component whose second return value cannot be pickled (a lock)."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["count", "lock"], cache=True)
def make_lock(count: int = 2):
    import threading

    return count, threading.Lock()


@PipelineDecorator.component(return_values=["held"], cache=True)
def use(lock):
    return lock is not None


@PipelineDecorator.pipeline(name="unpicklable", project="pipec tests", version="1.0.0")
def pipeline(count: int = 2):
    _, lock = make_lock(count)
    return use(lock)


if __name__ == "__main__":
    PipelineDecorator.run_locally()
    pipeline()
