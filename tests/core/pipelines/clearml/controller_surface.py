"""Written the way ClearML users write it: the controller's settings and its view of a run,
printed as one JSON line for the test to read."""

import json
import os
import sys

from pipec import PipelineController


def work(x=1):
    return x * 2


def main():
    pipe = PipelineController(name="controller surface", project="pipec tests", version="1")
    pipe.add_parameter(name="x", default=4, param_type="int")
    pipe.add_tags("nightly")
    pipe.add_tags(["nightly", "iris"])
    settings = pipe.connect_configuration({"lr": 0.1, "layers": [8, 4]}, name="run_settings")
    with open("settings.json", "w") as handle:
        json.dump({"from": "file"}, handle)
    path = pipe.connect_configuration("settings.json")
    pipe.set_pipeline_execution_time_limit(30)
    pipe.add_function_step(
        name="work", function=work, function_kwargs={"x": "${pipeline.x}"}, function_return=["y"]
    )
    before = {
        "parameters": pipe.get_parameters(),
        "elapsed": pipe.elapsed(),
        "running": pipe.is_running(),
        "settings": settings,
        "path": str(path),
    }
    pipe.create_draft()
    pipe.start(wait=False)
    pipe.wait()
    after = {
        "parameters": pipe.get_parameters(),
        "elapsed_positive": pipe.elapsed() > 0,
        "running": pipe.is_running(),
        "successful": pipe.is_successful(),
    }
    print("SURFACE " + json.dumps({"before": before, "after": after}), file=sys.stderr)


if __name__ == "__main__":
    main()
