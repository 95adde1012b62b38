"""The typed result of a report: :class:`ReportResult` (``<name>_files/report.json``, schema
bgbench.report/1; docs/results.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from bgbench.results.base import DocumentResult, doc_value

REPORT_SCHEMA = "bgbench.report/1"


class ReportResult(DocumentResult):
    """What ``bgbench report`` wrote: ``html`` (the self-contained page), ``markdown``, ``files``
    (the folder of PNG/SVG figures), the ``sections`` shown and the ``inputs`` read."""

    SCHEMA: ClassVar[str] = REPORT_SCHEMA
    FILENAME: ClassVar[str] = "report.json"

    html = doc_value("html", path=True)
    markdown = doc_value("markdown", path=True)
    files = doc_value("files", path=True)
    sections = doc_value("sections", list, [])
    figures = doc_value("figures", list, [])
    inputs = doc_value("inputs", list, [])
    html_bytes = doc_value("html_bytes", int, 0)

    def summary_lines(self) -> list[str]:
        return [
            f"report {self.html}: {len(self.sections)} sections ({', '.join(self.sections)}), "
            f"{sum(f.endswith('.png') for f in self.figures)} figures, {self.html_bytes / 1024:.0f} KiB, "
            f"from {len(self.inputs)} results",
            f"  markdown {self.markdown} with figures in {self.files}",
        ]

    def table(self) -> tuple[list[str], list[list[str]]]:
        rows: list[list[Any]] = [[i["kind"], i.get("path") or "-"] for i in self.inputs]
        return ["kind", "input"], [[str(a), str(b)] for a, b in rows]


def files_folder(html: Path) -> Path:
    """``report.html`` -> ``report_files`` (beside it)."""
    return html.with_name(f"{html.stem}_files")
