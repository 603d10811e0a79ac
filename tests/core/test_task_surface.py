"""ClearML's `Task` and `Logger` calls in pipelines written the way ClearML users write
them, run on `debug` and `local`, and what they leave in the run's records; then the
same calls on a task run by hand, and the errors bad input gets."""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import PIPELINES, Result, cli_env, line_of, rel, run_pipec
from pipec import Logger, Task
from pipec.errors import UsageError
from pipec.records import Configuration, Report, StepRecord
from pipec.runtime.runstore import find_run
from pipec.store import Store
from pipec.templates import template_id

SURFACE = PIPELINES / "surface"
STEPS = SURFACE / "steps.py"
CONFIGURE = SURFACE / "configure.py"
LOGIC = SURFACE / "logic.py"
BY_HAND = SURFACE / "by_hand.py"
BAD_OVERRIDE = SURFACE / "bad_override.py"

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
WRITES_PNG = HAS_MATPLOTLIB or importlib.util.find_spec("PIL") is not None
"""Whether step processes (this interpreter) render plots, and write arrays as PNG."""

PNG = b"\x89PNG\r\n\x1a\n"

TARGETS = ["debug", "local"]


def run(path: Path, target: str, store: Path, pipec_home: Path) -> tuple[Any, ...]:
    """`pipec run --json` of a fixture; the run record, its steps by name, and the store."""
    result = run_pipec(
        "run", rel(path), "--target", target, "--storage", store, "--json", pipec_home=pipec_home
    )
    assert result.returncode == 0, result
    summary = json.loads(result.stdout)
    found = find_run(Store(str(store)), summary["run_id"])
    assert found is not None
    record, steps = found
    return summary, record, {step.name: step for step in steps}, Store(str(store))


def register_configure(pipec_home: Path) -> None:
    result = run_pipec("task", "register", rel(CONFIGURE), pipec_home=pipec_home)
    assert result.returncode == 0, result


def by_kind(reports: list[Report], kind: str) -> list[Report]:
    return [r for r in reports if r.kind == kind]


def content(report: Report) -> bytes:
    assert report.file is not None and report.uri == report.file.uri
    return Path(report.file.uri).read_bytes()


SCALARS = {
    "loss": {
        "train": {"x": [0, 1, 2], "y": [1.0, 0.5, 1 / 3]},
        "validation": {"x": [0], "y": [0.75]},
    }
}


@pytest.fixture(scope="module", params=TARGETS)
def controller_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """steps.py run once per target; the tests below read different parts of its records."""
    home = tmp_path_factory.mktemp("pipec_home")
    register_configure(home)
    return run(STEPS, request.param, tmp_path_factory.mktemp("store"), home)


def test_scalars_parameters_tags_and_models_of_a_step(controller_run: Any) -> None:
    summary, record, steps, store = controller_run
    report = steps["report"]
    assert summary["status"] == record.status == "completed"
    assert by_kind(report.reports, "scalar") == [
        Report(kind="scalar", title="loss", series="train", value=v, iteration=i)
        for i, v in enumerate([1.0, 0.5, 1 / 3])
    ] + [Report(kind="scalar", title="loss", series="validation", value=0.75, iteration=0)]
    seen = store.get_value(report.outputs["seen"])
    assert seen == {
        "before": {},  # nothing in the store's record before the flush
        "flushed": SCALARS,  # the record Task.get_task read back after task.flush()
        "scalars": SCALARS,
        "averaged": {
            "loss": {
                "train": {"x": [0.5, 2.0], "y": [0.75, 1 / 3]},
                "validation": SCALARS["loss"]["validation"],
            }
        },
        "parameters": {"kwargs/rows": "3", "Args/lr": "0.25"},
        "typed": {"kwargs/rows": 3, "Args/lr": 0.25},
        "nested": {"kwargs": {"rows": "3"}, "Args": {"lr": "0.25"}},
        "rows": "3",
        "missing": "fallback",
        "status": "in_progress",
        "names": [report.id, "report", "surface tests", "surface tests"],
        "picture_left": False,  # delete_after_upload
        "logger_flushed": True,
        "models": ["report - weights"],  # ClearML's registry name: "<task> - <name>"
    }
    assert report.parameters == {"rows": 3, "Args/lr": 0.25}
    assert report.parameter_descriptions == {"Args/lr": "learning rate"}
    assert report.tags == ["reported", "surface", "split", "at", "spaces"]
    assert Path(store.get_value(report.models["weights"])).read_bytes() == b"weights"


