"""Module-level names used only in annotations, and builtins: self-contained steps."""

import pandas as pd
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["frame"])
def build(rows: int) -> pd.DataFrame:
    import pandas

    return pandas.DataFrame({"x": list(range(rows))})


@PipelineDecorator.component(return_values=["summary"])
def summarise(frame: pd.DataFrame, columns: "pd.Index" = None) -> dict:
    total: pd.Series = frame.sum()
    values = sorted(map(abs, [len(frame), max(1, 2), min(3, 4)]))
    if not isinstance(frame, object):
        raise ValueError("unreachable")
    return {"total": dict(total), "values": values, "print": print is not None}


@PipelineDecorator.pipeline(name="annotations", project="tests")
def annotations(rows: int = 4):
    return summarise(build(rows))


if __name__ == "__main__":
    annotations()
