"""The same decisions, made after the last step: nothing left to choose, so it captures."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["scores, best"])
def evaluate():
    return [0.1, 0.9], 1


@PipelineDecorator.pipeline(name="decide at the end", project="tests")
def decide_at_the_end():
    scores, best = evaluate()
    if scores[best] > 0.9:
        print("good")
    for score in scores:
        print(score)
    names = ["first", "second"]
    print(names[best])
    return best


if __name__ == "__main__":
    decide_at_the_end()
