"""An artifact reference to a step that does not exist (`typo_step`)."""

from pipec import PipelineController


def load(url):
    import urllib.request

    with urllib.request.urlopen(url) as response:
        return response.read()


if __name__ == "__main__":
    pipe = PipelineController(name="typo step", project="pipec tests", version="1.0.0")
    pipe.add_function_step(
        name="stage_data",
        function=load,
        function_kwargs=dict(url="https://example.com/data.csv"),
        function_return=["raw"],
    )
    pipe.add_function_step(  # expected-error
        name="use_data",
        function=load,
        function_kwargs=dict(url="${typo_step.artifacts.x.url}"),
        function_return=["raw"],
    )
    pipe.start()
