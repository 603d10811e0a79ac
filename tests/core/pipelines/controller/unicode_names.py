"""Step names outside ASCII (controller step names are any string)."""

from pipec import PipelineController


def charger(lignes=10):
    return list(range(lignes))


def entraîner(données):
    return sum(données)


if __name__ == "__main__":
    pipe = PipelineController(name="données", project="pipec tests", version="1.0.0")
    pipe.add_function_step(name="charger", function=charger, function_return=["données"])
    pipe.add_function_step(
        name="entraîner",
        function=entraîner,
        function_kwargs=dict(données="${charger.données}"),
    )
    pipe.start()
