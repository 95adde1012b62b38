"""``bgbench download in9 [DEST]``: fetch, verify and unpack a released dataset (calls bgbench.download)."""

from __future__ import annotations

from pathlib import Path

import typer

from bgbench.cli import common
from bgbench.cli.common import bounded, emit

DATASETS = ("in9",)


def register(app: typer.Typer) -> None:
    @app.command("download")
    @common.output_options(".bgbench-download.json")
    def download(
        name: str = typer.Argument(..., help="Dataset to download: in9 (the released IN-9 test variants)."),
        dest: Path = typer.Argument(Path("in9"), help="Folder to unpack into (must not exist or be empty)."),
        url: str = typer.Option(None, "--url", help="Download from this URL instead of the recorded one."),
        sha256: str = typer.Option(None, "--sha256", help="Expected SHA-256 of the archive (64 hex digits)."),
        no_verify: bool = typer.Option(False, "--no-verify",
                                       help="Unpack even when no checksum is known (the archive's sha256 is "
                                            "printed and recorded as unverified)."),
        keep_archive: bool = typer.Option(False, "--keep-archive", help="Keep the downloaded archive."),
        timeout: float = typer.Option(60.0, "--timeout", callback=bounded("--timeout", 0),
                                      help="Network timeout in seconds."),
        *, output: common.Output,
    ) -> None:
        """Download a released dataset archive, verify its SHA-256, and unpack it safely into DEST."""
        from bgbench.download import download_in9
        from bgbench.errors import BgbenchError

        if name not in DATASETS:
            raise BgbenchError(f"unknown dataset {name!r} (available: {', '.join(DATASETS)})")
        record = download_in9(dest, url=url, sha256=sha256, verify=not no_verify, keep_archive=keep_archive,
                              timeout=timeout, quiet=output.quiet)
        emit(record, output)
