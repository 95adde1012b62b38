"""``bgbench download``: a real HTTP server on 127.0.0.1 (with and without Range support) serving
archives made by the tests: happy path, resume, corrupt archive, wrong checksum, malicious members."""

from __future__ import annotations

import hashlib
import io
import json
import random
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bgbench.download import download_in9, release_info, safe_unpack
from bgbench.errors import BgbenchError


class Server:
    """Serves ``files[path] = bytes``; honours ``Range: bytes=N-`` unless ``ranges`` is False."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.ranges = True
        self.cut_after: int | None = None  # send only this many body bytes, then close the connection
        self.requests: list[dict[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server naming)
                server.requests.append({"path": self.path, "range": self.headers.get("Range")})
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404, "Not Found")
                    return
                start = 0
                header = self.headers.get("Range")
                if header and server.ranges and header.startswith("bytes=") and header.endswith("-"):
                    start = int(header[len("bytes="):-1])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut_after is not None:
                    self.wfile.write(body[: server.cut_after])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()
        srv.thread.join(timeout=5)


def make_tar(members: dict[str, bytes], top: str = "bg_challenge", compression: str = "gz",
             extra=None) -> bytes:
    """A tar archive of ``top/<name>`` files (plus raw TarInfo ``extra`` members)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=f"w:{compression}") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"{top}/{name}" if top else name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info, data in extra or []:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


FILES = {"original/val/00_dog/a.JPEG": b"dog-bytes" * 100, "only_fg/val/00_dog/a.JPEG": b"fg" * 5000,
         "fg_mask/val/00_dog/a.npy": b"mask" * 10}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tree_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_release_record_is_honest_about_the_checksum():
    info = release_info()
    assert info["url"].startswith("https://github.com/MadryLab/backgrounds_challenge/releases/download/")
    assert info["sha256"] is None and info["sha256_status"].startswith("unknown")


def test_happy_path_unwraps_single_top_folder_and_records_download(server, tmp_path):
    archive = make_tar(FILES)
    server.files["/data.tar.gz"] = archive
    dest = tmp_path / "in9"
    record = download_in9(dest, url=server.url("/data.tar.gz"), sha256=sha(archive), quiet=True)
    assert record.doc["verified"] and record.doc["sha256"] == sha(archive) and not record.doc["reused"]
    files = tree_files(dest)
    marker = json.loads(files.pop(".bgbench-download.json"))
    assert files == FILES and marker["url"] == server.url("/data.tar.gz") and marker["verified"] is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in9"]  # archive, .part and temp dirs gone
    again = download_in9(dest, url=server.url("/data.tar.gz"), sha256=sha(archive), quiet=True)
    assert again.doc["reused"] and len(server.requests) == 1


def test_no_checksum_is_refused_unless_no_verify(server, tmp_path):
    archive = make_tar(FILES, compression="")
    server.files["/plain.tar"] = archive
    with pytest.raises(BgbenchError, match="no sha256 is known .*--sha256 HEX.*--no-verify"):
        download_in9(tmp_path / "x", url=server.url("/plain.tar"), quiet=True)
    assert server.requests == [] and not (tmp_path / "x").exists()
    record = download_in9(tmp_path / "x", url=server.url("/plain.tar"), verify=False, quiet=True)
    assert record.doc["verified"] is False and record.doc["sha256"] == sha(archive)
    assert json.loads((tmp_path / "x" / ".bgbench-download.json").read_text())["verified"] is False


