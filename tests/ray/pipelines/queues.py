"""Steps in ClearML queues: `gpu_queue` is served by one node of the test cluster only;
`elsewhere` is served by no node unless the `queues` option maps it onto a resource."""

import os

from pipec import PipelineController

QUEUE = os.environ.get("QUEUES_TEST_QUEUE", "gpu_queue")


def where():
    import os

    import ray

    print("step output goes to stderr with --json")
    return {"node": ray.get_runtime_context().get_node_id(), "var": os.environ.get("SHARED_VAR")}


if __name__ == "__main__":
    pipe = PipelineController(name="ray-queues", project="ray", version="1")
    pipe.add_function_step(
        name="queued", function=where, function_return=["where"], execution_queue=QUEUE
    )
    pipe.add_function_step(name="anywhere", function=where, function_return=["where"])
    pipe.start()
