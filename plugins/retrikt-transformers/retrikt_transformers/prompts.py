"""Verbalizer prompt templates: how a task's input is put to a causal LM."""

from __future__ import annotations

from retrikt_core.api import Example, Task

# Known tasks get a checked wording; others get a generic one built from the task.
# Word order matters to small LMs: SmolLM2-135M answers "negative" to nearly
# every review after "(negative or positive)", but reads 83% of the first 64
# SST-2 dev reviews right after "(positive or negative)".
TEMPLATES = {
    "sst2": "Review: {text}\nSentiment (positive or negative):",
    "rte": "{text}\nQuestion: {text_pair} Yes or no?\nAnswer:",
    "cb": "{text}\nQuestion: {text_pair} Yes, no, or maybe?\nAnswer:",
}
GENERIC_SINGLE = "Text: {text}\n{description} ({choices}):"
GENERIC_PAIR = "{text}\nQuestion: {text_pair} ({choices})\nAnswer:"


def default_template(task: Task) -> str:
    if task.name in TEMPLATES:
        return TEMPLATES[task.name]
    return GENERIC_PAIR if task.is_pair else GENERIC_SINGLE


def render(template: str, example: Example, verbalizers: list[str], description: str) -> str:
    return template.format(
        text=example.text,
        text_pair=example.text_pair or "",
        choices=" or ".join(verbalizers),
        description=(description or "Label").capitalize(),
    )
