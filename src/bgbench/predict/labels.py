"""The label-space policy: which classes predictions are scored in, and which label map gets there.

Pure functions of the model's output count, the data's class folders and an optional mapping file;
eval, the challenge and every later command that scores predictions use these, so a tree missing a
class folder or a custom class set is read the same way everywhere.
"""

from __future__ import annotations

from pathlib import Path

from bgbench.classes import IN9_FOLDERS, NUM_IMAGENET_CLASSES
from bgbench.errors import BgbenchError
from bgbench.layout import folder_index


def folder_indices(folders: list[str]) -> list[int] | None:
    """Each folder's class index from its ``NN_`` prefix (:func:`bgbench.layout.folder_index`; every
    folder ``bgbench build`` writes has one, so a class that lost every image keeps its index by its
    absence), or None when some folder has no such prefix or two folders share an index (then
    folders are numbered in sorted order instead)."""
    indices = [folder_index(name) for name in folders]
    if not folders or None in indices:
        return None
    return indices if len(set(indices)) == len(indices) else None  # type: ignore[return-value]


def _mapping_file_size(class_map: str | Path) -> int:
    """1 + the largest target index a mapping file names (0 when unreadable: the label map reports it)."""
    from bgbench.labelmap import read_mapping_file

    try:
        return max((target + 1 for target in read_mapping_file(class_map).values()), default=0)
    except BgbenchError:
        return 0


def target_classes(num_outputs: int, folders: list[str], class_map: str | Path | None = None) -> list[str]:
    """The label space predictions are scored in, as class names (list index = class index).

    - A tree holding only some of IN-9's nine folders (e.g. a small build where every image of a
      class was dropped) is scored in the full IN-9 space when the model has 1000 or 9 outputs and
      no mapping file is given, so labels keep their IN-9 meaning.
    - Folders named ``NN_name`` (the released layout) keep their index ``NN`` even when a class
      folder is missing: the space is max index + 1, or the mapping file's size (1 + its largest
      target) when larger; a missing class gets its IN-9 folder name when every present folder is an
      IN-9 folder, else ``NN_absent``. Exception: without a mapping file, a model with exactly one
      output per present folder is read in folder order, as before.
    - Otherwise the data's class folders in sorted order.
    """
    subset = set(folders) < set(IN9_FOLDERS)
    if class_map is None and subset and num_outputs in (NUM_IMAGENET_CLASSES, len(IN9_FOLDERS)):
        return list(IN9_FOLDERS)
    indices = folder_indices(folders)
    if indices is None:
        return list(folders)
    size = max(indices) + 1
    if class_map is not None:
        size = max(size, _mapping_file_size(class_map))
    elif num_outputs == len(folders) != size:
        return list(folders)
    in9 = set(folders) <= set(IN9_FOLDERS)
    names = [IN9_FOLDERS[i] if in9 and i < len(IN9_FOLDERS) else f"{i:02d}_absent" for i in range(size)]
    for index, name in zip(indices, folders, strict=True):
        names[index] = name
    return names


def select_label_map(num_outputs: int, class_names: list[str], rule: str = "released",
                     class_map: str | Path | None = None, *, where: str | Path | None = None):
    """The :class:`~bgbench.labelmap.LabelMap` from a model's outputs to the dataset's classes.

    A mapping file (``class_map``) maps outputs to the dataset's N class folders; without one, a
    1000-class ImageNet model needs IN-9's nine folders (``00_dog`` ... ``08_fish``), and a model
    with one output per class folder is read directly. Anything else raises ``BgbenchError`` naming
    ``where`` (the data tree) and the folders beyond IN-9's nine, if any.
    """
    from bgbench.labelmap import LabelMap, create_label_map

    n_classes = len(class_names)
    if class_map is not None:
        return create_label_map(num_outputs, rule, mapping_file=class_map, num_targets=n_classes)
    if num_outputs == NUM_IMAGENET_CLASSES and tuple(class_names) == IN9_FOLDERS:
        return create_label_map(num_outputs, rule)
    if num_outputs == n_classes:
        return LabelMap(rule="direct", num_outputs=num_outputs, num_targets=n_classes)
    extra = [name for name in class_names if name not in IN9_FOLDERS]
    extras = ""
    if extra and len(extra) < n_classes:
        shown = ", ".join(extra[:4]) + (", ..." if len(extra) > 4 else "")
        extras = f" (class folder(s) beyond IN-9's nine: {shown})"
    if num_outputs == NUM_IMAGENET_CLASSES:
        shown = ", ".join(class_names[:4]) + (", ..." if n_classes > 4 else "")
        raise BgbenchError(
            f"a 1000-class ImageNet model needs IN-9's class folders ({', '.join(IN9_FOLDERS)}), but "
            f"the data has {n_classes} classes ({shown}){extras}; pass a mapping file with --class-map",
            where)
    raise BgbenchError(
        f"model has {num_outputs} outputs, which fits no label map for the data's {n_classes} "
        f"classes{extras}: expected {NUM_IMAGENET_CLASSES} (ImageNet-1k, with IN-9 folders) or "
        f"{n_classes}, or pass --class-map FILE", where)
