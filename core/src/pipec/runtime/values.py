"""IR values at run time: their real Python value, and their content hash for the cache.

A reference to another step resolves through that step's record in the store;
an `Expr` is evaluated with real values, so the pipeline logic's arithmetic,
formatting and containers give the same result on every target.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import cloudpickle

from pipec.exprs import CALLS
from pipec.ir import (
    ArtifactRef,
    Expr,
    LiteralValue,
    ModelRef,
    OutputRef,
    ParamRef,
    PickledValue,
    PipelineIdRef,
    Step,
    StepIdRef,
    StepParamRef,
    Template,
    Value,
)
from pipec.records import SUCCEEDED, StepRecord, StoredValue
from pipec.registry import models as registry
from pipec.store import StorageError, Store

T = TypeVar("T")


class MissingValueError(LookupError):
    """A reference points at something the run does not have (said in user terms)."""


class InputError(MissingValueError):
    """A step input the run cannot provide; the message names the step, the input and
    the line that wrote the reference."""


class RunState(Protocol):
    """What resolving needs from a run: its parameters, records and store."""

    run_id: str
    store: Store

    def parameter(self, name: str) -> Value: ...

    def step_record(self, step: str) -> StepRecord: ...

    def load(self, stored: StoredValue) -> Any: ...


def _output(state: RunState, ref: OutputRef) -> StoredValue | None:
    record = state.step_record(ref.step)
    if record.status not in SUCCEEDED:
        return None  # ClearML: what a failed or skipped parent passes on is None
    if ref.name not in record.outputs:
        raise MissingValueError(f"step {ref.step!r} has no stored output {ref.name!r}")
    return record.outputs[ref.name]


def _artifact(state: RunState, ref: ArtifactRef) -> StoredValue | None:
    record = state.step_record(ref.step)
    if record.status not in SUCCEEDED:
        return None
    if ref.name not in record.artifacts:
        have = ", ".join(sorted(record.artifacts)) or "none"
        raise MissingValueError(
            f"step {ref.step!r} uploaded no artifact named {ref.name!r} (it has: {have})"
        )
    return record.artifacts[ref.name]


def _model(state: RunState, ref: ModelRef) -> tuple[str, StepRecord] | None:
    """The name on the task of the model `ref` picks (by index, `-1` the latest, or by
    name) among the step's input or output models, and the step's record."""
    record = state.step_record(ref.step)
    if record.status not in SUCCEEDED:
        return None
    names = list(record.models if ref.direction == "output" else record.input_models)
    try:
        name = names[ref.index] if isinstance(ref.index, int) else ref.index
    except IndexError:
        name = None
    if name not in names:
        have = ", ".join(names) or "none"
        raise MissingValueError(
            f"step {ref.step!r} has no {ref.direction} model {ref.index!r} (it has: {have})"
        )
    return name, record


def _model_attr(state: RunState, ref: ModelRef) -> Any:
    """ClearML's `str(getattr(model, ATTR))` for `${step.models.DIRECTION.INDEX.ATTR}`:
    `url` (the weights), `id`, or any field of the model's registry record."""
    found = _model(state, ref)
    if found is None:
        return None
    name, record = found
    if ref.direction == "output" and ref.attr == "url":
        return record.models[name].uri
    ids = record.model_ids if ref.direction == "output" else record.input_models
    if name not in ids:  # a model the record names by its weights only
        raise MissingValueError(f"step {ref.step!r}: model {name!r} is not in the registry")
    if ref.attr == "id":
        return ids[name]
    model = registry.read(state.store, ids[name])
    if ref.attr not in type(model).model_fields and ref.attr != "url":
        raise MissingValueError(f"a model has no attribute {ref.attr!r} (url, id, name, ...)")
    return str(getattr(model, ref.attr))


def step_parameter(record: StepRecord, name: str) -> Any:
    """`${step.parameters.NAME}`: a task step's `Section/name`, or a function step's
    argument, which ClearML files under the `kwargs` section (`kwargs/NAME`)."""
    if name in record.parameters:
        return record.parameters[name]
    section, _, argument = name.partition("/")
    if section == "kwargs":
        return record.parameters.get(argument)
    return None


