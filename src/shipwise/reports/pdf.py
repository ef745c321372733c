"""Printing self-contained HTML to PDF with headless Chromium (Debian's ``chromium``).

Chromium runs in its own process group with the flags that keep it offline and quiet, a profile in
a temporary folder, and a time limit; only its own group is killed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from shipwise.errors import InputError, ShipwiseError

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
PDF_TIMEOUT_S = 180


def find_chromium() -> str | None:
    """Headless Chromium: ``SHIPWISE_CHROMIUM``, else the first of the usual names on PATH."""
    explicit = os.environ.get("SHIPWISE_CHROMIUM")
    if explicit:
        return explicit if (shutil.which(explicit) or Path(explicit).is_file()) else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def html_to_pdf(html: str, out: Path) -> Path:
    """Print self-contained HTML to an A4 PDF at ``out``."""
    if find_chromium() is None:
        raise ShipwiseError(
            "no PDF engine found",
            hint="install headless Chromium (Debian: apt-get install -y chromium fonts-liberation), "
                 "or write FILE.html instead",
        )
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="shipwise-pdf-") as tmp:
        tmp_pdf = Path(tmp) / "report.pdf"
        _chromium_pdf(html, Path(tmp), tmp_pdf)
        if not tmp_pdf.is_file() or tmp_pdf.stat().st_size == 0:
            raise ShipwiseError("Chromium produced no PDF", hint="write FILE.html instead")
        try:
            shutil.move(str(tmp_pdf), out)
        except OSError as exc:
            raise InputError(f"cannot write {out}: {exc.strerror}",
                             hint="choose a writable output location") from exc
    return out


def _chromium_pdf(html: str, tmp: Path, pdf: Path) -> None:
    exe = find_chromium()
    if exe is None:  # pragma: no cover - pdf_engine checked
        raise ShipwiseError("Chromium not found", hint="apt-get install -y chromium")
    page = tmp / "report.html"
    page.write_text(html, encoding="utf-8")
    profile = tmp / "profile"
    profile.mkdir()
    cmd = [
        exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--no-default-browser-check", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-extensions",
        "--disable-dev-shm-usage", "--disable-breakpad", "--disable-crash-reporter",
        "--mute-audio", "--hide-scrollbars", f"--user-data-dir={profile}",
        "--no-pdf-header-footer", "--print-to-pdf-no-header",
        f"--print-to-pdf={pdf}", page.as_uri(),
    ]
    env = {**os.environ, "HOME": str(tmp)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=PDF_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise ShipwiseError(f"Chromium did not print the PDF within {PDF_TIMEOUT_S} s",
                            hint="write FILE.html instead") from None
    finally:
        # Helpers Chromium leaves behind belong to its own session: end them, and only them.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    if proc.returncode != 0 or not pdf.is_file():
        tail = " | ".join(err.decode(errors="replace").strip().splitlines()[-3:])
        raise ShipwiseError(f"Chromium could not print the PDF (exit {proc.returncode}): {tail}",
                            hint="write FILE.html instead")
