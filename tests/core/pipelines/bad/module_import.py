"""A component that uses `json`, imported at module level, in a pipeline that says
`skip_global_imports=True`: no module import comes along, so the step would fail."""

import json

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["payload"])
def encode(rows: int = 3):
    data = {"rows": list(range(rows))}
    return json.dumps(data)  # expected-error


@PipelineDecorator.pipeline(
    name="module import", project="pipec tests", version="1.0.0", skip_global_imports=True
)
def pipeline(rows: int = 3):
    return encode(rows)


if __name__ == "__main__":
    PipelineDecorator.run_locally()
    pipeline()
