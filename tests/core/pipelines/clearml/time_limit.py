"""A pipeline whose whole run has a time limit, and one step that would outlast it."""

from pipec import PipelineController


def slow():
    import time

    time.sleep(5)  # on `debug` the body cannot be interrupted: it runs to its end
    return 1


def never():
    return 2


pipe = PipelineController(name="pipeline time limit", project="pipec tests", version="1")
pipe.set_pipeline_execution_time_limit(0.02)  # minutes: 1.2 s
pipe.add_function_step(name="slow", function=slow, function_return=["value"])
pipe.add_function_step(name="after", function=never, parents=["slow"], function_return=["value"])

if __name__ == "__main__":
    pipe.start()
