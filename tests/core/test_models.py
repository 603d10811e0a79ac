"""ClearML's `OutputModel` / `InputModel` / `Model` over the model registry in the store:
a task by hand, then pipelines on `debug` and `local` (ClearML-style files whose only
change is the import line), `task.models` and `${step.models...}`, and `pipec models`."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest
from conftest import PIPELINES, rel, run_pipec
from pipec import InputModel, Model, OutputModel, Task
from pipec.errors import UsageError
from pipec.registry import models as registry
from pipec.runtime.runstore import find_run
from pipec.store import Store

MODELS = PIPELINES / "models"
TARGETS = ["debug", "local"]


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    """The default store (`$PIPEC_STORAGE`) a task run by hand registers its models in."""
    url = tmp_path / "store"
    monkeypatch.setenv("PIPEC_STORAGE", str(url))
    return Store(str(url))


@pytest.fixture
def task() -> Task:
    """A task as a script run by hand has it (no pipeline around it)."""
    return Task("vision", "train resnet", "training")


def weights(folder: Path, name: str = "model.pt", content: bytes = b"weights-1") -> str:
    path = folder / name
    path.write_bytes(content)
    return str(path)


def test_a_model_gets_its_id_when_its_weights_are_stored_and_is_read_back_by_it(
    store: Store, task: Task, tmp_path: Path
) -> None:
    model = OutputModel(
        task=task,
        name="resnet",
        framework="PyTorch",
        config_dict={"layers": 18, "head": {"classes": 2}},
        label_enumeration={"cat": 0, "dog": 1},
        tags=["vision", "baseline"],
        comment="first try",
    )
    assert (model.id, model.url, model.published) == ("", None, False)
    assert (model.name, model.project) == ("resnet", "vision")
    assert model.config_dict == {"layers": 18, "head": {"classes": 2}}
    url = model.update_weights(weights_filename=weights(tmp_path))

    assert len(model.id) == 32 and url == model.url
    assert url.startswith(store.uri(f"models/{model.id}/")) and url.endswith("/model.pt")
    read = InputModel(model_id=model.id)
    assert (read.name, read.project, read.framework) == ("resnet", "vision", "PyTorch")
    assert read.tags == ["vision", "baseline"]
    assert read.config_dict == {"layers": 18, "head": {"classes": 2}}
    assert json.loads(read.config_text) == {"layers": 18, "head": {"classes": 2}}
    assert read.labels == {"cat": 0, "dog": 1}
    assert read.task == task.id and read.url == url
    assert Path(read.get_local_copy()).read_bytes() == b"weights-1"
    assert Path(read.get_weights()).read_bytes() == b"weights-1"
    assert "first try" in read.comment
    assert task.models.output["model"].id == model.id  # named on the task by the file's stem
    assert [m.id for m in task.models.output] == [model.id] and list(task.models.input) == []


def test_an_id_names_one_model_for_good_and_a_published_one_cannot_change(
    store: Store, task: Task, tmp_path: Path
) -> None:
    model = OutputModel(task=task, name="resnet")
    model.update_weights(weights_filename=weights(tmp_path))
    first_id, first_url = model.id, model.url
    model.update_labels({"cat": 0})
    model.update_design(config_text="layers = 34")
    second = model.update_weights(weights_filename=weights(tmp_path, content=b"weights-2"))
    assert model.id == first_id and second != first_url
    # the replaced weights went after the new record was written; the new ones are there
    assert not store.exists(first_url)
    assert Path(Model(first_id).get_local_copy()).read_bytes() == b"weights-2"
    assert (Model(first_id).labels, Model(first_id).config_text) == ({"cat": 0}, "layers = 34")

    model.publish()
    assert model.published and Model(first_id).published
    assert registry.read(store, first_id).published
    with pytest.raises(ValueError, match="published and cannot be changed"):
        model.update_weights(weights_filename=weights(tmp_path))
    with pytest.raises(ValueError, match="published and cannot be changed"):
        model.update_labels({"cat": 1})
    assert store.listdir(f"models/{first_id}") == sorted(
        ["model.json", second.split("/")[-2]]
    )  # one record, the weights it points at, nothing else


def test_query_models_filters_by_project_name_and_tags_newest_first(
    store: Store, tmp_path: Path
) -> None:
    made = []
    for project, name, tags in [
        ("vision", "resnet", ["a"]),
        ("vision", "resnet", ["b"]),
        ("vision", "vit", ["a"]),
        ("audio", "resnet", ["a", "b"]),
    ]:
        model = OutputModel(task=Task(project, "train", "training"), name=name, tags=tags)
        model.update_weights(weights_filename=weights(tmp_path))
        made.append(model.id)
    ids = lambda found: [m.id for m in found]  # noqa: E731
    assert ids(Model.query_models()) == made[::-1]
    assert ids(InputModel.query_models(project_name="vision", model_name="resnet")) == [
        made[1],
        made[0],
    ]
    assert ids(Model.query_models(model_name="resnet", tags=["b"])) == [made[3], made[1]]
    assert ids(Model.query_models(model_name="resnet", tags=["-b"])) == [made[0]]
    assert ids(Model.query_models(max_results=2)) == made[:1:-1]
    assert InputModel(name="resnet", project="vision").id == made[1]
    Model(made[2]).publish()
    assert ids(Model.query_models(only_published=True)) == [made[2]]
    assert InputModel(name="vit", only_published=True).id == made[2]
    with pytest.raises(UsageError, match="'__\\$' operators"):
        Model.query_models(tags=["__$all", "a"])


def test_a_missing_model_is_a_clear_error_naming_what_the_store_has(
    store: Store, task: Task, tmp_path: Path
) -> None:
    OutputModel(task=task, name="resnet-18").update_weights(weights_filename=weights(tmp_path))
    with pytest.raises(ValueError, match="no model with id 'f00' in storage"):
        InputModel(model_id="f00")
    with pytest.raises(ValueError) as error:
        InputModel(name="resnet18", project="vision")
    message = str(error.value)
    assert "project=vision name=resnet18" in message and "'resnet-18'" in message
    with pytest.raises(ValueError, match="published=True"):
        InputModel(name="resnet-18", only_published=True)
    with pytest.raises(FileNotFoundError, match="no weights file"):
        OutputModel(task=task).update_weights(weights_filename=str(tmp_path / "absent.pt"))
    with pytest.raises(ValueError, match="either local weights file"):
        OutputModel(task=task).update_weights()
    with pytest.raises(UsageError, match="register_uri"):
        OutputModel(task=task).update_weights(register_uri="s3://bucket/model.pt")
    with pytest.raises(ValueError, match="label enumeration"):
        OutputModel(task=task, label_enumeration={"cat": "zero"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="task object was not provided"):
        OutputModel()


def test_a_record_whose_weights_are_not_all_there_is_not_a_model(
    store: Store, task: Task, tmp_path: Path
) -> None:
    """An upload interrupted before its record was written leaves no visible model."""
    model = OutputModel(task=task, name="kept")
    model.update_weights(weights_filename=weights(tmp_path))
    registry.put_weights(store, registry.new_id(), weights(tmp_path, "half.pt"))
    assert [m.id for m in Model.query_models()] == [model.id]


def test_a_folder_is_stored_as_a_package_and_comes_back_as_a_folder(
    store: Store, task: Task, tmp_path: Path
) -> None:
    folder = tmp_path / "checkpoint"
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "sub" / "weights.bin").write_bytes(b"123")
    model = OutputModel(task=task, name="packaged")
    url = model.update_weights(weights_filename=str(folder))
    assert url.endswith("/checkpoint.zip") and zipfile.is_zipfile(store.local_path(
        registry.read(store, model.id).weights))  # fmt: skip
    local = Path(InputModel(model_id=model.id).get_local_copy())
    assert sorted(p.relative_to(local).as_posix() for p in local.rglob("*")) == [
        "config.json",
        "sub",
        "sub/weights.bin",
    ]
    files = [weights(tmp_path, "a.bin", b"a"), weights(tmp_path, "b.bin", b"b")]
    listed = OutputModel(task=task, name="listed")
    assert listed.update_weights_package(weights_filenames=files).endswith("model_package.zip")
    package = Model(listed.id).get_weights_package()
    assert sorted(p.name for p in package) == ["a.bin", "b.bin"]
    plain = OutputModel(task=task, name="plain")
    plain.update_weights(weights_filename=weights(tmp_path))
    with pytest.raises(ValueError, match="not packaged"):
        Model(plain.id).get_weights_package()


def test_connecting_an_input_model_lists_it_on_the_task(
    store: Store, task: Task, tmp_path: Path
) -> None:
    made = OutputModel(task=Task("vision", "train", "training"), name="resnet")
    made.update_weights(weights_filename=weights(tmp_path, "resnet.pt"))
    model = InputModel(model_id=made.id)
    assert task.connect(model) is model
    task.connect(InputModel(model_id=made.id), name="warm start")
    assert [m.id for m in task.models.input] == [made.id, made.id]
    assert task.models["input"]["resnet"].name == "resnet"  # the weights' stem by default
    assert task.models.input["warm start"].url == made.url
    assert Model.remove(made.id) and not Model.remove(made.id)
    assert list(task.models.input) == []  # a removed model is gone from the task too


@pytest.mark.parametrize("target", TARGETS)
def test_a_second_pipeline_reads_the_model_the_first_published(
    target: str, tmp_path: Path, pipec_home: Path
) -> None:
    storage = tmp_path / "store"
    first = run_pipec(
        "run", rel(MODELS / "publish.py"), "--target", target, "--storage", storage, "--json",
        "-p", "epochs=4", pipec_home=pipec_home,
    )  # fmt: skip
    assert first.returncode == 0, first
    model_id = json.loads(first.stdout)["return_value"]
    second = run_pipec(
        "run", rel(MODELS / "consume.py"), "--target", target, "--storage", storage, "--json",
        "-p", "x=3", pipec_home=pipec_home,
    )  # fmt: skip
    assert second.returncode == 0, second
    summary = json.loads(second.stdout)
    assert summary["return_value"] == 6.0
    found = find_run(Store(str(storage)), summary["run_id"])
    assert found is not None
    (predict,) = found[1]
    assert predict.input_models == {"regressor": model_id}
    record = registry.read(Store(str(storage)), model_id)
    assert (record.name, record.project) == ("tiny regressor", "models demo")
    assert record.published
    assert record.task is not None and record.task.endswith("/train")


def test_a_pipeline_run_as_a_script_publishes_and_a_second_script_reads_it(
    tmp_path: Path, pipec_home: Path
) -> None:
    """The ClearML habit: `python pipeline.py`, twice, sharing the store."""
    env = {"PIPEC_STORAGE": str(tmp_path / "store")}
    for script in ("publish.py", "consume.py"):
        result = run_pipec_python(MODELS / script, pipec_home, env)
        assert result.returncode == 0, result.stderr
    assert "prediction 3.0" in result.stdout


def run_pipec_python(script: Path, pipec_home: Path, env: dict[str, str]) -> Any:
    import subprocess
    import sys

    from conftest import cli_env

    return subprocess.run(
        [sys.executable, str(script)],
        cwd=script.parent,
        env=cli_env(pipec_home, env),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("target", TARGETS)
def test_update_output_model_monitor_models_and_model_references_share_the_registry(
    target: str, tmp_path: Path, pipec_home: Path
) -> None:
    storage = tmp_path / "store"
    store = Store(str(storage))
    runs = []
    for _ in range(2):  # the second run's train step is a cache hit
        result = run_pipec(
            "run", rel(MODELS / "task_models.py"), "--target", target, "--storage", storage,
            "--json", pipec_home=pipec_home,
        )  # fmt: skip
        assert result.returncode == 0, result
        found = find_run(store, json.loads(result.stdout)["run_id"])
        assert found is not None
        runs.append(found)
    (run_record, (train, evaluate, report)), (_, (cached, evaluated_again, _)) = runs
    assert list(train.models) == ["weights", "bundle"] == list(train.model_ids)
    weights_model = registry.read(store, train.model_ids["weights"])
    assert (weights_model.name, weights_model.tags, weights_model.project) == (
        "train - weights",
        ["bin"],
        "models tests",
    )
    assert weights_model.weights == train.models["weights"]
    # monitor_models forwards the same weights the registry holds, renamed
    assert run_record.models == {"best weights": weights_model.weights}
    seen = store.get_value(evaluate.outputs["seen"])
    assert seen == {
        "same_url": True,
        "name": "train - weights",
        "size": 5,
        "bundle": ["a.txt", "b.txt"],
        "bundle_url_is_zip": True,
        "input": [[weights_model.id, "train - weights"]],
        "input_by_name": True,
    }
    assert evaluate.input_models == {"weights": weights_model.id}
    assert store.get_value(report.outputs["inputs"]) == [
        weights_model.id,
        weights_model.url,
        "['bin']",  # ClearML passes str(getattr(model, ATTR))
    ]
    # a cache hit is the same task output as before: the same models under the same ids
    assert cached.cache_hit and cached.model_ids == train.model_ids
    assert store.get_value(evaluated_again.outputs["seen"]) == seen
    assert len(registry.all_models(store)) == 2


def test_models_cli_lists_and_shows_the_registry(
    store: Store, tmp_path: Path, pipec_home: Path
) -> None:
    older = OutputModel(task=Task("vision", "train", "training"), name="resnet", tags=["a"])
    older.update_weights(weights_filename=weights(tmp_path))
    newer = OutputModel(
        task=Task("audio", "train", "training"), name="wav2vec", config_dict={"rate": 16000}
    )
    newer.update_weights(weights_filename=weights(tmp_path, "w.bin"))
    newer.publish()
    at = ("--storage", store.url)
    listed = run_pipec("models", "list", *at, "--json", pipec_home=pipec_home)
    assert listed.returncode == 0, listed
    assert [m["id"] for m in json.loads(listed.stdout)] == [newer.id, older.id]
    only = run_pipec("models", "list", *at, "--project", "vision", "--json", pipec_home=pipec_home)
    assert [m["name"] for m in json.loads(only.stdout)] == ["resnet"]
    tagged = run_pipec("models", "list", *at, "--tag", "-a", "--json", pipec_home=pipec_home)
    assert [m["name"] for m in json.loads(tagged.stdout)] == ["wav2vec"]
    published = run_pipec("models", "list", *at, "--published", pipec_home=pipec_home)
    assert newer.id in published.stdout and older.id not in published.stdout
    table = run_pipec("models", "list", *at, pipec_home=pipec_home, env={"COLUMNS": "200"})
    assert older.id in table.stdout and "wav2vec" in table.stdout
    shown = run_pipec("models", "show", newer.id, *at, "--json", pipec_home=pipec_home)
    assert json.loads(shown.stdout)["config_dict"] == {"rate": 16000}
    text = run_pipec("models", "show", newer.id, *at, pipec_home=pipec_home)
    assert f"weights: {newer.url}" in text.stdout and '"rate": 16000' in text.stdout
    missing = run_pipec("models", "show", "nope", *at, pipec_home=pipec_home)
    assert missing.returncode == 2
    assert f"error: no model with id 'nope' in storage {store.url}" in missing.stderr


def test_a_model_in_traced_logic_registers_nothing(store: Store) -> None:
    """A decorator pipeline's logic is traced once before it runs: what it stores there
    the run stores for real, so the trace must not register a model of its own."""
    from pipec.api.task import _traced_task

    traced = _traced_task("p")
    model = OutputModel(task=traced, name="logic")
    assert model.update_weights(weights_filename=__file__) == ""
    assert Model.query_models() == [] and not os.path.exists(store.uri("models"))


@pytest.mark.parametrize("target", TARGETS)
def test_the_pipelines_own_model_is_in_the_registry_and_the_run_record(
    target: str, tmp_path: Path, pipec_home: Path
) -> None:
    storage = tmp_path / "store"
    result = run_pipec(
        "run", rel(MODELS / "pipeline_model.py"), "--target", target, "--storage", storage,
        "--json", pipec_home=pipec_home,
    )  # fmt: skip
    assert result.returncode == 0, result
    summary = json.loads(result.stdout)
    store = Store(str(storage))
    (model,) = registry.all_models(store)
    assert summary["return_value"] == model.id
    assert (model.name, model.project, model.task) == (
        "ensemble",
        "models tests",
        summary["run_id"],
    )
    found = find_run(store, summary["run_id"])
    assert found is not None
    assert found[0].models == {"ensemble": model.weights}  # named by the file's stem
    assert Path(store.local_path(model.weights)).read_bytes() == b"ensemble"


def test_removing_the_run_that_published_a_model_keeps_the_model(
    tmp_path: Path, pipec_home: Path
) -> None:
    """The registry owns a model's weights, not the run that stored them: `pipec runs rm`
    takes the run's own files only."""
    storage = tmp_path / "store"
    result = run_pipec(
        "run", rel(MODELS / "task_models.py"), "--target", "debug", "--storage", storage,
        "--json", pipec_home=pipec_home,
    )  # fmt: skip
    assert result.returncode == 0, result
    removed = run_pipec(
        "runs", "rm", json.loads(result.stdout)["run_id"], "--storage", storage,
        pipec_home=pipec_home,
    )  # fmt: skip
    assert removed.returncode == 0, removed
    store = Store(str(storage))
    models = registry.all_models(store)
    assert sorted(m.name for m in models) == ["train - bundle", "train - weights"]
    for model in models:
        assert model.weights is not None and store.exists(model.weights.uri), model


