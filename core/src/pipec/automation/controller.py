"""ClearML's `clearml.automation.controller` import path, under pipec's name."""

from pipec.capture.controller import PipelineController
from pipec.capture.decorator import PipelineDecorator

__all__ = ["PipelineController", "PipelineDecorator"]
