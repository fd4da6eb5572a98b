"""retrikt-ray: run a stage's sharded work (teacher labelling) as a Ray Data
job over a pool of actors, each loading the saved component once.

Importing this module does not import Ray; a run that names the ``ray``
executor does, when its first sharded stage starts.
"""

from retrikt_core.api import hookimpl
from retrikt_ray.executor import RayExecutor


@hookimpl
def register_executors(register):
    register(RayExecutor)
