"""ClearML's `clearml.automation` import path, under pipec's name."""

from pipec.automation.controller import PipelineController, PipelineDecorator

__all__ = ["PipelineController", "PipelineDecorator"]
