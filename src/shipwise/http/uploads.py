"""Uploads streamed to disk: ``POST /api/v1/imports`` never holds a file in memory."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from fastapi import Request

from shipwise.errors import InputError
from shipwise.ingest.sources import CSV_EXT, JSON_EXT, PARQUET_EXT

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
SUFFIXES = JSON_EXT | CSV_EXT | PARQUET_EXT


def upload_name(name: str) -> str:
    """A file name the import can read by its suffix (no folders: a name, not a path)."""
    if not _NAME.match(name) or ".." in name:
        raise InputError(f"not a file name: {name!r}",
                         hint="name=<type or anything>.jsonl|.ndjson|.json|.csv|.tsv|.parquet")
    if Path(name).suffix.lower() not in SUFFIXES:
        raise InputError(f"{name}: the import reads {', '.join(sorted(SUFFIXES))} files",
                         hint="name the upload after its format, e.g. deployments.csv")
    return name


@asynccontextmanager
async def received(request: Request, name: str, limit: int) -> AsyncIterator[Path]:
    """The request's body written, as it arrives, to a private temporary folder as ``name``;
    removed afterwards. A body over ``limit`` bytes is refused (and nothing of it kept)."""
    folder = Path(tempfile.mkdtemp(prefix="shipwise-upload-"))  # 0700
    try:
        path = folder / upload_name(name)
        size = 0
        async with await anyio.open_file(path, "wb") as fh:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise InputError(f"the upload is larger than {limit:,} bytes",
                                     hint="split it, or raise server.max_upload_bytes")
                await fh.write(chunk)
        if size == 0:
            raise InputError("the upload is empty", hint="send the file as the request body")
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)
