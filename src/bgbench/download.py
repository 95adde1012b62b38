"""Download, verify and safely unpack a dataset archive (the released IN-9 test data by default).

``download_in9(dest)`` fetches the URL recorded in ``bgbench/resources/in9_release.json`` (or ``url``)
over HTTP(S) with urllib, resumes a partial download with a Range request, checks the archive's
SHA-256, and unpacks it into ``dest`` atomically.

Checksum policy: nothing is unpacked unless the archive's SHA-256 matches a known value, either
the one recorded in the package data or one given with ``sha256=``. When neither exists (the
package records the release's checksum as unknown because it could not be fetched when written),
the download is refused before any network access unless ``verify=False`` (CLI ``--no-verify``);
then the archive's SHA-256 is printed and recorded in ``dest/.bgbench-download.json`` with
``"verified": false`` so a result can always say which bytes it came from.

Files: the archive is downloaded to ``<dest parent>/.<dest name>.download/<archive>.part`` and
renamed to ``<archive>`` when complete; an interrupted run resumes from the ``.part`` file (a
server that ignores Range restarts it cleanly). A complete archive whose checksum does not match is
kept (so a wrong ``--sha256`` costs no re-download) and reported. Unpacking goes to a temporary
folder beside ``dest`` that is renamed onto ``dest`` only when everything is extracted; an archive
holding a single top-level folder is unwrapped (its contents become ``dest``).

Archive safety (checked for every member before anything is written): no absolute paths, no
``..`` components, no links whose target leaves the archive root once the links earlier in the
archive are followed (``a -> .`` then ``a/b -> ../..`` is refused), no member whose folder is such
a link, no hard links to names outside it, no device files, FIFOs or other special members; tar
extraction additionally uses Python's ``data`` filter (what it refuses is reported the same way).
Any violation is a one-line :class:`~bgbench.errors.BgbenchError` and nothing is
written outside the temporary folder (which is removed).
"""

from __future__ import annotations

import http.client
import json
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from contextlib import suppress
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from bgbench.errors import BgbenchError
from bgbench.hashing import sha256_file
from bgbench.progress import progress_enabled
from bgbench.results.base import DocumentResult, doc_value, parent_folder

CHUNK = 1 << 20
MARKER = ".bgbench-download.json"
DOWNLOAD_SCHEMA = "bgbench.download/1"

__all__ = ["download_archive", "download_in9", "fetch", "release_info", "safe_unpack", "sha256_file"]


def release_info(name: str = "in9") -> dict[str, Any]:
    """The release record (url, sha256 or null, ...) from ``bgbench/resources/<name>_release.json``."""
    text = resources.files("bgbench.resources").joinpath(f"{name}_release.json").read_text(encoding="utf-8")
    return json.loads(text)


