"""The staged pipeline: defining the stages (:mod:`.definition`, one module
per stage under :mod:`.stages`) is separate from running them
(:mod:`.runner`), which keys, skips, caches and commits each stage in a run
directory (:mod:`.rundir`). Checks before any stage are in :mod:`.checks`.
"""

from retrikt_core.errors import PipelineError
from retrikt_core.pipeline.cache import StageCache
from retrikt_core.pipeline.definition import STAGE_NAMES, STAGES
from retrikt_core.pipeline.digests import output_digest
from retrikt_core.pipeline.locking import RunLock
from retrikt_core.pipeline.rundir import MANIFEST, STORE_SECTIONS, RunDir, load_component
from retrikt_core.pipeline.runner import Pipeline
from retrikt_core.pipeline.stage import (
    SOURCE_SECTIONS,
    STUDENT_METHODS,
    Stage,
    StageContext,
    seed_everything,
)
from retrikt_core.pipeline.stages.evaluate import neighbour_sources
from retrikt_core.pipeline.stages.extract import LABELLED_BY, labelled_by, requests, teacher_labels

__all__ = [
    "LABELLED_BY",
    "MANIFEST",
    "SOURCE_SECTIONS",
    "STAGES",
    "STAGE_NAMES",
    "STORE_SECTIONS",
    "STUDENT_METHODS",
    "Pipeline",
    "PipelineError",
    "RunDir",
    "RunLock",
    "Stage",
    "StageCache",
    "StageContext",
    "labelled_by",
    "load_component",
    "neighbour_sources",
    "output_digest",
    "requests",
    "seed_everything",
    "teacher_labels",
]