def test_metadata_is_kept_typed_and_queried_and_archived_models_are_left_out(
    store: Store, task: Task, tmp_path: Path
) -> None:
    model = OutputModel(task=task, name="resnet")
    model.set_metadata("accuracy", 0.93, v_type="float")  # before the weights: kept for them
    model.update_weights(weights_filename=weights(tmp_path))
    model.publish()
    read = Model(model.id)
    read.set_metadata("classes", ["cat", "dog"], v_type="list")  # a published model too
    read.set_metadata("note", "baseline")
    assert Model(model.id).get_all_metadata() == {
        "accuracy": {"key": "accuracy", "value": "0.93", "type": "float"},
        "classes": {"key": "classes", "value": '["cat", "dog"]', "type": "list"},
        "note": {"key": "note", "value": "baseline", "type": "None"},
    }
    assert Model(model.id).get_metadata("accuracy") == "0.93"
    assert Model(model.id).get_metadata_casted("accuracy") == 0.93
    assert Model(model.id).get_all_metadata_casted()["classes"] == ["cat", "dog"]
    assert Model(model.id).get_metadata("missing") is None
    other = OutputModel(task=task, name="resnet")
    other.update_weights(weights_filename=weights(tmp_path))
    ids = lambda **kw: [m.id for m in Model.query_models(**kw)]  # noqa: E731
    assert ids(metadata={"accuracy": "0.93"}) == [model.id]
    assert ids(model_name="resnet") == [other.id, model.id]
    other.archive()
    assert ids(model_name="resnet") == [model.id]
    assert ids(model_name="resnet", include_archived=True) == [other.id, model.id]
    assert InputModel(name="resnet").id == model.id
    Model(other.id).unarchive()
    assert InputModel(name="resnet").id == other.id