def test_images_and_media_are_files_beside_the_steps_values(controller_run: Any) -> None:
    _, _, steps, store = controller_run
    report = steps["report"]
    folder = Path(store.url) / "runs" / Path(report.id).parent / "steps" / "report" / "reports"
    images = {(r.series, r.iteration): r for r in by_kind(report.reports, "image")}
    assert set(images) == {("file", 0), ("array", 0), ("kept", 2), ("kept", 3), ("link", 0)}
    picture = images[("file", 0)]
    assert (content(picture), Path(picture.uri).name) == (b"\x89PNG not really", "picture.png")
    assert Path(picture.uri).parent.parent == folder
    array = images[("array", 0)]
    if WRITES_PNG:
        assert content(array).startswith(PNG) and Path(array.uri).name == "image.png"
    else:
        assert array.file is not None and array.file.serializer == "numpy"
        assert np.array_equal(store.get_value(array.file), np.zeros((4, 4, 3), dtype=np.uint8))
    # max_image_history=2: the two newest of four stay, the older files are gone
    assert [p.name.split(".")[3] for p in sorted(folder.glob("image.history.*"))] == ["2", "3"]
    assert images[("link", 0)].uri == "https://example.com/sample.png"
    assert images[("link", 0)].file is None
    (media,) = by_kind(report.reports, "media")
    assert (media.title, media.series, media.iteration) == ("media", "clip", 1)
    assert (content(media), Path(media.uri).name) == (b"RIFF0000WAVE", "media.wav")


PLOTS: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("histogram", "counts"): (
        "histogram",
        {
            "values": [[1, 2, 3], [3, 2, 1]], "labels": ["a", "b"], "xlabels": None,
            "xaxis": "bin", "yaxis": "count", "mode": "group", "data_args": None,
            "extra_layout": None,
        },
    ),
    ("vector", "v"): (  # report_vector is recorded as the histogram it is in ClearML
        "histogram",
        {
            "values": [[4, 5]], "labels": None, "xlabels": None, "xaxis": None, "yaxis": None,
            "mode": "group", "data_args": None, "extra_layout": None,
        },
    ),
    ("scatter", "points"): (
        "scatter2d",
        {
            "scatter": [[0, 1], [1, 3]], "xaxis": None, "yaxis": None, "labels": None,
            "mode": "markers", "comment": None, "extra_layout": None,
        },
    ),
    ("lines", "up"): (
        "line_plot",
        {
            "series": [
                {"name": "up", "data": [[0, 0], [1, 1]], "labels": None},
                {"name": "down", "data": [[0, 1], [1, 0]], "labels": None},
            ],
            "xaxis": "x", "yaxis": "y", "mode": "lines", "reverse_xaxis": False,
            "comment": None, "extra_layout": None,
        },
    ),
    ("confusion", "m"): (
        "confusion_matrix",
        {
            "matrix": [[5, 1], [0, 4]], "xaxis": None, "yaxis": None, "xlabels": ["cat", "dog"],
            "ylabels": ["cat", "dog"], "yaxis_reversed": False, "comment": None,
            "extra_layout": {"texttemplate": "%{z}"},
        },
    ),
    ("matrix", "m"): (
        "confusion_matrix",
        {
            "matrix": [[1, 2], [3, 4]], "xaxis": None, "yaxis": None, "xlabels": None,
            "ylabels": None, "yaxis_reversed": False, "comment": None,
            "extra_layout": {"texttemplate": "%{z}"},
        },
    ),
    ("surface", "s"): (
        "surface",
        {
            "matrix": [[0, 1], [1, 2]], "xaxis": None, "yaxis": None, "zaxis": "height",
            "xlabels": None, "ylabels": None, "camera": None, "comment": None,
            "extra_layout": None,
        },
    ),
}  # fmt: skip


