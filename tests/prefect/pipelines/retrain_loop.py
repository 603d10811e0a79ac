"""Retrain until the score is good enough: a loop on a step's value (ClearML issue #1553)."""

from pipec import PipelineDecorator

ROUND_GAIN = 0.2


@PipelineDecorator.component(return_values=["score"], cache=True)
def train(round_number: int, gain: float):
    return 0.5 + gain * round_number


@PipelineDecorator.pipeline(name="retrain-loop", project="pipec tests", version="1")
def main(target: float = 0.85):
    round_number = 0
    score = train(round_number, ROUND_GAIN)
    while score < target:  # decides from the step's value whether another step runs
        round_number += 1
        score = train(round_number, ROUND_GAIN)
    print(f"score {score:.2f} after {round_number + 1} rounds")
    return score


if __name__ == "__main__":
    main()