def test_import_model_copies_pretrained_weights_into_the_store_once(
    store: Store, tmp_path: Path
) -> None:
    import fsspec

    local = weights(tmp_path, "pretrained.bin", b"imagenet")
    imported = InputModel.import_model(
        local, name="resnet imagenet", project="vision", tags=["pretrained"], framework="PyTorch",
        label_enumeration={"cat": 0}, create_as_published=True,
    )  # fmt: skip
    assert (imported.name, imported.project, imported.published) == (
        "resnet imagenet",
        "vision",
        True,
    )
    assert imported.url.startswith(store.uri(f"models/{imported.id}/"))
    assert Path(imported.get_local_copy()).read_bytes() == b"imagenet"
    assert InputModel.import_model(local, name="another name").id == imported.id
    assert InputModel.load_model(local).id == imported.id
    assert InputModel.load_model(imported.url).id == imported.id
    assert InputModel.load_model(str(tmp_path / "other.bin")) is None
    with fsspec.open("memory://pipec-tests/remote.bin", "wb") as f:
        f.write(b"remote weights")
    remote = InputModel.import_model("memory://pipec-tests/remote.bin")
    assert Path(remote.get_weights()).read_bytes() == b"remote weights"
    assert remote.name == "remote" and remote.project is None
    with pytest.raises(FileNotFoundError, match="no weights file"):
        InputModel.import_model(str(tmp_path / "absent.bin"))
