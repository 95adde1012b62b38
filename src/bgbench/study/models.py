"""The study's models: the 12 real-data models of the zoo and the three built-ins."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StudyModel:
    """One model of the study: its table name, spec for create_classifier, kind and published top-1 (%)."""

    name: str
    spec: str
    kind: str  # builtin | tflite | onnx
    published_top1: float | None
    approximate: bool = False


# ----------------------------------------------------------------------------- models
def study_models(realdata: Path) -> list[StudyModel]:
    """The 12 real-data models (zoo order, by published top-1 within the zoo table) and the 3 built-ins."""
    from bgbench.models.zoo import builtin_entries, realdata_entries

    out = []
    for e in realdata_entries(realdata):
        kind = e.spec.split(":", 1)[0]
        out.append(StudyModel(e.name, e.spec, kind, e.published_top1, "(approximate)" in e.notes))
    for e in builtin_entries():
        out.append(StudyModel(e.name, e.spec, "builtin", e.published_top1))
    return out


def select_models(all_models: list[StudyModel], names: list[str] | None) -> list[StudyModel]:
    """The models named (in the order given); a name the study does not know is a BgbenchError."""
    from bgbench.errors import BgbenchError

    if not names:
        return list(all_models)
    by_name = {m.name: m for m in all_models}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise BgbenchError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(by_name)}")
    return [by_name[n] for n in dict.fromkeys(names)]
