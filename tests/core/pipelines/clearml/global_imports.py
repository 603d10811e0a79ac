"""Written the way ClearML users write it: steps use what the file imports at module level
(ClearML's default `skip_global_imports=False` imports those at the start of each step).
`fractions` is used only in `report`; `not_installed_anywhere` fails to import, and only
`maybe` uses it, on a branch that does not run."""

import json
import math as m
from collections import Counter
from fractions import Fraction

try:
    import not_installed_anywhere
except ImportError:
    not_installed_anywhere = None

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["counts"])
def count(words: str = "a b a c"):
    return json.dumps(Counter(words.split()), sort_keys=True)


@PipelineDecorator.component(return_values=["root"])
def root(counts: str):
    return m.sqrt(json.loads(counts)["a"] * 8)


@PipelineDecorator.component(return_values=["text"])
def maybe(value: float, use_missing: bool = False):
    if use_missing:
        return not_installed_anywhere.describe(value)
    return str(Fraction(value).limit_denominator(10))


@PipelineDecorator.pipeline(name="global imports", project="pipec tests", version="1")
def pipeline(words: str = "a b a c"):
    counts = count(words)
    return maybe(root(counts))


if __name__ == "__main__":
    PipelineDecorator.run_locally()
    pipeline()