def test_plots_are_data_and_rendered_images(controller_run: Any) -> None:
    _, _, steps, _ = controller_run
    reports = [r for r in steps["report"].reports if r.kind not in ("scalar", "image", "media")]
    plots = {(r.title, r.series): r for r in reports}
    expected = (
        set(PLOTS)
        | {("plotly", "figure")}
        | ({("matplotlib", "figure")} if HAS_MATPLOTLIB else set())
    )
    assert set(plots) == expected
    for key, (kind, data) in PLOTS.items():
        assert (plots[key].kind, plots[key].data) == (kind, data), key
        if HAS_MATPLOTLIB:
            assert content(plots[key]).startswith(PNG), key
        else:
            assert plots[key].file is None and plots[key].uri is None, key
    plotly = plots[("plotly", "figure")]
    assert plotly.kind == "plotly" and plotly.file is None  # no renderer without Chrome
    assert plotly.data == {"data": [{"type": "bar", "y": [1, 2]}], "layout": {"title": "figure"}}
    if HAS_MATPLOTLIB:
        figure = plots[("matplotlib", "figure")]
        assert (figure.kind, figure.iteration) == ("matplotlib", 3)
        assert figure.data == {
            "axes": [
                {"title": "", "xlabel": "", "ylabel": "",
                 "lines": [{"label": "falling", "x": [0, 1, 2], "y": [2, 1, 0]}]}
            ]
        }  # fmt: skip
        assert content(figure).startswith(PNG)


def test_mark_completed_and_mark_failed_end_the_step_there(controller_run: Any) -> None:
    summary, _, steps, store = controller_run
    finish, refuse = steps["finish"], steps["refuse"]
    assert (finish.status, finish.error, finish.outputs) == ("completed", None, {})
    assert {n: store.get_value(v) for n, v in finish.artifacts.items()} == {
        "before": "uploaded before mark_completed"
    }
    assert finish.status_message == "done early"
    # set_parameters replaces every parameter, the step's inputs included, as in ClearML
    assert finish.parameters == {"General/first": 1, "General/second": "two", "General/third": [3]}
    line = line_of(STEPS, "task.mark_failed(")
    assert refuse.status == summary["steps"]["refuse"]["status"] == "failed"
    assert refuse.error == f"{rel(STEPS)}:{line}: marked failed: bad data (in step 'refuse')"
    assert (refuse.status_reason, refuse.status_message) == ("bad data", "fewer than 10 rows")
    assert refuse.tags == ["refusing"]  # Task.init's tags, as no task_overrides set them


def test_configuration_and_task_overrides_reach_a_task_script(controller_run: Any) -> None:
    _, _, steps, store = controller_run
    configure = steps["configure"]
    defaults = (SURFACE / "defaults.json").read_text()
    assert configure.status == "completed"
    assert (configure.task_name, configure.tags) == ("configure for 3 rows", ["from-pipeline"])
    assert configure.configurations == {
        "General": Configuration(
            type="dictionary", value={"epochs": 7, "lr": 0.5}, description="training settings"
        ),
        "file settings": Configuration(type="json", text='{"layers": 4}'),
        "kept settings": Configuration(type="json", text=defaults),
    }
    artifacts = {name: store.get_value(v) for name, v in configure.artifacts.items()}
    assert artifacts == {
        "seen": {
            "config": {"epochs": 7, "lr": 0.5},
            "overridden": {"layers": 4},
            "overridden_is_path": True,
            "overridden_moved": True,
            "untouched": json.loads(defaults),
            "untouched_same": True,
            "name": "configure for 3 rows",
            "tags": ["from-pipeline"],  # the override, not the script's Task.init tags
            "status": "in_progress",
        },
        "closed": {
            "current": None,
            "error": "Task 'configure for 3 rows' was closed: connect needs an open task",
        },
    }


