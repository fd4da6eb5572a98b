"""How task inputs are written as LM text for the generator, and read back."""

from __future__ import annotations

from retrikt_core.api import Example


def field_titles(field_names: tuple[str, ...]) -> list[str]:
    return [name.replace("_", " ").capitalize() for name in field_names]


def cue(field_names: tuple[str, ...]) -> str:
    """The text after the soft prompt that every sample starts from."""
    return f"{field_titles(field_names)[0]}:"


def write(example: Example, field_names: tuple[str, ...]) -> str:
    """``"Premise: ...\\nHypothesis: ...\\n"`` (one line per field), after the cue."""
    titles = field_titles(field_names)
    text = f" {example.text.strip()}\n"
    if example.text_pair is not None and len(titles) > 1:
        text += f"{titles[1]}: {example.text_pair.strip()}\n"
    return text


def read(generated: str, field_names: tuple[str, ...]) -> tuple[str, str | None] | None:
    """Parse a sample (text after the cue) back into fields; None if off-format."""
    titles = field_titles(field_names)
    lines = [line.strip() for line in generated.strip().split("\n")]
    if not lines or not lines[0]:
        return None
    if len(titles) == 1:
        return lines[0], None
    marker = f"{titles[1]}:"
    for line in lines[1:]:
        if line.startswith(marker):
            pair = line[len(marker) :].strip()
            return (lines[0], pair) if pair else None
    return None
