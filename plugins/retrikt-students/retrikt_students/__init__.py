"""retrikt-students: small students (tiny transformer, BiLSTM, a pretrained
encoder) trained to combine their own prediction with the labels of
retrieved knowledge (RetriKT step 3)."""

from retrikt_core.api import hookimpl
from retrikt_students.bilstm import BiLSTMStudent
from retrikt_students.encoder import EncoderStudent
from retrikt_students.setfit_baseline import SetFitStudent
from retrikt_students.tiny_transformer import TransformerStudent


@hookimpl
def register_students(register):
    register(TransformerStudent)
    register(BiLSTMStudent)
    register(EncoderStudent)
    register(SetFitStudent)