def test_get_task_by_project_and_name(controller_run: Any) -> None:
    _, _, steps, store = controller_run
    report = steps["report"]
    assert store.get_value(steps["inspect"].outputs["found"]) == {
        "found": [
            report.id,
            "report",
            "completed",
            ["reported", "surface", "split", "at", "spaces"],
        ],
        "scalars": SCALARS,
        "parameters": {"kwargs/rows": "3", "Args/lr": "0.25"},
        "by_tags": report.id,
        "excluded": None,
        "template": [
            template_id("surface tests", "surface configure"),
            "surface configure",
            "created",
        ],
        "renamed": ["configure for 3 rows", ["from-pipeline"], "completed"],
        "models": ["report - weights", True, []],
        "artifacts": [],
    }


@pytest.mark.parametrize("target", TARGETS)
def test_the_pipelines_own_task_in_decorator_logic(
    target: str, tmp_path: Path, pipec_home: Path
) -> None:
    summary, record, steps, store = run(LOGIC, target, tmp_path / "store", pipec_home)
    assert summary["return_value"] == {
        "names": [record.run_id, "task surface logic", "surface tests", "controller"],
        "same": [True, True],
        "parameters": {"Args/a": "1", "Args/b": "2"},
        "status": "in_progress",
        "scalars": {"logic": {"total": {"x": [1], "y": [3.0]}}},
        "artifacts": ["summary"],
        "settings": {"threshold": 0.5},
        "refused": "UsageError: mark_failed on the pipeline's own task: end the pipeline "
        "function instead (return, or raise to fail it)",
    }
    scalar, bars = record.metrics
    assert scalar == Report(kind="scalar", title="logic", series="total", value=3.0, iteration=1)
    assert (bars.kind, bars.title, bars.series, bars.data["values"]) == (
        "histogram", "logic", "bars", [[3, 1, 2]]
    )  # fmt: skip
    if HAS_MATPLOTLIB:
        assert "/controller/reports/" in bars.uri and content(bars).startswith(PNG)
    else:
        assert bars.file is None
    assert store.get_value(record.artifacts["summary"]) == {"total": 3}
    assert record.tags == ["logic", "decorator"]
    assert record.configurations == {
        "logic settings": Configuration(type="dictionary", value={"threshold": 0.5})
    }
    assert steps["add"].reports == [
        Report(kind="scalar", title="sum", series="total", value=3.0, iteration=0)
    ]


@pytest.mark.parametrize("target", TARGETS)
def test_a_configuration_override_of_the_wrong_kind_fails_the_step(
    target: str, tmp_path: Path, pipec_home: Path
) -> None:
    register_configure(pipec_home)
    steps = run(BAD_OVERRIDE, target, tmp_path / "store", pipec_home)[2]
    assert steps["configure"].status == "failed"
    assert steps["configure"].error == (
        f"{rel(CONFIGURE)}:{line_of(CONFIGURE, 'config = task.connect_configuration(')}: "
        "UsageError: configuration_overrides['General'] is text that is not JSON, but the "
        "task connects a dict: pass the override as a dict, or as JSON text "
        "(in step 'configure')"
    )


# ---------------------------------------------------------------- a task run by hand