@pytest.mark.parametrize("ranges", [True, False], ids=["range", "no-range"])
def test_resume_from_partial_file(server, tmp_path, ranges):
    archive = make_tar({**FILES, "big.bin": bytes(range(256)) * 4000})
    server.files["/data.tar.gz"] = archive
    server.ranges = ranges
    part = tmp_path / ".in9.download" / "data.tar.gz.part"
    part.parent.mkdir()
    part.write_bytes(archive[: len(archive) // 3])
    download_in9(tmp_path / "in9", url=server.url("/data.tar.gz"), sha256=sha(archive), quiet=True)
    assert server.requests[0]["range"] == f"bytes={len(archive) // 3}-"
    assert tree_files(tmp_path / "in9")["big.bin"] == bytes(range(256)) * 4000
    assert not part.parent.exists()


def test_complete_part_file_is_not_downloaded_again(server, tmp_path):
    archive = make_tar(FILES)
    server.files["/data.tar.gz"] = archive
    part = tmp_path / ".in9.download" / "data.tar.gz.part"
    part.parent.mkdir()
    part.write_bytes(archive)
    download_in9(tmp_path / "in9", url=server.url("/data.tar.gz"), sha256=sha(archive), quiet=True)
    assert tree_files(tmp_path / "in9").keys() >= FILES.keys()


def test_wrong_checksum_keeps_archive_and_writes_nothing(server, tmp_path):
    archive = make_tar(FILES)
    server.files["/data.tar.gz"] = archive
    with pytest.raises(BgbenchError, match=f"sha256 mismatch: expected {'0' * 64}, got {sha(archive)}"):
        download_in9(tmp_path / "in9", url=server.url("/data.tar.gz"), sha256="0" * 64, quiet=True)
    assert not (tmp_path / "in9").exists()
    assert (tmp_path / ".in9.download" / "data.tar.gz").read_bytes() == archive
    download_in9(tmp_path / "in9", url=server.url("/data.tar.gz"), sha256=sha(archive), quiet=True)
    assert len(server.requests) == 1  # the kept archive was reused, not fetched again


def test_corrupt_archive_is_a_clear_error(server, tmp_path):
    good = make_tar({"f.bin": bytes(range(256)) * 2000}, top="")
    corrupt = good[:40] + bytes(b ^ 0xFF for b in good[40:400]) + good[400:]
    truncated = good[: len(good) // 2]
    for name, data in (("corrupt", corrupt), ("truncated", truncated), ("notarchive", b"hello" * 100)):
        server.files[f"/{name}.tar.gz"] = data
        with pytest.raises(BgbenchError, match="archive is corrupt or not a tar/zip file"):
            download_in9(tmp_path / name, url=server.url(f"/{name}.tar.gz"), sha256=sha(data), quiet=True)
        assert not (tmp_path / name).exists()
    assert not [p for p in tmp_path.iterdir() if ".unpack-" in p.name]


def test_http_error_is_one_line(server, tmp_path):
    with pytest.raises(BgbenchError, match="download failed: HTTP 404"):
        download_in9(tmp_path / "in9", url=server.url("/missing.tar.gz"), verify=False, quiet=True)
    with pytest.raises(BgbenchError, match="only http"):
        download_in9(tmp_path / "in9", url="ftp://example.org/x.tar", verify=False, quiet=True)


def _link(name: str, target: str, kind=tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def _device(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.CHRTYPE
    info.devmajor, info.devminor = 1, 3
    return info


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


MALICIOUS = {
    "dotdot": ([_file("../evil", b"x")], "'..' in path"),
    "nested-dotdot": ([_file("data/../../evil", b"x")], "'..' in path"),
    "absolute": ([_file("/tmp/evil-bgbench", b"x")], "absolute path"),
    "symlink-escape": ([(_link("data/link", "../../outside"), None)], "symlink points outside"),
    "symlink-absolute": ([(_link("data/link", "/etc/passwd"), None)], "symlink to absolute path"),
    "hardlink-escape": ([(_link("data/hard", "../outside", tarfile.LNKTYPE), None)],
                        "hard link to '../outside' outside the archive"),
    "device": ([(_device("data/null"), None)], "device, FIFO or special file"),
}


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_malicious_members_are_rejected_and_nothing_written(server, tmp_path, case):
    extra, message = MALICIOUS[case]
    archive = make_tar({"ok.txt": b"fine"}, top="data", extra=extra)
    server.files["/evil.tar.gz"] = archive
    workdir = tmp_path / "work"
    workdir.mkdir()
    with pytest.raises(BgbenchError, match=message):
        download_in9(workdir / "in9", url=server.url("/evil.tar.gz"), sha256=sha(archive), quiet=True)
    assert not (workdir / "in9").exists()
    assert sorted(p.name for p in workdir.iterdir()) == [".in9.download"]  # only the kept archive
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]
    assert not Path("/tmp/evil-bgbench").exists()


def test_zip_archives_and_zip_escape(tmp_path):
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        for name, data in FILES.items():
            zf.writestr(f"release/{name}", data)
    safe_unpack(good, tmp_path / "out")
    assert tree_files(tmp_path / "out") == FILES
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("ok.txt", b"fine")
        zf.writestr("../evil.txt", b"x")
    with pytest.raises(BgbenchError, match="'..' in path"):
        safe_unpack(evil, tmp_path / "out2")
    assert not (tmp_path / "out2").exists() and not (tmp_path / "evil.txt").exists()
    link = tmp_path / "link.zip"
    with zipfile.ZipFile(link, "w") as zf:
        info = zipfile.ZipInfo("data/link")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "../../outside")
    with pytest.raises(BgbenchError, match="link or special file"):
        safe_unpack(link, tmp_path / "out3")
    with pytest.raises(BgbenchError, match="destination exists and is not an empty folder"):
        safe_unpack(good, tmp_path / "out")


def test_cli_download(server, tmp_path, capsys):
    from bgbench.cli import main

    archive = make_tar(FILES)
    server.files["/data.tar.gz"] = archive
    rc = main(["download", "in9", str(tmp_path / "in9"), "--url", server.url("/data.tar.gz"),
               "--sha256", sha(archive).upper(), "-q"])
    assert rc == 0 and f"download {tmp_path / 'in9'}: " in capsys.readouterr().out
    assert main(["download", "in9", str(tmp_path / "other"), "--url", server.url("/data.tar.gz"), "-q"]) == 2
    assert "no sha256 is known" in capsys.readouterr().err
    assert main(["download", "imagenet", str(tmp_path / "x")]) == 2


def test_interrupted_transfer_is_resumed_on_the_next_run(server, tmp_path):
    noise = random.Random(0).randbytes(300_000)  # incompressible, so the archive is large
    archive = make_tar({**FILES, "big.bin": noise})
    server.files["/data.tar.gz"] = archive
    server.cut_after = len(archive) // 2
    with pytest.raises(BgbenchError, match="download (interrupted|incomplete) .*run again to resume"):
        download_in9(tmp_path / "in9", url=server.url("/data.tar.gz"), sha256=sha(archive), quiet=True)
    part = tmp_path / ".in9.download" / "data.tar.gz.part"
    assert part.stat().st_size == len(archive) // 2 and not (tmp_path / "in9").exists()
    server.cut_after = None
    download_in9(tmp_path / "in9", url=server.url("/data.tar.gz"), sha256=sha(archive), quiet=True)
    assert server.requests[-1]["range"] == f"bytes={len(archive) // 2}-"
    assert tree_files(tmp_path / "in9")["big.bin"] == noise
