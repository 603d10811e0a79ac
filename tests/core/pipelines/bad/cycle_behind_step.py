"""A cycle whose members are added after a step that waits for one of them."""

from pipec import PipelineController


def report(score=None):
    return score


def make_features(rows=10):
    return list(range(rows))


def score_features(features=None):
    return sum(features or [])


if __name__ == "__main__":
    pipe = PipelineController(name="cycle behind step", project="pipec tests", version="1.0.0")
    pipe.add_function_step(name="report", function=report, parents=["score_features"])
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