def run_by_hand(*args: str, tmp_path: Path, pipec_home: Path) -> Result:
    env = cli_env(pipec_home, {"PIPEC_CACHE_DIR": str(tmp_path / "cache")})
    proc = subprocess.run(
        [sys.executable, str(BY_HAND), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Result(("python", str(BY_HAND), *args), proc.returncode, proc.stdout, proc.stderr)


@pytest.mark.parametrize(("how", "status"), [((), 0), (("fail",), 1)])
def test_a_task_run_by_hand_ends_its_process_when_marked(
    how: tuple[str, ...], status: int, tmp_path: Path, pipec_home: Path
) -> None:
    result = run_by_hand(*how, tmp_path=tmp_path, pipec_home=pipec_home)
    assert result.returncode == status, result
    assert "not printed" not in result.stdout
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("TASK ")]
    seen = json.loads(line.removeprefix("TASK "))
    uri, serializer = seen.pop("image")
    assert seen == {
        "names": ["local/surface tests/by hand", "by hand", "surface tests"],
        "parameters": {"Args/epochs": "3", "General/lr": "0.5", "Args/batch": "8"},
        "tags": ["manual", "one", "two"],
        "status": "in_progress",
        "scalars": {"loss": {"train": {"x": [1], "y": [0.5]}}},
        "current": True,
    }
    # ClearML keeps debug images in its cache folder when nothing says where to upload them
    assert Path(uri).is_relative_to(tmp_path / "cache" / "debug_images")
    assert serializer == ("file" if WRITES_PNG else "numpy")
    assert Path(uri).read_bytes().startswith(PNG) is WRITES_PNG


# ---------------------------------------------------------------- in this process


@pytest.fixture
def by_hand(monkeypatch: pytest.MonkeyPatch, pipec_home: Path, tmp_path: Path) -> Task:
    """A task made by `Task.init` here, with nothing registered or cached outside tmp."""
    monkeypatch.setenv("PIPEC_HOME", str(pipec_home))
    monkeypatch.setenv("PIPEC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(Task, "_current", None)
    return Task.init(project_name="unit", task_name="in process")


def test_a_logger_of_no_task_keeps_its_reports(tmp_path: Path, by_hand: Task) -> None:
    logger = Logger()
    logger.report_scalar("loss", "train", value=1, iteration=2)
    logger.report_image("pictures", "link", url="https://example.com/p.png")
    assert logger.reports == [
        Report(kind="scalar", title="loss", series="train", value=1.0, iteration=2),
        Report(
            kind="image",
            title="pictures",
            series="link",
            iteration=0,
            uri="https://example.com/p.png",
        ),
    ]
    assert logger.flush() is False  # no record to write
    assert by_hand.get_logger().flush() is True


def test_without_pil_or_matplotlib_arrays_keep_their_serializer(
    monkeypatch: pytest.MonkeyPatch, by_hand: Task, tmp_path: Path
) -> None:
    for module in ("PIL", "matplotlib", "matplotlib.figure", "matplotlib.image"):
        monkeypatch.setitem(sys.modules, module, None)  # `import` of it now fails
    logger = by_hand.get_logger()
    picture = np.arange(6, dtype=np.uint8).reshape(2, 3)
    logger.report_image("pictures", "array", image=picture)
    logger.report_histogram("bars", "b", values=[1, 2])
    image, bars = logger.reports
    assert image.file is not None and image.file.serializer == "numpy"
    assert Path(image.uri).is_relative_to(tmp_path / "cache" / "debug_images")
    assert np.array_equal(
        Store(str(tmp_path / "cache" / "debug_images")).get_value(image.file), picture
    )
    assert (bars.file, bars.uri, bars.data["values"]) == (None, None, [[1, 2]])


def test_default_sample_history_keeps_the_newest_files(by_hand: Task, tmp_path: Path) -> None:
    logger = by_hand.get_logger()
    assert logger.get_default_debug_sample_history() == 5  # ClearML's default
    logger.set_default_debug_sample_history(1)
    for i in range(3):
        logger.report_media(
            "clips", "c", iteration=i, stream=io.BytesIO(b"%d" % i), file_extension=".txt"
        )
    (kept,) = logger.reports
    assert (kept.iteration, Path(kept.uri).read_bytes()) == (2, b"2")
    assert len(list((tmp_path / "cache" / "debug_images").rglob("media.txt"))) == 1


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda lg: lg.report_image("t", "s"), UsageError,
         "report_image('t', 's') takes exactly one of local_path, image, matrix, url (got none)"),
        (lambda lg: lg.report_image("t", "s", url="u", image=np.zeros(1)), UsageError,
         "report_image('t', 's') takes exactly one of local_path, image, matrix, url "
         "(got image, url)"),
        (lambda lg: lg.report_image("t", "s", image=[[1]]), ValueError,
         "report_image('t', 's'): the image must be a numpy array or a PIL image, not list"),
        (lambda lg: lg.report_image("t", "s", local_path="/no/such.png"), FileNotFoundError,
         "report_image('t'): no file '/no/such.png'"),
        (lambda lg: lg.report_media("t", "s", stream=io.BytesIO(b"x")), ValueError,
         "report_media('t', 's'): a stream needs file_extension"),
        (lambda lg: lg.report_media("t", "s"), UsageError,
         "report_media('t', 's') takes exactly one of local_path, stream, url (got none)"),
        (lambda lg: lg.report_histogram("t", "s", [1], mode="pile"), ValueError,
         "report_histogram: mode is group, stack or relative, not 'pile'"),
        (lambda lg: lg.report_scatter2d("t", "s", scatter=[1, 2, 3]), ValueError,
         "report_scatter2d('t', 's'): expected a sequence of (x, y) pairs"),
    ],
)  # fmt: skip
def test_bad_report_input_gets_one_clear_error(
    call: Any, error: type[Exception], message: str, by_hand: Task
) -> None:
    logger = by_hand.get_logger()
    with pytest.raises(error) as raised:
        call(logger)
    assert str(raised.value) == message
    assert logger.reports == []


