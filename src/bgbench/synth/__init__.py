"""Synthetic scenes with known foregrounds and a controlled background shortcut.

``synthesize(out, per_class=20, split="train", seed=0, bg_correlation=0.9, size=256)`` writes an
ImageNet-style source tree (JPEG + ILSVRC XML + PNG instance mask per image) and returns a
:class:`SynthResult`; see :mod:`bgbench.synth.generate` for the layout and ``docs/synth.md`` for the
user guide.
"""

from bgbench.synth.generate import sample_stem, synthesize
from bgbench.synth.habitats import HABITATS
from bgbench.synth.objects import OBJECT_FAMILIES
from bgbench.synth.result import SynthResult
from bgbench.synth.scene import Scene, choose_habitat, render_scene, scene_rng

__all__ = [
    "HABITATS", "OBJECT_FAMILIES", "Scene", "SynthResult", "choose_habitat", "render_scene", "sample_stem",
    "scene_rng", "synthesize",
]
