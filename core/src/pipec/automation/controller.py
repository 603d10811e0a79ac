"""ClearML's `clearml.automation.controller` import path, under pipec's name."""

from pipec.api import PipelineController, PipelineDecorator

__all__ = ["PipelineController", "PipelineDecorator"]
