"""The conformance cases: ClearML's pipeline semantics, one small pipeline each.

Every expectation below is worked out by hand from the pipeline file and ClearML's
documented behaviour (failed parents skip their children unless
`skip_children_on_fail=False`, a failed step fails the run unless
`continue_on_fail`, `abort_on_failure` stops what has not finished, ...).
"""

from __future__ import annotations

from pipec.testing.case import Case, Expected, Run, StepExpect

CALLBACKS = frozenset({"pre_execute_callback", "post_execute_callback", "status_change_callback"})


def _evaluated(scale: int, models: int) -> StepExpect:
    """What the models case's evaluation step sees when the newest of `models` models
    named "conformance scaler" is the one its training step published with `scale`."""
    return StepExpect(
        "completed",
        outputs={
            "seen": {
                "result": 2 * scale,
                "newest_is_this_one": True,
                "models_of_that_name": models,
                "url_from_reference": True,
                "config": {"scale": scale},
                "labels": {"low": 0, "high": 1},
                "published": True,
                "framework": "custom",
                "input_models": [True],
            }
        },
    )


CASES: tuple[Case, ...] = (
    Case(
        id="cache_decorator",
        pipeline="cache_decorator.py",
        about="cache=True components: a rerun runs no body, a changed parameter re-runs only "
        "what depends on it, --refresh re-runs exactly the step named",
        runs=(
            Run(
                Expected(
                    status="completed",
                    steps={
                        "load": "completed",
                        "square": "completed",
                        "offset": "completed",
                        "combine": "completed",
                    },
                    bodies=("load 2", "square 3", "offset 3", "combine 9 300"),
                    return_value=309,
                )
            ),
            Run(
                Expected(
                    status="completed",
                    steps={
                        "load": "cached",
                        "square": "cached",
                        "offset": "cached",
                        "combine": "cached",
                    },
                    bodies=(),
                    return_value=309,
                )
            ),
            Run(
                Expected(
                    status="completed",
                    steps={
                        "load": "completed",
                        "square": "completed",
                        "offset": "cached",
                        "combine": "completed",
                    },
                    bodies=("load 4", "square 5", "combine 25 300"),
                    return_value=325,
                ),
                params={"x": 4},
            ),
            Run(
                Expected(
                    status="completed",
                    steps={
                        "load": "cached",
                        "square": "cached",
                        "offset": "completed",
                        # offset's new output equals its cached one, so combine's inputs
                        # are unchanged and it is still a hit
                        "combine": "cached",
                    },
                    bodies=("offset 3",),
                    return_value=325,
                ),
                params={"x": 4},
                refresh=("offset",),
            ),
        ),
    ),
    Case(
        id="cache_controller",
        pipeline="cache_controller.py",
        about="cache_executed_step=True function steps fed by ${pipeline.n}",
        runs=(
            Run(
                Expected(
                    status="completed",
                    steps={
                        "make": "completed",
                        "double": StepExpect("completed", outputs={"value": 20}),
                        "constant": "completed",
                    },
                    bodies=("make 5", "double 10", "constant 7"),
                )
            ),
            Run(
                Expected(
                    status="completed",
                    steps={
                        "make": "cached",
                        "double": StepExpect("cached", outputs={"value": 20}),
                        "constant": "cached",
                    },
                    bodies=(),
                )
            ),
            Run(
                Expected(
                    status="completed",
                    steps={
                        "make": "completed",
                        "double": StepExpect("completed", outputs={"value": 24}),
                        "constant": "cached",
                    },
                    bodies=("make 6", "double 12"),
                ),
                params={"n": 6},
            ),
        ),
    ),
    Case(
        id="continue_on_fail",
        pipeline="continue_on_fail.py",
        about="continue_on_fail=True: the run completes, the failed step's descendants are "
        "skipped (skip_children_on_fail defaults to True), the unrelated step runs",
        runs=(
            Run(
                Expected(
                    status="completed",
                    steps={
                        "fails": StepExpect("failed", error="planned failure"),
                        "child": "skipped",
                        "grandchild": "skipped",
                        "independent": StepExpect("completed", outputs={"value": "ok"}),
                    },
                    bodies=("fails", "independent"),
                )
            ),
        ),
    ),
    Case(
        id="continue_children",
        pipeline="continue_children.py",
        about="continue_behaviour skip_children_on_fail=False: the children run and receive "
        "None for the failed parent's output",
        runs=(
            Run(
                Expected(
                    status="completed",
                    steps={
                        "fails": StepExpect("failed", error="planned failure"),
                        "child": StepExpect("completed", outputs={"value": "child got None"}),
                        "grandchild": StepExpect("completed", outputs={"value": "CHILD GOT NONE"}),
                    },
                    bodies=("fails", "child None", "grandchild child got None"),
                )
            ),
        ),
    ),
    Case(
        id="failure_branch",
        pipeline="failure_branch.py",
        about="a failed step without continue_on_fail fails the run and skips its child; "
        "with abort_on_failure=False (the default) the unrelated branch still runs; the "
        "failed step's console (stdout, stderr, its traceback) is kept in the store",
        runs=(
            Run(
                Expected(
                    status="failed",
                    steps={
                        "bad": StepExpect(
                            "failed",
                            error="planned failure",
                            console=(
                                "bad prints before it fails",
                                "bad warns on stderr",
                                "Traceback (most recent call last):",
                                '    raise ValueError("planned failure")',
                                "ValueError: planned failure",
                            ),
                        ),
                        "after_bad": "skipped",
                        "other": "completed",
                        "after_other": StepExpect("completed", outputs={"value": 2}),
                    },
                    bodies=("bad", "other", "after_other 1"),
                )
            ),
        ),
    ),
    Case(
        id="logic_after_failure",
        pipeline="logic_after_failure.py",
        about="a failed step's error is the run's, also when the pipeline logic then trips "
        "over its skipped child's None (the TypeError is only a consequence)",
        runs=(
            Run(
                Expected(
                    status="failed",
                    steps={
                        "load": StepExpect("failed", error="planned failure"),
                        "train": "skipped",
                    },
                    bodies=("load",),
                    return_value=None,
                    error="ValueError: planned failure (in step 'load')",
                )
            ),
        ),
    ),
    Case(
        id="abort_on_failure",
        pipeline="abort_on_failure.py",
        about="abort_on_failure=True: the failed step stops the run; the unrelated branch is "
        "aborted if it was running, skipped if not, and nothing starts after the failure",
        runs=(
            Run(
                Expected(
                    status="failed",
                    steps={
                        "bad": StepExpect("failed", error="planned failure"),
                        "after_bad": "skipped",
                        "slow": "stopped",
                        "after_slow": "stopped",
                    },
                    bodies=("bad",),
                )
            ),
        ),
    ),
    Case(
        id="retry_count",
        pipeline="retry_count.py",
        about="retry_on_failure=2 lets a step that fails twice succeed on its third attempt; "
        "retry_on_failure=1 gives up after two",
        runs=(
            Run(
                Expected(
                    status="completed",
                    steps={
                        "flaky": StepExpect("completed", attempts=3, outputs={"value": 3}),
                        "exhausted": StepExpect("failed", attempts=2, error="planned failure 2"),
                    },
                    bodies=("flaky 1", "flaky 2", "flaky 3", "exhausted 1", "exhausted 2"),
                )
            ),
        ),
    ),
    Case(
        id="retry_callable",
        pipeline="retry_callable.py",
        about="retry_on_failure as a callable (pipeline, node, retries) -> bool allowing one "
        "retry: asked after each failure with the retries so far",
        needs=frozenset({"retry_callable"}),
        runs=(
            Run(
                Expected(
                    status="completed",
                    steps={
                        "once_flaky": StepExpect("completed", attempts=2, outputs={"value": 2}),
                        "twice_flaky": StepExpect("failed", attempts=2, error="planned failure 2"),
                    },
                    bodies=("once_flaky 1", "once_flaky 2", "twice_flaky 1", "twice_flaky 2"),
                    events=("retry once_flaky 0", "retry twice_flaky 0", "retry twice_flaky 1"),
                )
            ),
        ),
    ),
    Case(
        id="callbacks",
        pipeline="callbacks.py",
        about="pre/post/status callbacks in order along a chain; pre_execute_callback "
        "returning False skips that step and its descendants",
        needs=CALLBACKS,
        runs=(
            Run(
                Expected(
                    status="completed",
                    steps={
                        "first": "completed",
                        "second": StepExpect("completed", outputs={"value": 2}),
                        "gated": "skipped",
                        "after_gated": "skipped",
                    },
                    bodies=("first", "second 1"),
                    events=(
                        "pre first",
                        "status first pending -> running",
                        "status first running -> completed",
                        "post first completed",
                        "pre second",
                        "status second pending -> running",
                        "status second running -> completed",
                        "post second completed",
                        "pre gated closed",
                        "status gated pending -> skipped",
                        "status after_gated pending -> skipped",
                    ),
                )
            ),
        ),
    ),
    Case(
        id="time_limit",
        pipeline="time_limit.py",
        about="a step over its time_limit is aborted and fails the run; its child is skipped, "
        "the unrelated step runs",
        runs=(
            Run(
                Expected(
                    status="failed",
                    steps={
                        "slow": StepExpect("aborted", error="time_limit"),
                        "after_slow": "skipped",
                        "independent": "completed",
                    },
                    bodies=("independent",),
                )
            ),
        ),
    ),
    Case(
        id="monitor",
        pipeline="monitor.py",
        about="monitor_metrics / monitor_artifacts copy the selected reports to the run, "
        "renamed by (source, target) pairs and kept by plain names",
        runs=(
            Run(
                Expected(
                    status="completed",
                    steps={"train": "completed"},
                    bodies=("train",),
                    metrics={("summary", "final_loss"): 0.25, ("train", "accuracy"): 0.75},
                    artifacts={"final_table": {"rows": 3}, "notes": "hello"},
                )
            ),
        ),
    ),
    Case(
        id="return_value",
        pipeline="return_value.py",
        about="a decorator pipeline returns arithmetic and containers over step outputs",
        runs=(
            Run(
                Expected(
                    status="completed",
                    steps={
                        "split": StepExpect("completed", outputs={"a": 5, "b": 6}),
                        "scale": StepExpect("completed", outputs={"value": 50}),
                    },
                    bodies=("split 5", "scale 5 10"),
                    return_value={"total": 106, "parts": [5, 6]},
                ),
                params={"x": 5},
            ),
        ),
    ),
    Case(
        id="typed_params",
        pipeline="typed_params.py",
        about="parameters keep their annotated types: bool, int and float values given as "
        "text on the command line reach the step as a bool, an int and a float",
        runs=(
            Run(
                Expected(
                    status="completed",
                    steps={
                        "describe": StepExpect(
                            "completed", outputs={"kinds": ["bool", "int", "float"]}
                        )
                    },
                    bodies=("describe bool False int 7 float 2.0",),
                    return_value=["bool", "int", "float"],
                ),
                params={"flag": "false", "count": "7", "ratio": "2"},
            ),
            Run(
                Expected(
                    status="completed",
                    steps={"describe": "completed"},
                    bodies=("describe bool True int -3 float 0.25",),
                    return_value=["bool", "int", "float"],
                ),
                params={"flag": "yes", "count": "-3", "ratio": "0.25"},
            ),
            Run(
                Expected(
                    status="completed",
                    steps={"describe": "completed"},
                    bodies=("describe bool False int 1 float 0.5",),
                    return_value=["bool", "int", "float"],
                ),
                params={"flag": "False"},
            ),
        ),
    ),
    Case(
        id="typed_params_controller",
        pipeline="typed_params_controller.py",
        about="add_parameter(param_type=...) with a type or a type's name: values given as "
        "text on the command line reach the step through ${pipeline.NAME} as that type",
        runs=(
            Run(
                Expected(
                    status="completed",
                    steps={
                        "describe": StepExpect(
                            "completed", outputs={"kinds": ["bool", "int", "float"]}
                        )
                    },
                    bodies=("describe bool False int 7 float 2.0",),
                ),
                params={"flag": "no", "count": "7", "ratio": "2"},
            ),
        ),
    ),
    Case(
        id="dynamic",
        pipeline="dynamic.py",
        about="pipeline logic branching on a step's value calls a different component",
        needs=frozenset({"dynamic"}),
        runs=(
            Run(
                Expected(
                    status="completed",
                    steps={"evaluate": "completed", "improve": "completed"},
                    bodies=("evaluate 8", "improve 0.8"),
                    return_value=1.8,
                )
            ),
            Run(
                Expected(
                    status="completed",
                    steps={"evaluate": "completed", "report": "completed"},
                    bodies=("evaluate 2", "report 0.2"),
                    return_value="kept 0.2",
                ),
                params={"x": 2},
            ),
        ),
    ),
    Case(
        id="controller_refs",
        pipeline="controller_refs.py",
        about="${pipeline.NAME}, ${step.OUTPUT}, ${step.parameters.kwargs/NAME}, ${step.id} "
        "with Task.get_task, ${step.artifacts.NAME.url} and text templates",
        runs=(
            Run(
                Expected(
                    status="completed",
                    steps={
                        "produce": StepExpect("completed", outputs={"value": 12}),
                        "consume": StepExpect(
                            "completed",
                            outputs={
                                "value": {
                                    "doubled": 12,
                                    "n_again": 6,
                                    "table": {"n": 6},
                                    "url_readable": True,
                                    "tag": "again-6",
                                }
                            },
                        ),
                    },
                    bodies=("produce 6 again", "consume 12 6 6 again-6"),
                ),
                params={"n": 6, "label": "again"},
            ),
        ),
    ),
    Case(
        id="task_step",
        pipeline="task_step.py",
        about="add_step runs a task script found by its Task.init names; parameter_override "
        "references feed it, its artifacts and parameters feed the next step",
        needs=frozenset({"task_steps"}),
        runs=(
            Run(
                Expected(
                    status="completed",
                    steps={
                        "prepare": StepExpect("completed", outputs={"value": 20}),
                        "task": "completed",
                        "read": StepExpect(
                            "completed", outputs={"value": {"result": 60, "value": 20}}
                        ),
                    },
                    bodies=("prepare 2", "task 20 from-pipeline", "read 60 20"),
                )
            ),
        ),
    ),
    Case(
        id="nested",
        pipeline="nested.py",
        about="a decorator pipeline called by another's logic (twice) is a nested pipeline: "
        "its steps join the outer run, prefixed, and cache like any step",
        runs=(
            Run(
                Expected(
                    status="completed",
                    steps={
                        "inner.add": StepExpect("completed", outputs={"value": 3}),
                        "inner.add_1": StepExpect("completed", outputs={"value": 13}),
                        "inner_1.add": StepExpect("completed", outputs={"value": 14}),
                        "inner_1.add_1": StepExpect("completed", outputs={"value": 24}),
                        "add": StepExpect("completed", outputs={"value": 37}),
                    },
                    bodies=("add 2 1", "add 3 10", "add 13 1", "add 14 10", "add 13 24"),
                    return_value=37,
                ),
            ),
            Run(
                Expected(
                    status="completed",
                    steps={
                        "inner.add": "cached",
                        "inner.add_1": "cached",
                        "inner_1.add": "cached",
                        "inner_1.add_1": "cached",
                        "add": "cached",
                    },
                    return_value=37,
                ),
            ),
        ),
    ),
    Case(
        id="working_dir",
        pipeline="working_dir.py",
        about="steps run in the directory the pipeline was launched from, as ClearML runs "
        "local steps: a file one step writes by a relative path, the next reads there",
        runs=(
            Run(
                Expected(
                    status="completed",
                    steps={
                        "prepare": StepExpect("completed", outputs={"count": 4}),
                        "total": StepExpect("completed", outputs={"total": 6, "folder": "run-1"}),
                    },
                    bodies=("prepare 4", "total 4 4"),
                    return_value=[6, "run-1"],
                ),
                params={"n": 4},
            ),
        ),
    ),
    Case(
        id="models",
        pipeline="models.py",
        about="a training step publishes an OutputModel; the evaluation step reads it with "
        "InputModel by the id passed along, finds it newest with query_models, and gets its "
        "weights' URL from ${train.models.output.-1.url}; a second run's model is the newest",
        runs=(
            Run(
                Expected(
                    status="completed",
                    steps={"train": "completed", "evaluate": _evaluated(3, 1)},
                    bodies=("train 3", "evaluate 6"),
                )
            ),
            Run(
                Expected(
                    status="completed",
                    steps={"train": "completed", "evaluate": _evaluated(5, 2)},
                    bodies=("train 5", "evaluate 10"),
                ),
                params={"scale": 5},
            ),
        ),
    ),
    Case(
        id="dataset_decorator",
        pipeline="dataset_decorator.py",
        about="a Dataset the first step makes from files is read by project and name in the "
        "next ones, on any target sharing the store; a second run makes version 1.0.1, which "
        "they then read",
        runs=(
            Run(
                Expected(
                    status="completed",
                    steps={
                        "make": "completed",
                        "total": StepExpect("completed", outputs={"total": 5}),
                        "count": StepExpect("completed", outputs={"count": 3}),
                    },
                    bodies=("make 1.0.0 3", "total 1.0.0 True", "count 1.0.0 True"),
                    return_value=[5, 3],
                )
            ),
            Run(
                Expected(
                    status="completed",
                    steps={"make": "completed", "total": "completed", "count": "completed"},
                    bodies=("make 1.0.1 4", "total 1.0.1 True", "count 1.0.1 True"),
                    return_value=[14, 4],
                ),
                params={"rows": 4},
            ),
        ),
    ),
    Case(
        id="dataset_controller",
        pipeline="dataset_controller.py",
        about="controller function steps: the first makes a Dataset from a folder's files, "
        "the next read it by project and name (and by id); a second run makes version 1.0.1",
        runs=(
            Run(
                Expected(
                    status="completed",
                    steps={
                        "make": "completed",
                        "total": StepExpect("completed", outputs={"total": 10}),
                        "largest": StepExpect("completed", outputs={"result": [1, 10]}),
                    },
                    bodies=("make 1.0.0 4", "total 1.0.0 True", "largest 1.0.0 True"),
                )
            ),
            Run(
                Expected(
                    status="completed",
                    steps={
                        "make": "completed",
                        "total": StepExpect("completed", outputs={"total": 66}),
                        "largest": StepExpect("completed", outputs={"result": [2, 66]}),
                    },
                    bodies=("make 1.0.1 11", "total 1.0.1 True", "largest 1.0.1 True"),
                ),
                params={"rows": 11},
            ),
        ),
    ),
)


def cases() -> list[Case]:
    """Every conformance case, in a stable order."""
    return list(CASES)
