"""A module-level name the component uses, also a parameter of a nested function."""

import logging

from pipec import PipelineDecorator

logger = logging.getLogger(__name__)


@PipelineDecorator.component(return_values=["value"])
def step(x: int = 1):
    def log(logger, message):
        logger.info(message)

    log(logger, f"got {x}")
    return x


@PipelineDecorator.pipeline(name="shadowed", project="tests")
def shadowed():
    return step()


if __name__ == "__main__":
    shadowed()
