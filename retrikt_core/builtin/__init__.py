"""The components retrikt-core ships, registered through the ``retrikt`` entry
point (``builtin``) exactly as a third-party plugin's would be."""

from retrikt_core.api import hookimpl
from retrikt_core.builtin.bow import BowKnnStudent, BowTeacher
from retrikt_core.builtin.corpus import CorpusGenerator
from retrikt_core.builtin.knowledge_source import KnowledgeSource
from retrikt_core.builtin.local_executor import LocalExecutor
from retrikt_core.builtin.memory_store import MemoryStore
from retrikt_core.builtin.none_optimizer import NoOptimizer
from retrikt_core.builtin.retrievers import HybridRetriever, KnnRetriever
from retrikt_core.builtin.reward_terms import REWARD_TERMS
from retrikt_core.builtin.tasks import TASKS


@hookimpl
def register_tasks(register):
    for task in TASKS:
        register(task)


@hookimpl
def register_generators(register):
    register(CorpusGenerator)
    register(KnowledgeSource)


@hookimpl
def register_teachers(register):
    register(BowTeacher)


@hookimpl
def register_optimizers(register):
    register(NoOptimizer)


@hookimpl
def register_stores(register):
    register(MemoryStore)


@hookimpl
def register_retrievers(register):
    register(KnnRetriever)
    register(HybridRetriever)


@hookimpl
def register_students(register):
    register(BowKnnStudent)


@hookimpl
def register_executors(register):
    register(LocalExecutor)


@hookimpl
def register_reward_terms(register):
    for term in REWARD_TERMS:
        register(term)