def test_matplotlib_figures_as_plots_or_images(by_hand: Task) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib import pyplot

    pyplot.figure()
    pyplot.plot([1, 2], [3, 4], label="rise")
    logger = by_hand.get_logger()
    logger.report_matplotlib_figure("plots", "pyplot", figure=pyplot)  # its current figure
    logger.report_matplotlib_figure("plots", "image", figure=pyplot.gcf(), report_image=True)
    logger.report_matplotlib_figure("plots", "flat", figure=pyplot.gcf(), report_interactive=False)
    pyplot.close("all")
    plot, image, flat = logger.reports
    assert plot.kind == "matplotlib" and plot.data["axes"][0]["lines"] == [
        {"label": "rise", "x": [1, 2], "y": [3, 4]}
    ]
    assert (image.kind, image.data, flat.kind, flat.data) == ("image", None, "matplotlib", None)
    assert all(content(r).startswith(PNG) for r in (plot, image, flat))


def test_a_plotly_figure_is_kept_as_its_plotly_json(by_hand: Task) -> None:
    graph_objects = pytest.importorskip("plotly.graph_objects")
    logger = by_hand.get_logger()
    logger.report_plotly("plots", "bars", figure=graph_objects.Figure(graph_objects.Bar(y=[1, 2])))
    (plot,) = logger.reports
    assert (plot.kind, plot.file, plot.data["layout"]["title"]) == ("plotly", None, "bars")
    assert (plot.data["data"][0]["type"], plot.data["data"][0]["y"]) == ("bar", [1, 2])


def test_pil_images_and_float_arrays_become_png(by_hand: Task) -> None:
    image_module = pytest.importorskip("PIL.Image")
    logger = by_hand.get_logger()
    logger.report_image("pictures", "pil", image=image_module.new("RGB", (3, 2), (9, 8, 7)))
    logger.report_image("pictures", "floats", image=np.full((2, 2), 1.0))
    pil, floats = (image_module.open(report.uri) for report in logger.reports)
    assert (pil.size, pil.getpixel((0, 0))) == ((3, 2), (9, 8, 7))
    assert (floats.size, floats.getpixel((1, 1))) == ((2, 2), 255)  # scaled as ClearML does


def test_parameters_of_a_task_run_by_hand(by_hand: Task, caplog: pytest.LogCaptureFixture) -> None:
    by_hand.set_parameter("Model/layers/hidden", "64", value_type="int")
    by_hand.set_parameter("Model/layers/names", '["a", "b"]', value_type=list)
    by_hand.set_parameter("flag", "true", value_type=bool, description="a switch")
    with caplog.at_level(logging.WARNING, logger="pipec"):
        by_hand.set_parameter("General/obj", object())
    assert caplog.messages == ["parameter General/obj not set: object is not a builtin type"]
    assert by_hand.get_parameters() == {
        "Model/layers/hidden": "64", "Model/layers/names": '["a", "b"]', "General/flag": "True",
    }  # fmt: skip
    assert by_hand.get_parameters_as_dict(cast=True) == {
        "General": {"flag": True}, "Model": {"layers": {"hidden": 64, "names": ["a", "b"]}},
    }  # fmt: skip
    assert by_hand.get_parameter("General/flag", cast=True) is True
    assert by_hand._record.parameter_descriptions == {"General/flag": "a switch"}


