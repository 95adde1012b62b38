"""Drop reasons: the one-line ``problem`` texts readers and checks attach to samples.

Every reason is ``"<category>: <detail>"`` (or just the category). The category is a fixed string
from this module so summaries can count reasons and tests can assert them; the detail names the
specific file, box or class. :func:`reason_category` recovers the category from a full reason.
"""

from __future__ import annotations

NO_ANNOTATION = "no bounding-box annotation"
MALFORMED_XML = "malformed annotation XML"
UNKNOWN_CLASS = "unknown class"
CLASS_MISMATCH = "annotation class differs from folder class"
SIZE_MISMATCH = "annotation size differs from image size"
BOX_OUTSIDE = "box outside the image"
EMPTY_BOX = "box has zero or negative area"
UNREADABLE_IMAGE = "unreadable image"
UNREADABLE_MASK = "unreadable mask"
MASK_SIZE_MISMATCH = "mask size differs from image size"
EMPTY_MASK = "mask is empty"
UNSAFE_NAME = "unsafe name"
OUTSIDE_SOURCE = "file outside the dataset folder"

CATEGORIES: tuple[str, ...] = (
    NO_ANNOTATION,
    MALFORMED_XML,
    UNKNOWN_CLASS,
    CLASS_MISMATCH,
    SIZE_MISMATCH,
    BOX_OUTSIDE,
    EMPTY_BOX,
    UNREADABLE_IMAGE,
    UNREADABLE_MASK,
    MASK_SIZE_MISMATCH,
    EMPTY_MASK,
    UNSAFE_NAME,
    OUTSIDE_SOURCE,
)


def reason(category: str, detail: str | None = None) -> str:
    """``"category: detail"`` on one line (``category`` alone when there is no detail)."""
    text = category if not detail else f"{category}: {detail}"
    return " ".join(text.split())


def reason_category(problem: str | None) -> str:
    """The category part of a drop reason, e.g. for summary counts; ``""`` when there is no reason.

    A reason starting with one of :data:`CATEGORIES` gives that category; any other reason (the
    build adds its own, such as ``several boxes: 3 boxes``) gives its text before the first ``": "``.
    """
    if not problem:
        return ""
    for category in CATEGORIES:
        if problem == category or problem.startswith(category + ":"):
            return category
    return problem.split(": ", 1)[0]
