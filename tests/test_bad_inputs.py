"""The bad-input corpus: every bad file gives its own one-line drop reason, never an exception."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from badcorpus import (
    DOG_LEAF,
    annotation_xml,
    make_bad_coco,
    make_bad_corpus,
    png_bomb,
    rgb_image,
    write_jpeg,
    write_xml,
)
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
    for name, suffix in (("cmyk", ".JPEG"), ("grey", ".JPEG"), ("rgba", ".png"), ("grey16", ".png"),
                         ("rgb16", ".png"), ("rgba16", ".png")):
        image = load_image(root / DOG_LEAF / f"{DOG_LEAF}_{name}{suffix}")
        assert image.shape == (64, 80, 3) and image.dtype == np.uint8 and image.std() > 10, name
    picture = rgb_image(80, 64, seed=5)
    grey16 = load_image(root / DOG_LEAF / f"{DOG_LEAF}_grey16.png")
    # the corpus stores the picture's red channel v as v * 257: it must come back as v exactly
    np.testing.assert_array_equal(grey16[:, :, 0], picture[:, :, 0])
    for name, colour_type in (("rgb16", 2), ("rgba16", 6)):  # PNG IHDR: bit depth 16, RGB / RGBA
        header = (root / DOG_LEAF / f"{DOG_LEAF}_{name}.png").read_bytes()[24:26]
        assert tuple(header) == (16, colour_type), name
    # 16-bit RGB: every channel back exactly, in RGB order (the file was written as BGR by OpenCV)
    np.testing.assert_array_equal(load_image(root / DOG_LEAF / f"{DOG_LEAF}_rgb16.png"), picture)
    # 16-bit RGBA at alpha 128/255: composited on black, rgb * 128 / 255 rounded
    expected = ((picture.astype(np.uint16) * 128 + 127) // 255).astype(np.uint8)
    np.testing.assert_array_equal(load_image(root / DOG_LEAF / f"{DOG_LEAF}_rgba16.png"), expected)


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(BgbenchError, match="file not found"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(BgbenchError, match="not a file"):
        load_image(tmp_path)


def test_coco_bad_annotations_give_their_reasons(tmp_path):
    expected = make_bad_coco(tmp_path)
    result = read_source(tmp_path / "instances_val.json", "coco", "val")
    got = {}
    for sample in result.samples:
        loaded = load_sample(sample)
        got[sample.stem] = None if loaded.problem is None else reasons.reason_category(loaded.problem)
        if loaded.problem is None:
            assert loaded.mask.sum() == 64 * 20
    assert got == expected


def test_voc_bad_files_are_skipped_or_dropped(tmp_path):
    for name in ("good", "noimage", "badxml", "noxml"):
        if name != "noimage":
            write_jpeg(tmp_path / "JPEGImages" / f"{name}.jpg", rgb_image(seed=1))
    write_xml(
        tmp_path / "Annotations" / "good.xml", annotation_xml("VOC", "g", (80, 64), [("cat", (1, 1, 20, 20))])
    )
    write_xml(
        tmp_path / "Annotations" / "noimage.xml",
        annotation_xml("VOC", "n", (80, 64), [("cat", (1, 1, 9, 9))]),
    )
    write_xml(tmp_path / "Annotations" / "badxml.xml", "<annotation><object>")
    (tmp_path / "ImageSets" / "Main").mkdir(parents=True)
    (tmp_path / "ImageSets" / "Main" / "val.txt").write_text("good\nnoimage\nbadxml\nnoxml\n")
    result = read_source(tmp_path, "voc", "val")
    assert [s.stem for s in result.samples] == ["good", "noimage"]
    assert sum(result.skipped.values()) == 2  # no class without a readable XML: counted, not raised
    problems = [load_sample(s).problem for s in result.samples]
    assert problems[0] is None and problems[1].startswith(f"{reasons.UNREADABLE_IMAGE}: file not found")


def test_folder_unreadable_mask(tmp_path):
    write_jpeg(tmp_path / "images" / "cat" / "a.jpg", rgb_image(seed=1))
    (tmp_path / "masks" / "cat").mkdir(parents=True)
    (tmp_path / "masks" / "cat" / "a.png").write_bytes(b"not a png")
    (sample,) = read_source(tmp_path, "folder").samples
    assert reasons.reason_category(sample.problem) == reasons.UNREADABLE_MASK


def test_decompression_bomb_header_is_refused_before_decoding(tmp_path):
    path = png_bomb(tmp_path / "bomb.png")
    with pytest.raises(BgbenchError, match="image too large") as err:
        load_image(path)
    assert str(err.value).startswith(f"{path}: ")


def test_palette_transparency_and_la_are_composited_on_black(tmp_path):
    grey = np.full((8, 8), 200, np.uint8)
    la = np.dstack([grey, np.tile(np.array([0, 255], np.uint8), (8, 4))])
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    out = load_image(tmp_path / "la.png")
    assert (out[:, 0::2] == 0).all() and (out[:, 1::2] == 200).all()
    pal = Image.fromarray(np.tile(np.array([0, 1], np.uint8), (8, 4)), "P")
    pal.putpalette([255, 0, 0, 0, 255, 0] + [0, 0, 0] * 254)
    pal.info["transparency"] = 0
    pal.save(tmp_path / "pal.png", transparency=0)
    out = load_image(tmp_path / "pal.png")
    assert (out[:, 0::2] == 0).all() and (out[:, 1::2] == [0, 255, 0]).all()


def test_truncated_images_stay_errors_even_if_pillow_was_told_otherwise(corpus, monkeypatch):
    from PIL import ImageFile

    root, _ = corpus
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(BgbenchError, match="LOAD_TRUNCATED_IMAGES"):
        load_image(root / DOG_LEAF / f"{DOG_LEAF}_truncated.JPEG")


def test_randomly_damaged_files_give_an_image_or_a_one_line_error(tmp_path):
    """Seeded byte flips and cuts of JPEG/PNG/WebP/TIFF files: load_image returns RGB or BgbenchError."""
    import io

    rng = np.random.default_rng(0)
    picture = rgb_image(seed=3)
    outcomes = set()
    for fmt in ("JPEG", "PNG", "WEBP", "TIFF"):
        buf = io.BytesIO()
        Image.fromarray(picture).save(buf, fmt)
        data = buf.getvalue()
        for i in range(40):
            damaged = bytearray(data)
            for _ in range(int(rng.integers(1, 6))):
                damaged[int(rng.integers(0, len(damaged)))] = int(rng.integers(0, 256))
            if i % 3 == 0:
                damaged = damaged[: int(rng.integers(1, len(damaged)))]
            path = tmp_path / f"{fmt}_{i}.img"
            path.write_bytes(bytes(damaged))
            try:
                image = load_image(path)
            except BgbenchError as err:
                assert str(err).startswith(f"{path}: ") and "\n" not in str(err)
                outcomes.add("error")
            else:
                assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
                outcomes.add("image")
    assert outcomes == {"error", "image"}