def test_status_tags_and_close_of_a_task_run_by_hand(by_hand: Task) -> None:
    assert by_hand.get_status() == "in_progress"
    assert Task.current_task() is by_hand
    by_hand.add_tags(["b", "a"])
    by_hand.add_tags("a c")
    assert by_hand.get_tags() == ["b", "a", "c"]
    by_hand.close()
    assert (by_hand.get_status(), Task.current_task()) == ("completed", None)
    with pytest.raises(ValueError, match="was closed: connect_configuration needs an open task"):
        by_hand.connect_configuration({"a": 1})


def test_connect_configuration_records_what_it_is_given(by_hand: Task, tmp_path: Path) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text("a: 1\n")
    config = {"a": 1}
    assert by_hand.connect_configuration(config, name="dict") is config
    assert by_hand.connect_configuration(settings, name="file", description="d") == settings
    assert by_hand._record.configurations == {
        "dict": Configuration(type="dictionary", value={"a": 1}),
        "file": Configuration(type="yaml", text="a: 1\n", description="d"),
    }
    with pytest.raises(ValueError, match=r"Could not connect configuration file .*missing\.yaml"):
        by_hand.connect_configuration(str(tmp_path / "missing.yaml"))
    with pytest.raises(ValueError, match="takes a dict, a list or a file path, not int"):
        by_hand.connect_configuration(3)  # type: ignore[arg-type]


def test_reported_scalars_are_by_iteration_only(by_hand: Task) -> None:
    logger = by_hand.get_logger()
    logger.report_scalar("loss", "train", value=2, iteration=5)
    logger.report_scalar("loss", "train", value=1, iteration=4)
    assert by_hand.get_reported_scalars() == {"loss": {"train": {"x": [4, 5], "y": [1.0, 2.0]}}}
    with pytest.raises(ValueError, match="records each scalar's iteration, not when"):
        by_hand.get_reported_scalars(x_axis="timestamp")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({}, UsageError, "needs task_id"),
        ({"task_name": "x", "task_filter": {"status": ["done"]}}, UsageError, "queries a ClearML"),
        ({"task_name": "x", "tags": ["__$all", "a"]}, UsageError, "not '__\\$' operators"),
        ({"task_id": "p/run/none"}, LookupError, "no task 'p/run/none' in storage"),
        ({"task_id": "0123"}, LookupError, "no task '0123': not a step id, nor a task template's"),
    ],
)  # fmt: skip
def test_get_task_errors(
    kwargs: dict[str, Any],
    error: type[Exception],
    message: str,
    by_hand: Task,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("PIPEC_STORAGE", str(tmp_path / "store"))
    with pytest.raises(error, match=message):
        Task.get_task(**kwargs)


def test_get_task_of_nothing_is_none_with_a_warning(
    by_hand: Task, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PIPEC_STORAGE", str(tmp_path / "store"))
    with caplog.at_level(logging.WARNING, logger="pipec"):
        assert Task.get_task(project_name="unit", task_name="nothing") is None
    assert caplog.messages == [
        f"Task.get_task: no task 'nothing' (project 'unit') in storage {tmp_path / 'store'}, "
        "nor a task template"
    ]


def test_a_step_record_without_the_new_fields_still_loads() -> None:
    old = {"name": "s", "id": "p/r/s", "reports": [{"kind": "scalar", "title": "t", "value": 1.0}]}
    record = StepRecord.model_validate(old)
    assert (record.tags, record.configurations, record.reports[0].file) == ([], {}, None)
