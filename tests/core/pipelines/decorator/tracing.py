"""Everything the pipeline logic may do with step outputs, traced into the IR."""

import datetime

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["features, labels"])
def load(rows: int = 10, source: str = "memory"):
    return list(range(rows)), [r % 2 for r in range(rows)]


@PipelineDecorator.component(return_values=["model"])
def fit(features, labels, alpha: float = 0.5, options=None, since=datetime.date(2024, 1, 31)):
    return {"alpha": alpha, "n": len(features), "labels": labels, "options": options}


@PipelineDecorator.component(return_values=["report"])
def report(value, note="none"):
    return f"{note}: {value}"


@PipelineDecorator.pipeline(name="tracing", project="tests", version="0.1")
def tracing(rows: int = 5, tag="base"):
    features, labels = load(rows, source="disk")
    model = fit(features, labels=labels)
    more_features, _ = load()
    fit(
        [features, 1],
        {"train": labels, "k": 2},
        alpha=3,
        options=(1, "two"),
        since=datetime.datetime(2024, 5, 6, 7, 8, 9),
    )
    report(model * 2 + 1, note=model > 0.5)
    report(model.coef_, note=model["alpha"])
    report(model.predict(features, proba=True))
    report(f"model {model:.3f} at {tag}!")
    print(model)
    print(f"features: {more_features}")
    labels[0] = 1
    last = report(labels, note=["a", {"b": None}, 1.5, True])
    assert last == "done"
    return last


if __name__ == "__main__":
    PipelineDecorator.run_locally()
    tracing(rows=7)