def resolve(value: Value, state: RunState) -> Any:
    """The real value of an IR value in this run."""
    if isinstance(value, LiteralValue):
        return value.value
    if isinstance(value, PickledValue):
        return cloudpickle.loads(base64.b64decode(value.data))
    if isinstance(value, ParamRef):
        return resolve(state.parameter(value.name), state)
    if isinstance(value, PipelineIdRef):
        return state.run_id
    if isinstance(value, StepIdRef):
        return state.step_record(value.step).id
    if isinstance(value, StepParamRef):
        return step_parameter(state.step_record(value.step), value.name)
    if isinstance(value, ModelRef):
        return _model_attr(state, value)
    if isinstance(value, (OutputRef, ArtifactRef)):
        finder = {OutputRef: _output, ArtifactRef: _artifact}[type(value)]
        stored = finder(state, value)  # type: ignore[operator]
        if stored is None:
            return None
        if isinstance(value, OutputRef) or value.attr is None:
            return state.load(stored)
        return stored.uri
    if isinstance(value, Template):
        return "".join(p if isinstance(p, str) else str(resolve(p, state)) for p in value.parts)
    if isinstance(value, Expr):
        if value.op not in CALLS:
            raise MissingValueError(f"unknown expression operation {value.op!r}")
        args = [resolve(a, state) for a in value.args]
        kwargs = {k: resolve(v, state) for k, v in value.kwargs.items()}
        return CALLS[value.op](*args, **kwargs)
    raise TypeError(f"not an IR value: {value!r}")


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _step_content(record: StepRecord) -> str:
    """A step as its children see it through `${step.id}`: what it produced."""
    stored = {
        kind: {name: v.hash for name, v in values.items()}
        for kind, values in (
            ("outputs", record.outputs),
            ("artifacts", record.artifacts),
            ("models", record.models),
        )
    }
    return _digest("step", record.status in SUCCEEDED, stored)


def content_hash(value: Value, state: RunState) -> str:
    """A hash of what a value *contains* in this run, independent of run-scoped names.

    Two runs that feed a step the same data give the same hash, whatever their
    run ids or artifact URIs.
    """
    if isinstance(value, LiteralValue):
        return _digest("literal", value.value)
    if isinstance(value, PickledValue):
        return _digest("pickled", value.data)
    if isinstance(value, ParamRef):
        return content_hash(state.parameter(value.name), state)
    if isinstance(value, PipelineIdRef):
        return _digest("pipeline_id")
    if isinstance(value, StepIdRef):
        return _step_content(state.step_record(value.step))
    if isinstance(value, StepParamRef):
        return _digest("param", step_parameter(state.step_record(value.step), value.name))
    if isinstance(value, ModelRef):
        found = _model(state, value)
        if found is not None and value.direction == "output" and value.attr == "url":
            return _digest("model", found[1].models[found[0]].hash)  # the weights, not where
        return _digest("model", _model_attr(state, value))
    if isinstance(value, (OutputRef, ArtifactRef)):
        finder = {OutputRef: _output, ArtifactRef: _artifact}[type(value)]
        stored = finder(state, value)  # type: ignore[operator]
        return _digest(value.kind, None if stored is None else stored.hash)
    if isinstance(value, Template):
        return _digest(
            "template", [p if isinstance(p, str) else content_hash(p, state) for p in value.parts]
        )
    if isinstance(value, Expr):
        return _digest(
            "expr",
            value.op,
            [content_hash(a, state) for a in value.args],
            {k: content_hash(v, state) for k, v in value.kwargs.items()},
        )
    raise TypeError(f"not an IR value: {value!r}")


def step_inputs(step: Step, state: RunState, of: Callable[[Value, RunState], T]) -> dict[str, T]:
    """`of` (`resolve` or `content_hash`) of each input of `step`. A reference the run
    cannot satisfy, or a value whose stored bytes or record fail their check, is reported
    against the step and the call that wrote it, since the bare lookup names only the
    step it looked in."""
    out: dict[str, T] = {}
    for name, value in step.inputs.items():
        try:
            out[name] = of(value, state)
        except (LookupError, StorageError) as exc:
            raise InputError(
                f"{step.location}: step {step.name!r}, input {name!r}: {exc}"
            ) from None
    return out
