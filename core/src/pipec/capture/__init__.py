"""Turning pipelines into IR (internal): tracing decorator pipelines, building controller
pipelines, and reading pipeline files in capture mode.

Independent of `pipec.runtime`: capturing runs nothing.
"""
