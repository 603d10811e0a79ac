"""The Ray target of pipec: every step attempt a Ray task on a Ray cluster.

`pipec run PATH --target ray` runs the pipeline from this process, as the local target
does (its logic live, pipec's scheduler deciding what runs), and sends each attempt to
the cluster as a Ray task (`pipec_ray.attempts`), with the resources its ClearML queue
maps onto (`pipec_ray.queues`). Built on `pipec.adapter` alone; the worked example of
docs/adapters.md.
"""
