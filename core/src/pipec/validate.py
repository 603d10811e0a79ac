"""Validation of a captured pipeline: every problem at the user's file:line.

Runs on the IR alone, so a pipeline read back from JSON is checked the same way
as one just captured. Target capability checks live here too: each target
declares the features it can express, and a pipeline using one it cannot is
rejected before anything is written or run.

Internal.
"""

from __future__ import annotations

import difflib
import graphlib
from collections.abc import Iterable

from pipec.contract import FEATURES
from pipec.errors import ValidationError
from pipec.ir import (
    Expr,
    OutputRef,
    ParamRef,
    Pipeline,
    SourceLocation,
    Step,
    Template,
    Value,
    iter_refs,
)
from pipec.source import bound_names, free_globals, returned_tuple_sizes

RESERVED_STEP_NAMES = frozenset({"pipeline"})


def _did_you_mean(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _shift(base: SourceLocation | None, line: int) -> SourceLocation | None:
    return SourceLocation(file=base.file, line=base.line + line - 1) if base else None


def validate(pipeline: Pipeline) -> list[ValidationError]:
    """All problems found, in the order of the steps."""
    errors: list[ValidationError] = []
    by_name: dict[str, Step] = {}
    params = {p.name for p in pipeline.parameters}
    for step in pipeline.steps:
        if step.name in by_name:
            errors.append(
                ValidationError(
                    f"duplicate step name {step.name!r} "
                    f"(first added at {by_name[step.name].location})",
                    step.location,
                )
            )
            continue
        if not step.name.strip():  # no folder, record or `${step...}` could name it
            errors.append(ValidationError("a step name must not be empty", step.location))
            continue
        if pipeline.style == "controller" and step.name in RESERVED_STEP_NAMES:
            errors.append(ValidationError(f"step name {step.name!r} is reserved", step.location))
        by_name[step.name] = step

    for step in by_name.values():
        errors.extend(_check_references(step, by_name, params))
        errors.extend(_check_code(step))
        if step.policies.loop:
            for body in step.policies.loop.body:
                if body not in by_name:
                    errors.append(
                        ValidationError(
                            f"loop_body of step {step.name!r} names unknown step {body!r}"
                            + _did_you_mean(body, by_name),
                            step.location,
                        )
                    )
    errors.extend(_check_cycles(by_name))
    return errors


def _all_values(step: Step) -> list[Value]:
    values: list[Value] = list(step.inputs.values())
    if step.template:
        values += [
            *step.template.task_overrides.values(),
            *step.template.configuration_overrides.values(),
        ]
    return values


def _check_references(
    step: Step, steps: dict[str, Step], params: set[str]
) -> list[ValidationError]:
    errors = []
    for parent in step.parents:
        if parent not in steps:
            errors.append(
                ValidationError(
                    f"step {step.name!r} depends on unknown step {parent!r}"
                    + _did_you_mean(parent, steps),
                    step.location,
                )
            )
    for value in _all_values(step):
        for ref in iter_refs(value):
            if isinstance(ref, ParamRef) and ref.name not in params:
                errors.append(
                    ValidationError(
                        f"step {step.name!r} uses unknown pipeline parameter "
                        f"'${{pipeline.{ref.name}}}'"
                        + _did_you_mean(ref.name, params)
                        + (" (add it with add_parameter)" if not params else ""),
                        step.location,
                    )
                )
            elif isinstance(ref, OutputRef) and ref.step in steps:
                source = steps[ref.step]
                if source.kind == "task":
                    errors.append(
                        ValidationError(
                            f"step {step.name!r} refers to '${{{ref.step}.{ref.name}}}', but "
                            f"{ref.step!r} is a task step without return values: use "
                            f"'${{{ref.step}.artifacts.{ref.name}.url}}' for one of its artifacts",
                            step.location,
                        )
                    )
                elif ref.name not in source.outputs:
                    errors.append(
                        ValidationError(
                            f"step {step.name!r} refers to unknown output {ref.name!r} of step "
                            f"{ref.step!r}; its outputs are {source.outputs}"
                            + _did_you_mean(ref.name, source.outputs),
                            step.location,
                        )
                    )
    return errors


def _check_code(step: Step) -> list[ValidationError]:
    """Self-contained code (ClearML only finds this when the step fails remotely)."""
    code = step.code
    if code.kind != "function":
        return []
    errors = []
    allowed = {code.entrypoint, *(h.name for h in code.helpers)}
    allowed.update(name for statement in code.imports for name in bound_names(statement))
    kind = "component" if step.kind == "component" else "function step"
    pieces = [(code.source, step.definition, f"{kind} {step.name!r}")]
    pieces += [
        (h.source, h.location, f"helper {h.name!r} of step {step.name!r}") for h in code.helpers
    ]
    for source, base, what in pieces:
        for name, line in free_globals(source).items():
            if name in allowed:
                continue
            errors.append(
                ValidationError(
                    f"{what} uses {name!r}, which it neither defines nor imports; a step runs "
                    "without your module (only its module-level imports come along, unless "
                    "skip_global_imports=True), so import it inside the function, or pass the "
                    "function in helper_functions",
                    _shift(base, line),
                )
            )
    if len(step.outputs) > 1:
        for size, line in returned_tuple_sizes(code.source):
            if size != len(step.outputs):
                errors.append(
                    ValidationError(
                        f"step {step.name!r} returns {size} values but declares "
                        f"{len(step.outputs)} return values {step.outputs}",
                        _shift(step.definition, line),
                    )
                )
    return errors


def _check_cycles(steps: dict[str, Step]) -> list[ValidationError]:
    graph = {name: [p for p in step.parents if p in steps] for name, step in steps.items()}
    sorter = graphlib.TopologicalSorter(graph)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        cycle = list(dict.fromkeys(exc.args[1]))
        order = list(steps)
        start = min(range(len(cycle)), key=lambda i: order.index(cycle[i]))
        cycle = cycle[start:] + cycle[:start]  # reported at the first-added step of the cycle
        first = steps[cycle[0]]
        return [
            ValidationError(
                "the steps form a cycle: " + " -> ".join([*cycle, cycle[0]]) + "; a pipeline "
                "must be a DAG (check the parents and ${...} references of these steps)",
                first.location,
            )
        ]
    return []


# ---------------------------------------------------------------- target capabilities

PIPELINE_CALLBACKS = ("step_task_created_callback", "step_task_completed_callback")
"""`start()`'s callbacks for every step, kept in the pipeline's options."""


def features_used(pipeline: Pipeline) -> dict[str, SourceLocation]:
    """Each optional feature the pipeline uses, with the first place it is used."""
    used: dict[str, SourceLocation] = {}
    for step in pipeline.steps:
        p = step.policies
        flags = {
            "retry_callable": not isinstance(p.retry_on_failure, (int, type(None))),
            "pre_execute_callback": p.pre_execute_callback is not None,
            "post_execute_callback": p.post_execute_callback is not None,
            "status_change_callback": p.status_change_callback is not None,
            "task_factory": bool(step.template and step.template.factory),
            "loop": p.loop is not None,
            "deferred_values": any(isinstance(v, (Expr, Template)) for v in step.inputs.values()),
            "task_steps": step.kind == "task",
            "docker": p.docker.image is not None,
            "repo": p.repo.url is not None,
        }
        for feature, on in flags.items():
            if on:
                used.setdefault(feature, step.location)
    if pipeline.controller is not None and pipeline.controller.cut is not None:
        used["dynamic"] = pipeline.controller.cut
    for option in PIPELINE_CALLBACKS:
        if pipeline.policies.options.get(option):
            used.setdefault(option, pipeline.source)
    return used


def check_target(
    pipeline: Pipeline, target_name: str, capabilities: frozenset[str]
) -> list[ValidationError]:
    """Features the target cannot express, each reported where it is used."""
    return [
        ValidationError(f"target {target_name!r} does not support {FEATURES[f]}", where)
        for f, where in features_used(pipeline).items()
        if f not in capabilities
    ]
