"""bgbench.textio: every way a user's text file can be bad is one BgbenchError naming the file."""

from __future__ import annotations

import pytest

from bgbench.errors import BgbenchError
from bgbench.textio import read_json, read_text, read_toml, require


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe{}", "not UTF-8 text (bad byte at offset 0)"),
        (b"[" * 100_000, "nested too deeply"),
        (b'{"a": NaN}', "NaN is not a JSON number"),
        (b'{"a": -Infinity}', "-Infinity is not a JSON number"),
        (b'{"a": ' + b"9" * 5000 + b"}", "not valid JSON"),
        (b'{"a": 1', "not valid JSON (line 1, column 8"),
    ],
)
def test_bad_json_is_one_error_naming_the_file(tmp_path, data, message):
    path = tmp_path / "result.json"
    path.write_bytes(data)
    with pytest.raises(BgbenchError) as err:
        read_json(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_good_json_and_bom(tmp_path):
    path = tmp_path / "a.json"
    path.write_bytes(b'\xef\xbb\xbf{"a": [1, 2.5, "x"]}')
    assert read_json(path) == {"a": [1, 2.5, "x"]}


def test_missing_and_non_regular_files(tmp_path):
    with pytest.raises(BgbenchError, match="no.json: file not found"):
        read_text(tmp_path / "no.json")
    with pytest.raises(BgbenchError, match="is not a regular file"):
        read_text(tmp_path)


def test_toml(tmp_path):
    path = tmp_path / "sweep.toml"
    path.write_text("x = 1\n[y]\nz = 'a'\n")
    assert read_toml(path) == {"x": 1, "y": {"z": "a"}}
    path.write_text("x = [" * 3000)
    with pytest.raises(BgbenchError, match="sweep.toml: TOML file is"):
        read_toml(path)
    path.write_bytes(b"x = '\xff'")
    with pytest.raises(BgbenchError, match="not UTF-8"):
        read_toml(path)


def test_require_checks_key_and_type(tmp_path):
    src = tmp_path / "r.json"
    assert require({"a": 1}, "a", int, src) == 1
    assert require({"a": 1.5}, "a", (int, float), src) == 1.5
    with pytest.raises(BgbenchError, match=r"r.json: a should be str, not int"):
        require({"a": 1}, "a", str, src)
    with pytest.raises(BgbenchError, match=r"missing key models\[2\].b"):
        require({"a": 1}, "b", str, src, "models[2]")
    with pytest.raises(BgbenchError, match="should be int, not bool"):
        require({"a": True}, "a", int, src)
    with pytest.raises(BgbenchError, match="document should be an object, not list"):
        require([1], "a", int, src)
