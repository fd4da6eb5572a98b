"""retrikt-students: tiny students trained to combine their own prediction
with the labels of retrieved knowledge (RetriKT step 3)."""

from retrikt_core.api import hookimpl
from retrikt_students.bilstm import BiLSTMStudent
from retrikt_students.tiny_transformer import TransformerStudent


@hookimpl
def register_students(register):
    register(TransformerStudent)
    register(BiLSTMStudent)
