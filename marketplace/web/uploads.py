"""Uploads a form keeps when another of its fields was wrong, so that nobody has to choose the files again.

A form that fails re-renders with what was typed; a browser cannot re-fill a file input. The files that passed
their checks are therefore kept on the server under a random token bound to the person who sent them, listed on
the re-rendered form as hidden fields, and handed to the operation with the next submission. Kept files expire
after a day.
"""

from __future__ import annotations

import io
import json
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from flask import request
from werkzeug.datastructures import FileStorage

from marketplace.claims.evidence import CheckedFile, EvidenceStore, check_files
from marketplace.core.auth import Actor
from marketplace.core.errors import ValidationFailed

_TOKEN_BYTES = 16
_LIFETIME_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class KeptFile:
    """A file kept for the next submission of a form."""

    token: str
    filename: str
    size: int


class KeptUpload:
    """A kept file, readable like an upload (``filename`` and ``stream``)."""

    def __init__(self, filename: str, data: bytes) -> None:
        self.filename = filename
        self.stream = io.BytesIO(data)


class UploadSet:
    """The files of one submission: new ones from the request and those kept from an earlier try."""

    def __init__(
        self, store: EvidenceStore, actor: Actor, *, field: str = "evidence", kept_field: str = "kept"
    ) -> None:
        self.store = store
        self.owner = actor.ref
        self.root = Path(store.root) / "kept"
        self.new: list[FileStorage] = [upload for upload in request.files.getlist(field) if upload.filename]
        self.kept: list[KeptFile] = []
        self._kept_data: list[KeptUpload] = []
        for token in request.form.getlist(kept_field)[:20]:
            loaded = self._load(token)
            if loaded is not None:
                self.kept.append(loaded[0])
                self._kept_data.append(loaded[1])

    def uploads(self) -> list[KeptUpload | FileStorage]:
        """Everything to hand to the operation: the kept files first, then the new ones."""
        return [*self._kept_data, *self.new]

    def keep(self) -> tuple[list[KeptFile], list[str]]:
        """Keep the new files that pass their checks; returns every kept file and the problems of the others."""
        problems: list[str] = []
        accepted: list[CheckedFile] = []
        for upload in self.new:
            upload.stream.seek(0)
            try:
                accepted.extend(check_files([upload], max_bytes=self.store.max_bytes))
            except ValidationFailed as exc:
                problems.extend(str(message) for message in exc.errors.get("evidence", [exc.detail]))
        self._expire_old()
        kept = list(self.kept)
        for file in accepted:
            kept.append(self._save(file))
        return kept, problems

    def discard(self) -> None:
        """Forget the kept files once the submission succeeded."""
        for file in self.kept:
            shutil.rmtree(self.root / file.token, ignore_errors=True)

    def _save(self, file: CheckedFile) -> KeptFile:
        token = secrets.token_hex(_TOKEN_BYTES)
        folder = self.root / token
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "data").write_bytes(file.data)
        meta = {"owner": self.owner, "filename": file.filename, "size": file.size, "saved": time.time()}
        (folder / "meta.json").write_text(json.dumps(meta, ensure_ascii=False))
        return KeptFile(token, file.filename, file.size)

    def _load(self, token: str) -> tuple[KeptFile, KeptUpload] | None:
        if len(token) != 2 * _TOKEN_BYTES or not all(char in "0123456789abcdef" for char in token):
            return None
        folder = self.root / token
        try:
            meta = json.loads((folder / "meta.json").read_text())
            data = (folder / "data").read_bytes()
        except (OSError, ValueError):
            return None
        # Another person's token, or an expired one, is as good as none.
        if meta.get("owner") != self.owner or time.time() - meta.get("saved", 0) > _LIFETIME_SECONDS:
            return None
        return KeptFile(token, meta["filename"], meta["size"]), KeptUpload(meta["filename"], data)

    def _expire_old(self) -> None:
        if not self.root.is_dir():
            return
        cutoff = time.time() - _LIFETIME_SECONDS
        for folder in self.root.iterdir():
            try:
                if folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                continue
