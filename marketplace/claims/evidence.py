"""Evidence files on claims: checked by their content, stored content-addressed, listed on the claim's timeline."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Protocol

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace.claims import queries
from marketplace.claims.models import OPEN_STATUSES, Claim, ClaimType, Evidence
from marketplace.claims.operations import add_timeline, file_claim
from marketplace.core.audit import record_audit
from marketplace.core.auth import Actor
from marketplace.core.errors import NotFound, ValidationFailed
from marketplace.orders.models import Order

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAX_FILES_PER_CLAIM = 10
FIELD = "evidence"
MAX_FILENAME = 255

# What a file is, by its first bytes: the name and the declared type are the uploader's word, not proof.
_SIGNATURES: tuple[tuple[bytes, int, str, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", ".png"),
    (b"GIF87a", 0, "image/gif", ".gif"),
    (b"GIF89a", 0, "image/gif", ".gif"),
    (b"%PDF-", 0, "application/pdf", ".pdf"),
)
# Every content type a stored file can be served as (WebP is told by its RIFF header, in ``sniff``).
CONTENT_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf")
_STORAGE_KEY = re.compile(r"^[0-9]+/[0-9a-f]{64}\.(jpg|png|gif|webp|pdf)$")


class Upload(Protocol):
    """An uploaded file as the web layer hands it over (werkzeug's FileStorage is one)."""

    filename: str | None
    stream: IO[bytes]


@dataclass(frozen=True, slots=True)
class CheckedFile:
    """A file that passed the checks, read into memory (at most the size limit)."""

    filename: str
    content_type: str
    extension: str
    data: bytes
    sha256: str

    @property
    def size(self) -> int:
        """Its size in bytes."""
        return len(self.data)


def sniff(data: bytes) -> tuple[str, str] | None:
    """The content type and file extension that ``data`` starts like, if it is an accepted kind."""
    for magic, offset, content_type, extension in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return content_type, extension
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", ".webp"
    return None


def clean_filename(name: str | None) -> str:
    """The name to show for an uploaded file: no path, no control characters, at most 255 characters."""
    name = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(char for char in name if char.isprintable()).strip()
    if len(name) > MAX_FILENAME:
        stem, dot, extension = name.rpartition(".")
        keep = f"{dot}{extension}" if dot and len(extension) <= 10 else ""
        name = (stem if keep else name)[: MAX_FILENAME - len(keep)] + keep
    return name or "evidence"


class EvidenceStore:
    """Files under a directory, each at ``<claim id>/<sha256><ext>``: the same content is stored once."""

    def __init__(self, root: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    def path(self, key: str) -> Path:
        """Where the file with ``key`` lives; refuses anything that is not a key this store made."""
        if not _STORAGE_KEY.fullmatch(key):
            raise ValueError(f"not an evidence storage key: {key!r}")
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        """Write ``data`` under ``key`` atomically (a reader never sees half a file)."""
        path = self.path(key)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def open(self, key: str) -> IO[bytes]:
        """The stored file, for reading."""
        return self.path(key).open("rb")


def evidence_store() -> EvidenceStore:
    """The store the app is configured with (``EVIDENCE_DIR``, ``EVIDENCE_MAX_BYTES``)."""
    config = current_app.config
    root = config.get("EVIDENCE_DIR") or Path(current_app.instance_path) / "evidence"
    return EvidenceStore(root, max_bytes=int(config.get("EVIDENCE_MAX_BYTES") or DEFAULT_MAX_BYTES))


def check_files(files: Iterable[Upload], *, max_bytes: int) -> list[CheckedFile]:
    """Read and check every file; if any is refused, raise naming each refused file and why."""
    checked: list[CheckedFile] = []
    problems: list[object] = []
    for upload in files:
        filename = clean_filename(upload.filename)
        data = upload.stream.read(max_bytes + 1)
        kind = sniff(data)
        if not data:
            problems.append(_l("%(filename)s: the file is empty.", filename=filename))
        elif len(data) > max_bytes:
            problems.append(
                _l("%(filename)s: the file is larger than %(limit)s.", filename=filename, limit=_size(max_bytes))
            )
        elif kind is None:
            problems.append(
                _l("%(filename)s: only JPEG, PNG, WebP, GIF and PDF files are accepted.", filename=filename)
            )
        else:
            content_type, extension = kind
            digest = hashlib.sha256(data).hexdigest()
            checked.append(CheckedFile(filename, content_type, extension, data, digest))
    if problems:
        raise ValidationFailed(problems[0], field=FIELD, errors={FIELD: problems})
    return checked


def attach_evidence(
    session: Session, claim: Claim, files: Sequence[Upload], *, actor: Actor, now: datetime, store: EvidenceStore
) -> list[Evidence]:
    """Attach files to an open claim, all or none; a file the claim already has is not added twice."""
    claim.require_status(*OPEN_STATUSES)
    checked = check_files(files, max_bytes=store.max_bytes)
    if not checked:
        raise ValidationFailed(_l("Attach at least one file."), field=FIELD)
    return _attach(session, claim, checked, actor=actor, now=now, store=store)


def file_claim_with_evidence(
    session: Session,
    order: Order,
    claim_type: ClaimType | str,
    *,
    description: str,
    files: Sequence[Upload],
    actor: Actor,
    now: datetime,
    store: EvidenceStore,
) -> Claim:
    """File a claim with its evidence; a refused file refuses the filing, before anything is stored."""
    checked = check_files(files, max_bytes=store.max_bytes)
    claim = file_claim(session, order, claim_type, description=description, actor=actor, now=now)
    if checked:
        _attach(session, claim, checked, actor=actor, now=now, store=store)
    return claim


def open_evidence(store: EvidenceStore, evidence: Evidence) -> IO[bytes]:
    """The stored bytes of ``evidence``."""
    try:
        return store.open(evidence.storage_key)
    except (FileNotFoundError, ValueError):
        current_app.logger.error("evidence %s is missing from the store at %s", evidence.id, evidence.storage_key)
        raise NotFound(_l("The file is no longer available.")) from None


def _attach(
    session: Session,
    claim: Claim,
    checked: list[CheckedFile],
    *,
    actor: Actor,
    now: datetime,
    store: EvidenceStore,
) -> list[Evidence]:
    existing = queries.claim_evidence(session, claim.id)
    known = {evidence.sha256: evidence for evidence in existing}
    new: dict[str, CheckedFile] = {}
    for file in checked:
        if file.sha256 not in known:
            new.setdefault(file.sha256, file)
    if len(existing) + len(new) > MAX_FILES_PER_CLAIM:
        raise ValidationFailed(
            _l(
                "A claim holds at most %(limit)d files; this one has %(count)d already.",
                limit=MAX_FILES_PER_CLAIM,
                count=len(existing),
            ),
            field=FIELD,
        )
    added: list[Evidence] = []
    # Files first, rows after: a failed transaction leaves at most an unreferenced file, never a row without one.
    for file in new.values():
        key = f"{claim.id}/{file.sha256}{file.extension}"
        store.put(key, file.data)
        evidence = Evidence(
            claim_id=claim.id,
            filename=file.filename,
            content_type=file.content_type,
            size=file.size,
            sha256=file.sha256,
            storage_key=key,
            uploaded_at=now,
            uploaded_by=actor.ref,
        )
        session.add(evidence)
        added.append(evidence)
    if not added:
        return [known[file.sha256] for file in checked]
    session.flush()
    summary = [{"id": e.id, "filename": e.filename, "content_type": e.content_type, "size": e.size} for e in added]
    add_timeline(session, claim, "evidence", actor=actor, at=now, data={"files": summary})
    record_audit(
        session,
        actor=actor,
        action="claim.evidence",
        entity_type="claim",
        entity_id=claim.id,
        before=None,
        after={"evidence": [{**item, "sha256": e.sha256} for item, e in zip(summary, added, strict=True)]},
        now=now,
    )
    session.flush()
    return added


def _size(count: int) -> str:
    if count >= 1024 * 1024 and count % (1024 * 1024) == 0:
        return f"{count // (1024 * 1024)} MB"
    if count >= 1024:
        return f"{count // 1024} KB"
    return f"{count} B"