def _normalise_sha(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise BgbenchError(f"--sha256 must be 64 hex digits, got {value!r}")
    return value


def _bar(total: int | None, initial: int, desc: str, quiet: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
                dynamic_ncols=True, leave=False, disable=not progress_enabled(quiet))


def _total_from_content_range(value: str | None) -> int | None:
    """Total size from ``bytes a-b/total`` or ``bytes */total`` (None when unknown)."""
    if not value or "/" not in value:
        return None
    total = value.rsplit("/", 1)[1].strip()
    return int(total) if total.isdigit() else None


def fetch(url: str, part: Path, *, timeout: float = 60.0, quiet: bool = False) -> Path:
    """Download ``url`` into ``part`` (appending from its current size with a Range request) and
    return ``part``. A server answering 200 to a Range request restarts the file; 416 with a total
    equal to the part's size means it is already complete."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise BgbenchError(f"only http(s) URLs can be downloaded, got {url!r}")
    part.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "bgbench-download"}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (scheme checked above)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            total = _total_from_content_range(exc.headers.get("Content-Range"))
            if total == have:
                return part  # already complete
            part.unlink()  # the partial file does not fit the remote file: start again
            return fetch(url, part, timeout=timeout, quiet=quiet)
        raise BgbenchError(f"download failed: HTTP {exc.code} {exc.reason}", url) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise BgbenchError(f"cannot download ({reason})", url) from exc
    with response:
        status = getattr(response, "status", 200)
        if have and status == 206:
            content_range = response.headers.get("Content-Range", "")
            if not content_range.startswith(f"bytes {have}-"):
                raise BgbenchError(f"server resumed at the wrong offset ({content_range!r}, expected {have})",
                                   url)
            mode, start = "ab", have
            total = _total_from_content_range(content_range)
        else:  # fresh download, or the server ignored the Range header: restart cleanly
            mode, start = "wb", 0
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        bar = _bar(total, start, f"download {part.name.removesuffix('.part')}", quiet)
        written = start
        try:
            with open(part, mode) as handle:
                while block := response.read(CHUNK):
                    handle.write(block)
                    written += len(block)
                    bar.update(len(block))
                handle.flush()
                os.fsync(handle.fileno())
        except (OSError, http.client.HTTPException) as exc:
            reason = exc.__class__.__name__ if isinstance(exc, http.client.IncompleteRead) else str(exc)
            raise BgbenchError(f"download interrupted ({reason}); run again to resume", url) from exc
        finally:
            bar.close()
    if total is not None and written != total:
        raise BgbenchError(f"download incomplete ({written} of {total} bytes); run again to resume", url)
    return part


def download_archive(url: str, folder: Path, *, sha256: str | None, timeout: float = 60.0,
                     quiet: bool = False) -> tuple[Path, str]:
    """Fetch ``url`` into ``folder/<name>`` (resuming ``<name>.part``); returns (path, its sha256).

    When ``sha256`` is given and the file does not match, raises ``BgbenchError`` (the file is kept).
    """
    name = posixpath.basename(urllib.parse.urlsplit(url).path) or "download"
    final = folder / name
    if not final.exists():
        part = fetch(url, folder / f"{name}.part", timeout=timeout, quiet=quiet)
        os.replace(part, final)
    digest = sha256_file(final)
    if sha256 is not None and digest != sha256:
        raise BgbenchError(f"sha256 mismatch: expected {sha256}, got {digest}; the archive is kept there "
                           f"(delete it to download again)", final)
    return final, digest


def _check_member_name(name: str, archive: Path) -> str:
    """The member's normalised relative POSIX path; raises for absolute or escaping names."""
    raw = name.replace("\\", "/")
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise BgbenchError(f"unsafe archive member {name!r}: absolute path", archive)
    if ".." in raw.split("/"):
        raise BgbenchError(f"unsafe archive member {name!r}: '..' in path", archive)
    norm = posixpath.normpath(raw)
    if norm in ("", "."):
        return ""
    return norm


MAX_LINK_HOPS = 40
"""Most symbolic links followed while resolving one archive path (a longer chain is refused as a loop)."""


def _resolve_inside(path: str, links: dict[str, str]) -> str | None:
    """Where the archive-relative POSIX ``path`` lands once the symbolic links recorded so far
    (``links``: member name -> target) are followed, as a path relative to the archive root; None
    when it leaves the root (through ``..``, an absolute target or a loop)."""
    todo = path.split("/")
    out: list[str] = []
    hops = 0
    while todo:
        part = todo.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not out:
                return None
            out.pop()
            continue
        link = links.get("/".join([*out, part]))
        if link is None:
            out.append(part)
            continue
        hops += 1
        if hops > MAX_LINK_HOPS or link.startswith("/"):
            return None
        todo = link.split("/") + todo  # relative to the link's folder, which is ``out``
    return "/".join(out)


def _link_target_inside(member_name: str, target: str, archive: Path, kind: str,
                        links: dict[str, str]) -> None:
    """Refuse a link whose target, after the links earlier in the archive, leaves the archive root."""
    target = target.replace("\\", "/")
    if target.startswith("/") or (len(target) > 1 and target[1] == ":"):
        raise BgbenchError(f"unsafe archive member {member_name!r}: {kind} to absolute path {target!r}",
                           archive)
    if kind == "symlink":
        folder = _resolve_inside(posixpath.dirname(member_name), links)
        resolved = None if folder is None else _resolve_inside(posixpath.join(folder, target), links)
    else:  # a hard link names another member from the archive root
        resolved = _resolve_inside(target, links)
    if resolved is None:
        raise BgbenchError(f"unsafe archive member {member_name!r}: {kind} points outside the archive "
                           f"({target!r}, after the links before it)", archive)


def _check_tar(tar: tarfile.TarFile, archive: Path) -> None:
    links: dict[str, str] = {}
    for member in tar.getmembers():
        name = _check_member_name(member.name, archive)
        if name and _resolve_inside(posixpath.dirname(name), links) is None:
            raise BgbenchError(f"unsafe archive member {member.name!r}: its folder is a link leading "
                               "outside the archive (or a loop of links)", archive)
        if member.issym():
            _link_target_inside(name, member.linkname, archive, "symlink", links)
            links[name] = member.linkname.replace("\\", "/")
        elif member.islnk():
            target = member.linkname.replace("\\", "/")
            if target.startswith("/") or ".." in target.split("/"):
                raise BgbenchError(f"unsafe archive member {member.name!r}: hard link to {member.linkname!r} "
                                   "outside the archive", archive)
            _link_target_inside(name, member.linkname, archive, "hard link", links)
        elif not (member.isfile() or member.isdir()):
            raise BgbenchError(f"unsafe archive member {member.name!r}: device, FIFO or special file",
                               archive)


def _check_zip(zf: zipfile.ZipFile, archive: Path) -> None:
    for info in zf.infolist():
        _check_member_name(info.filename, archive)
        kind = stat.S_IFMT(info.external_attr >> 16)  # 0 when the zip records no Unix file type
        if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
            raise BgbenchError(f"unsafe archive member {info.filename!r}: link or special file in a zip",
                               archive)


def _extract(archive: Path, into: Path) -> None:
    """Validate every member, then extract ``archive`` (tar, tar.gz/bz2/xz or zip) into ``into``."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                _check_zip(zf, archive)
                bad = zf.testzip()
                if bad is not None:
                    raise BgbenchError(f"archive is corrupt (CRC error in {bad!r})", archive)
                zf.extractall(into)
            return
        with tarfile.open(archive, "r:*") as tar:
            _check_tar(tar, archive)
            tar.extractall(into, filter="data")
    except BgbenchError:
        raise
    except tarfile.FilterError as exc:  # Python's own filter saw what the checks above missed
        member = getattr(exc, "tarinfo", None)
        name = getattr(member, "name", "?")
        raise BgbenchError(f"unsafe archive member {name!r}: {str(exc).splitlines()[0]}", archive) from exc
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise BgbenchError(f"archive is corrupt or not a tar/zip file ({reason})", archive) from exc


def safe_unpack(archive: str | Path, dest: str | Path, *, marker: dict[str, Any] | None = None) -> Path:
    """Unpack ``archive`` into ``dest`` (which must not exist or be empty), atomically.

    Extracts into a temporary folder beside ``dest``; a single top-level folder is unwrapped;
    ``marker`` (if given) is written as ``dest/.bgbench-download.json``; then the folder is
    renamed onto ``dest``. Raises ``BgbenchError`` for unsafe or corrupt archives (nothing written).
    """
    archive, dest = Path(archive), Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BgbenchError("destination exists and is not an empty folder", dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.unpack-", dir=dest.parent))
    try:
        _extract(archive, tmp)
        entries = list(tmp.iterdir())
        single = len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink()
        root = entries[0] if single else tmp
        if not any(root.iterdir()):
            raise BgbenchError("archive holds no files", archive)
        if marker is not None:
            DownloadResult(marker).write(root)
        if dest.exists():
            dest.rmdir()
        os.replace(root, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def download_in9(dest: str | Path = "in9", *, url: str | None = None, sha256: str | None = None,
                 verify: bool = True, keep_archive: bool = False, timeout: float = 60.0,
                 quiet: bool = False) -> DownloadResult:
    """Download and unpack the released IN-9 test data into ``dest`` (see module docstring).

    Returns a :class:`DownloadResult`: the record written to ``dest/.bgbench-download.json`` plus
    ``"path"``. A ``dest`` that already holds a completed download of the same archive is left alone
    (``"reused": True``).
    """
    info = release_info("in9")
    url = url or info["url"]
    expected = _normalise_sha(sha256) or (None if url != info["url"] else _normalise_sha(info.get("sha256")))
    if expected is None and verify:
        raise BgbenchError(
            "no sha256 is known for this archive (bgbench does not record one for the IN-9 release "
            "because it could not be fetched when packaged): pass --sha256 HEX from a source you trust, "
            "or --no-verify to unpack it unverified (its sha256 is then printed and recorded)")
    dest = Path(dest)
    marker_path = dest / MARKER
    if marker_path.exists():
        with suppress(OSError, json.JSONDecodeError):
            done = json.loads(marker_path.read_text())
            if done.get("url") == url and (expected is None or done.get("sha256") == expected):
                return DownloadResult({**done, "path": str(dest), "reused": True})
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BgbenchError("destination exists and is not an empty folder (choose another DEST)", dest)
    folder = dest.parent / f".{dest.name}.download"
    archive, digest = download_archive(url, folder, sha256=expected, timeout=timeout, quiet=quiet)
    record = {"schema": DOWNLOAD_SCHEMA, "url": url, "sha256": digest, "verified": expected is not None,
              "archive": archive.name, "size_bytes": archive.stat().st_size,
              "downloaded": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    safe_unpack(archive, dest, marker=record)
    if not keep_archive:
        archive.unlink()
        with suppress(OSError):
            folder.rmdir()
    return DownloadResult({**record, "path": str(dest), "reused": False})


class DownloadResult(DocumentResult):
    """What :func:`download_in9` returns and ``dest/.bgbench-download.json`` holds (schema
    ``bgbench.download/1``, docs/results.md).

    Document: ``schema``, ``url``, ``sha256`` (hex of the archive), ``verified`` (bool: checked
    against a known checksum), ``archive`` (file name), ``size_bytes`` (int), ``downloaded`` (UTC ISO
    time), ``path`` (str, the unpacked folder); from :func:`download_in9` also ``reused`` (bool: an
    earlier download was found and left alone).
    """

    SCHEMA = DOWNLOAD_SCHEMA
    FILENAME = MARKER
    RUN_KEYS = ("path", "reused")

    def __init__(self, doc: dict[str, Any], path: Path | None = None) -> None:
        if not isinstance(doc.get("url"), str):
            raise BgbenchError("not a bgbench download record (no 'url')", path)
        where = doc.get("path") or parent_folder(path)
        super().__init__({"schema": DOWNLOAD_SCHEMA, **doc, "path": where}, path)

    path = doc_value("path", path=True, doc="The unpacked dataset folder.")

    url = doc_value("url")

    sha256 = doc_value("sha256", default=None)

    verified = doc_value("verified", bool, None)

    reused = doc_value("reused", default=None,
                       doc="True when this call found the download already done (None when read back from "
                       "the file).")

    def summary_lines(self) -> list[str]:
        state = "verified" if self.verified else "UNVERIFIED (no known checksum)"
        size = self.doc.get("size_bytes")
        lines = [f"download {self.path}: {self.doc.get('archive')} "
                 f"({'?' if size is None else f'{size / 2**20:.1f} MiB'}), {state}",
                 f"sha256 {self.sha256}", f"from {self.url}, downloaded {self.doc.get('downloaded')}"]
        if self.reused:
            lines.append("already present: nothing downloaded this time")
        return lines

    def table(self) -> tuple[list[str], list[list[str]]]:
        keys = ("path", "url", "archive", "size_bytes", "sha256", "verified", "downloaded")
        return ["field", "value"], [[key, str(self.doc.get(key))] for key in keys]
