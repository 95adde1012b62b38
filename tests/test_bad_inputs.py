"""The bad-input corpus: every bad file gives its own one-line drop reason, never an exception."""

from __future__ import annotations

import numpy as np
import pytest

from badcorpus import DOG_LEAF, make_bad_corpus, rgb_image
from bgbench.errors import BgbenchError
from bgbench.sources import load_image, load_sample, read_source, reasons


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    return root, make_bad_corpus(root)


def test_read_source_never_raises_and_keeps_every_file(corpus):
    root, expected = corpus
    result = read_source(root)
    assert sorted(s.stem for s in result.samples) == sorted(expected)
    assert all(s.label == 0 for s in result.samples)


def test_each_bad_input_gives_its_reason(corpus):
    root, expected = corpus
    result = read_source(root)
    got = {}
    for sample in result.samples:
        loaded = load_sample(sample)  # must not raise, whatever the file holds
        got[sample.stem] = None if loaded.problem is None else reasons.reason_category(loaded.problem)
        if loaded.problem:
            assert "\n" not in loaded.problem
        else:
            assert loaded.image.dtype == np.uint8 and loaded.image.shape == (64, 80, 3)
    assert got == expected


def test_reader_detects_annotation_problems_without_pixels(corpus):
    root, expected = corpus
    by_stem = {s.stem: s for s in read_source(root).samples}
    pixel_free = {
        reasons.NO_ANNOTATION,
        reasons.MALFORMED_XML,
        reasons.UNKNOWN_CLASS,
        reasons.CLASS_MISMATCH,
        reasons.EMPTY_BOX,
    }
    for stem, category in expected.items():
        if category in pixel_free:
            assert reasons.reason_category(by_stem[stem].problem) == category, stem
    summary = read_source(root).summary()
    assert summary["problems"][reasons.NO_ANNOTATION] == 2 and summary["usable"] < summary["samples"]


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("corrupt_header", "not an image file"),
        ("corrupt_huffman", "corrupt image data"),
        ("truncated", "truncated image file"),
        ("empty", "empty file"),
        ("not_an_image", "not an image file"),
    ],
)
def test_load_image_errors_name_the_file_and_the_problem(corpus, name, fragment):
    root, _ = corpus
    path = root / DOG_LEAF / f"{DOG_LEAF}_{name}.JPEG"
    with pytest.raises(BgbenchError) as err:
        load_image(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and fragment in message and "\n" not in message


def test_odd_encodings_decode_to_rgb(corpus):
    root, _ = corpus
    for name, suffix in (("cmyk", ".JPEG"), ("grey", ".JPEG"), ("rgba", ".png"), ("grey16", ".png")):
        image = load_image(root / DOG_LEAF / f"{DOG_LEAF}_{name}{suffix}")
        assert image.shape == (64, 80, 3) and image.dtype == np.uint8 and image.std() > 10, name
    grey16 = load_image(root / DOG_LEAF / f"{DOG_LEAF}_grey16.png")
    # the corpus stores the picture's red channel v as v * 257: it must come back as v exactly
    np.testing.assert_array_equal(grey16[:, :, 0], rgb_image(80, 64, seed=5)[:, :, 0])


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(BgbenchError, match="file not found"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(BgbenchError, match="not a file"):
        load_image(tmp_path)
