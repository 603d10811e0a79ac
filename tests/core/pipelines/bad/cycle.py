"""Two function steps that wait for each other through parents=[...]: a cycle."""

from pipec import PipelineController


def make_features(rows=10):
    return list(range(rows))


def score_features(features=None):
    return sum(features or [])


if __name__ == "__main__":
    pipe = PipelineController(name="cycle", project="pipec tests", version="1.0.0")
    pipe.add_function_step(  # expected-error
        name="make_features",
        function=make_features,
        function_return=["features"],
        parents=["score_features"],
    )
    pipe.add_function_step(
        name="score_features",
        function=score_features,
        function_return=["score"],
        parents=["make_features"],
    )
    pipe.start()
