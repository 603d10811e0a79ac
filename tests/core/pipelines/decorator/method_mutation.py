"""The logic changes a step output with method calls before passing it on."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["items"])
def load():
    return [3, 1, 2]


@PipelineDecorator.component(return_values=["seen"])
def use(items, last, config):
    return {"items": items, "last": last, "config": config}


@PipelineDecorator.component(return_values=["config"])
def settings():
    return {"layers": [8]}


@PipelineDecorator.pipeline(name="method mutation", project="tests")
def method_mutation():
    items = load()
    items.append(4)
    last = items.pop()
    items.sort()
    config = settings()
    config["layers"].extend([4, 2])
    config.update(lr=0.1)
    return use(items, last, config)


if __name__ == "__main__":
    method_mutation()
