"""The tiny-transformer, BiLSTM and pretrained-encoder students against the
shared student contract."""

from __future__ import annotations

from retrikt_core.testing.student_contract import StudentContract


class TestTinyTransformerStudent(StudentContract):
    lam_option = "lam"
    invalid_options = [
        ({"heads": 3}, "heads"),
        ({"lam": 1.5}, "lam"),
    ]

    def make_student(self, tmp_path):
        from retrikt_students.tiny_transformer import TransformerStudent, TransformerStudentOptions

        return TransformerStudent(
            TransformerStudentOptions(
                vocab_size=200, d_model=32, layers=1, heads=2, ff=64, epochs=3, batch_size=16
            )
        )


class TestBiLSTMStudent(StudentContract):
    lam_option = "lam"
    invalid_options = [({"hidden": 0}, "hidden"), ({"pooling": "sum"}, "pooling")]

    def make_student(self, tmp_path):
        from retrikt_students.bilstm import BiLSTMStudent, BiLSTMStudentOptions

        return BiLSTMStudent(
            BiLSTMStudentOptions(vocab_size=200, d_model=32, hidden=32, epochs=3, batch_size=16)
        )


class TestEncoderStudent(StudentContract):
    lam_option = "lam"
    invalid_options = [({"layers": -1}, "layers"), ({"head_lr": -1.0}, "head_lr")]

    def make_student(self, tmp_path):
        from retrikt_students.encoder import EncoderStudent, EncoderStudentOptions

        # One of MiniLM's six layers keeps the contract quick.
        return EncoderStudent(EncoderStudentOptions(layers=1, epochs=2, batch_size=16))
