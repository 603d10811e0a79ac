"""The pipeline's own model: `PipelineDecorator.upload_model` from the logic registers
it in the store's model registry, in the pipeline's project."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["path"])
def make():
    import os
    import tempfile

    path = os.path.join(tempfile.mkdtemp(), "ensemble.bin")
    with open(path, "wb") as f:
        f.write(b"ensemble")
    return path


@PipelineDecorator.pipeline(name="pipeline model", project="models tests", version="1.0")
def logic():
    path = make()
    model = PipelineDecorator.upload_model("ensemble", path)
    return model.id


if __name__ == "__main__":
    logic()
