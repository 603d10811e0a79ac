"""Running IR (internal): one attempt, one step, a run on this machine or on an engine.

Independent of `pipec.capture`: a run needs only the IR and the store. The public way
in for engine adapters is `pipec.adapter`.
"""
