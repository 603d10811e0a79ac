"""A callback reading a module global set from the environment: pickling the callback
would write the secret into the compiled pipeline."""

import os

from pipec import PipelineDecorator

TOKEN = os.environ.get("PIPEC_TEST_TOKEN", "t0ps3cret")  # expected-error


def announce(pipeline, node, parameters):
    print("starting", node.name, TOKEN[:2])


@PipelineDecorator.component(return_values=["value"], pre_execute_callback=announce)
def step(x: int):
    return x


@PipelineDecorator.pipeline(name="environment global", project="pipec tests", version="1.0")
def pipeline(x: int = 1):
    return step(x)


if __name__ == "__main__":
    pipeline()
