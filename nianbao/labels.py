"""The one source of truth for the label set (SPEC §2).

Everything that names a label -- the Label Studio config, the BIO tag list the model
is trained on, the HTML view, the rule pre-annotator -- reads it from here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LabelInfo:
    name: str
    colour: str
    hotkey: str
    description: str


LABELS: tuple[LabelInfo, ...] = (
    LabelInfo("COUNT", "#e4572e", "c", "a quantity (numeral with unit) or a zero statement"),
    LabelInfo("CATEGORY", "#17bebb", "t", "the shortest noun phrase naming what is counted"),
    LabelInfo("OUTCOME", "#ffc914", "o", "how counted items were disposed of or ended"),
)

LABEL_NAMES: tuple[str, ...] = tuple(label.name for label in LABELS)
COLOURS: dict[str, str] = {label.name: label.colour for label in LABELS}


@dataclass(frozen=True)
class RelationType:
    name: str
    source: str
    target: str


# COUNT -> CATEGORY ("what it counts") and COUNT -> OUTCOME ("how it ended").
RELATIONS: tuple[RelationType, ...] = (
    RelationType("counts", "COUNT", "CATEGORY"),
    RelationType("outcome", "COUNT", "OUTCOME"),
)
RELATION_NAMES: tuple[str, ...] = tuple(r.name for r in RELATIONS)


def relation_for(source_label: str, target_label: str) -> str | None:
    """The relation type that links a span of `source_label` to one of `target_label`."""
    for rel in RELATIONS:
        if rel.source == source_label and rel.target == target_label:
            return rel.name
    return None


# Character-level BIO tags; "O" is always id 0.
BIO_TAGS: tuple[str, ...] = ("O",) + tuple(f"{p}-{name}" for name in LABEL_NAMES for p in ("B", "I"))
label2id: dict[str, int] = {tag: i for i, tag in enumerate(BIO_TAGS)}
id2label: dict[int, str] = {i: tag for tag, i in label2id.items()}


def check_label(name: str, where: str = "") -> str:
    """Return `name` if it is a known label, else raise naming where it came from."""
    if name not in LABEL_NAMES:
        place = f" in {where}" if where else ""
        raise ValueError(f"unknown label {name!r}{place}; known labels: {', '.join(LABEL_NAMES)}")
    return name
