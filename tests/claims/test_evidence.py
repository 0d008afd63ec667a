"""Evidence files: checked by their content, stored once under the evidence directory, shown only to the parties."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from marketplace.claims.evidence import EvidenceStore, clean_filename, sniff
from marketplace.claims.models import ClaimEvent, Evidence
from marketplace.config import load_config
from marketplace.core.models import AuditRecord
from tests.claims.test_api import PROBLEM, Caller, Cast, audits, claims_count, state_of

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(48)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(48)
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(48)
GIF = b"GIF89a" + bytes(48)
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(48)
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + bytes(48)


def files(*named: tuple[bytes, str]) -> dict[str, Any]:
    """A multipart body with these (content, filename) pairs under ``evidence``."""
    return {
        "data": {"evidence": [(io.BytesIO(content), filename) for content, filename in named]},
        "content_type": "multipart/form-data",
    }


def stored_files(root: Path) -> list[Path]:
    """Every file the store holds."""
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def evidence_rows(session: Session) -> int:
    """How many evidence rows there are."""
    return session.scalar(sa.select(sa.func.count()).select_from(Evidence)) or 0


@pytest.fixture
def evidence_dir(tmp_path: Path) -> Path:
    """Where this test's evidence is stored."""
    return tmp_path / "evidence"


@pytest.fixture
def app(app: Flask, evidence_dir: Path) -> Flask:
    """The app, keeping evidence files under the test's own directory."""
    app.config["EVIDENCE_DIR"] = str(evidence_dir)
    return app


@pytest.fixture
def cast(app: Flask, make_user: Any, make_api_key: Any, make_order: Any) -> Cast:
    """An order, its buyer and seller, staff and outsiders."""
    return Cast(app, make_user, make_api_key, make_order())


def _file_with(cast: Cast, *named: tuple[bytes, str], claim_type: str = "damaged") -> Any:
    return cast.buyer.post(
        "/api/v1/claims",
        data={
            "order_id": cast.order.external_id,
            "type": claim_type,
            "description": "사진 첨부합니다",
            **files(*named)["data"],
        },
        content_type="multipart/form-data",
    )


# Recognising files by their content.


@pytest.mark.parametrize(
    ("content", "content_type", "extension"),
    [
        (JPEG, "image/jpeg", ".jpg"),
        (PNG, "image/png", ".png"),
        (WEBP, "image/webp", ".webp"),
        (GIF, "image/gif", ".gif"),
        (b"GIF87a" + bytes(8), "image/gif", ".gif"),
        (PDF, "application/pdf", ".pdf"),
    ],
)
def test_accepted_kinds_are_recognised_by_their_first_bytes(content: bytes, content_type: str, extension: str):
    """JPEG, PNG, WebP, GIF and PDF are told apart by their signatures."""
    assert sniff(content) == (content_type, extension)


@pytest.mark.parametrize(
    "content",
    [
        EXE,
        b"\x7fELF\x02\x01\x01" + bytes(9),
        b"PK\x03\x04" + bytes(12),
        b"<html><script>alert(1)</script>",
        b'<svg xmlns="http://www.w3.org/2000/svg"/>',
        b"RIFF\x24\x00\x00\x00WAVEfmt ",
        b"",
    ],
)
def test_other_content_is_not_recognised(content: bytes) -> None:
    """Executables, archives, HTML, SVG (scriptable) and other RIFF files are not evidence."""
    assert sniff(content) is None


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("파손 사진.jpg", "파손 사진.jpg"),
        ("C:\\Users\\kim\\Desktop\\photo.png", "photo.png"),
        ("../../etc/passwd", "passwd"),
        ("bad\x00name\n.pdf", "badname.pdf"),
        ("", "evidence"),
        (None, "evidence"),
        ("a" * 300 + ".jpeg", "a" * 250 + ".jpeg"),
    ],
)
def test_filenames_are_kept_readable_without_paths_or_control_characters(given: str | None, kept: str) -> None:
    """The name shown and offered on download: Korean kept, directories and control characters dropped."""
    assert clean_filename(given) == kept


@pytest.mark.parametrize("key", ["../secret", "1/../../x.png", "1/abc.png", "/etc/passwd", "1/" + "0" * 64 + ".exe"])
def test_store_refuses_keys_it_did_not_make(tmp_path: Path, key: str) -> None:
    """A storage key is ``<claim id>/<sha256><ext>`` and nothing else: no way out of the directory."""
    with pytest.raises(ValueError, match="not an evidence storage key"):
        EvidenceStore(tmp_path).path(key)


def test_defaults_are_ten_megabytes_under_the_instance_folder(tmp_path: Path, monkeypatch: Any) -> None:
    """Without settings, files go to <instance>/evidence and may be 10 MB each."""
    monkeypatch.delenv("EVIDENCE_DIR", raising=False)
    monkeypatch.delenv("EVIDENCE_MAX_BYTES", raising=False)
    config = load_config(tmp_path, {"SECRET_KEY": "x"})
    assert config["EVIDENCE_DIR"] == str(tmp_path / "evidence")
    assert config["EVIDENCE_MAX_BYTES"] == 10 * 1024 * 1024


# Uploading through the API.


def test_buyer_files_a_claim_with_a_png(cast: Cast, session: Session, evidence_dir: Path) -> None:
    """The photo is stored content-addressed, listed on the claim, audited and on the timeline."""
    response = _file_with(cast, (PNG, "파손 사진.png"))
    assert response.status_code == 201, response.json
    claim = response.json
    [evidence] = claim["evidence"]
    assert evidence | {"id": 0} == {
        "id": 0,
        "filename": "파손 사진.png",
        "content_type": "image/png",
        "size": len(PNG),
        "uploaded_at": "2026-09-23T15:00:00+09:00",
        "uploaded_by": "buyer",
    }
    digest = hashlib.sha256(PNG).hexdigest()
    assert stored_files(evidence_dir) == [evidence_dir / str(claim["id"]) / f"{digest}.png"]
    assert (evidence_dir / str(claim["id"]) / f"{digest}.png").read_bytes() == PNG
    assert [entry["kind"] for entry in claim["timeline"]] == ["opened", "evidence"]
    assert claim["timeline"][1]["data"]["files"][0]["filename"] == "파손 사진.png"
    record = session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "claim.evidence")).one()
    assert record.entity_id == str(claim["id"]) and record.after["evidence"][0]["sha256"] == digest


def test_content_decides_the_type_not_the_name(cast: Cast) -> None:
    """A JPEG named .png is stored and served as a JPEG."""
    response = _file_with(cast, (JPEG, "photo.png"))
    assert response.status_code == 201
    assert response.json["evidence"][0]["content_type"] == "image/jpeg"


def test_executable_renamed_png_is_refused_and_nothing_is_stored(
    cast: Cast, session: Session, evidence_dir: Path
) -> None:
    """An .exe called photo.png is caught by its first bytes: 422 naming the file, no claim, no file, no audit."""
    cast.buyer  # noqa: B018 - logged in before counting
    before = (claims_count(session), evidence_rows(session), audits(session))
    response = _file_with(cast, (PNG, "ok.png"), (EXE, "photo.png"))
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert response.json["field"] == "evidence"
    assert response.json["detail"] == "photo.png: JPEG, PNG, WebP, GIF, PDF 파일만 올릴 수 있습니다."
    assert response.json["errors"] == {"evidence": [response.json["detail"]]}
    assert (claims_count(session), evidence_rows(session), audits(session)) == before
    assert stored_files(evidence_dir) == []


def test_oversize_file_is_refused_naming_the_limit(cast: Cast, session: Session, evidence_dir: Path) -> None:
    """Above EVIDENCE_MAX_BYTES a file is refused; exactly at it, accepted."""
    cast.app.config["EVIDENCE_MAX_BYTES"] = 1024
    claim_id = cast.file()["id"]
    buyer = cast.buyer
    before = state_of(session, claim_id)
    too_big = PNG + bytes(1025 - len(PNG))
    response = buyer.post(f"/api/v1/claims/{claim_id}/evidence", **files((too_big, "big.png")))
    assert response.status_code == 422 and response.json["field"] == "evidence"
    assert response.json["detail"] == "big.png: 파일이 1 KB보다 큽니다."
    assert state_of(session, claim_id) == before and stored_files(evidence_dir) == []
    just_fits = PNG + bytes(1024 - len(PNG))
    assert buyer.post(f"/api/v1/claims/{claim_id}/evidence", **files((just_fits, "ok.png"))).status_code == 201


def test_empty_file_is_refused(cast: Cast) -> None:
    """A zero-byte upload is named as empty."""
    claim_id = cast.file()["id"]
    response = cast.buyer.post(f"/api/v1/claims/{claim_id}/evidence", **files((b"", "blank.png")))
    assert response.status_code == 422 and response.json["detail"] == "blank.png: 빈 파일입니다."


def test_a_claim_holds_at_most_ten_files(cast: Cast, session: Session) -> None:
    """The eleventh file is refused; the ten stay."""
    claim_id = cast.file()["id"]
    ten = [(PNG + bytes([n]), f"{n}.png") for n in range(10)]
    assert cast.buyer.post(f"/api/v1/claims/{claim_id}/evidence", **files(*ten)).status_code == 201
    response = cast.buyer.post(f"/api/v1/claims/{claim_id}/evidence", **files((PNG + b"more", "11.png")))
    assert response.status_code == 422 and response.json["field"] == "evidence"
    assert "10개" in response.json["detail"]
    assert evidence_rows(session) == 10


def test_the_same_file_sent_again_is_kept_once(cast: Cast, session: Session, evidence_dir: Path) -> None:
    """A retried upload does not duplicate the evidence, its timeline entry or its audit record."""
    claim_id = cast.file()["id"]
    first = cast.buyer.post(f"/api/v1/claims/{claim_id}/evidence", **files((PNG, "a.png")))
    before = state_of(session, claim_id)
    again = cast.buyer.post(f"/api/v1/claims/{claim_id}/evidence", **files((PNG, "a (1).png")))
    assert again.status_code == 201 and again.json["evidence"] == first.json["evidence"]
    assert state_of(session, claim_id) == before
    assert len(stored_files(evidence_dir)) == 1


def test_seller_answers_with_a_pdf(cast: Cast) -> None:
    """The seller adds its own evidence (a shipping receipt); the timeline says the seller did."""
    claim_id = cast.file()["id"]
    response = cast.seller.post(f"/api/v1/claims/{claim_id}/evidence", **files((PDF, "송장.pdf")))
    assert response.status_code == 201
    assert response.json["evidence"][0]["uploaded_by"] == "seller"
    assert response.json["timeline"][-1]["by"] == "seller" and response.json["timeline"][-1]["kind"] == "evidence"


def test_settled_claim_takes_no_more_evidence(cast: Cast, session: Session) -> None:
    """After the claim is withdrawn, an upload is a 409 naming the status."""
    claim_id = cast.file()["id"]
    cast.buyer.post(f"/api/v1/claims/{claim_id}/withdraw", {})
    response = cast.buyer.post(f"/api/v1/claims/{claim_id}/evidence", **files((PNG, "late.png")))
    assert response.status_code == 409 and response.json["current_status"] == "withdrawn"
    assert evidence_rows(session) == 0


@pytest.mark.parametrize(
    ("parts", "field"),
    [
        ({"evidence": PNG, "status": "resolved"}, "status"),
        ({"evidence": PNG, "photo": PNG}, "photo"),
        ({}, "evidence"),
    ],
)
def test_upload_refuses_other_parts_and_needs_a_file(cast: Cast, session: Session, parts: dict, field: str) -> None:
    """Only ``evidence`` parts are taken; anything else is named, and nothing is stored."""
    claim_id = cast.file()["id"]
    buyer = cast.buyer
    data = {
        name: (io.BytesIO(value), f"{name}.png") if isinstance(value, bytes) else value for name, value in parts.items()
    }
    response = buyer.post(f"/api/v1/claims/{claim_id}/evidence", data=data, content_type="multipart/form-data")
    assert response.status_code == 422 and response.json["field"] == field
    assert evidence_rows(session) == 0


def test_filing_form_refuses_fields_a_client_may_not_set(cast: Cast, session: Session) -> None:
    """The multipart filing is held to the same schema as JSON: a status field is a 422 naming it."""
    response = cast.buyer.post(
        "/api/v1/claims",
        data={"order_id": cast.order.external_id, "type": "damaged", "description": "x", "status": "resolved"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and response.json["field"] == "status"
    assert claims_count(session) == 0


def test_evidence_cannot_be_sent_inside_json(cast: Cast, session: Session) -> None:
    """Files travel as multipart/form-data; a JSON ``evidence`` value is refused, naming it."""
    response = cast.buyer.post(
        "/api/v1/claims",
        {"order_id": cast.order.external_id, "type": "damaged", "description": "x", "evidence": ["iVBORw0KGgo="]},
    )
    assert response.status_code == 422 and response.json["field"].startswith("evidence")
    assert claims_count(session) == 0


# Downloading.


def _download(caller: Caller, claim_id: int, evidence_id: int) -> Any:
    return caller.get(f"/api/v1/claims/{claim_id}/evidence/{evidence_id}")


def test_parties_and_staff_download_the_file_as_an_attachment(cast: Cast) -> None:
    """Buyer, seller, staff and a claims:read key get the bytes, as an attachment that no browser sniffs."""
    claim = _file_with(cast, (PNG, "파손 사진.png")).json
    evidence_id = claim["evidence"][0]["id"]
    for caller in (cast.buyer, cast.seller, cast.agent, cast.key("claims:read")):
        response = _download(caller, claim["id"], evidence_id)
        assert response.status_code == 200
        assert response.data == PNG
        assert response.mimetype == "image/png"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith("attachment;")
        assert "filename*=UTF-8''%ED%8C%8C%EC%86%90%20%EC%82%AC%EC%A7%84.png" in disposition
        assert "sandbox" in response.headers["Content-Security-Policy"]


def test_outsiders_cannot_download(cast: Cast) -> None:
    """Another seller's user or another buyer gets 404, the same as for a file that does not exist."""
    claim = _file_with(cast, (PNG, "a.png")).json
    evidence_id = claim["evidence"][0]["id"]
    missing = _download(cast.other_seller, claim["id"], evidence_id + 1000)
    for outsider in (cast.other_seller, cast.other_buyer):
        response = _download(outsider, claim["id"], evidence_id)
        assert response.status_code == 404 and response.json == missing.json


def test_a_file_is_reached_only_through_its_own_claim(cast: Cast, make_order: Any) -> None:
    """Another claim's evidence id under this claim's address is not found, even for staff."""
    claim = cast.file()
    other = _file_with(cast, (PNG, "a.png"), claim_type="wrong_item").json
    response = _download(cast.agent, claim["id"], other["evidence"][0]["id"])
    assert response.status_code == 404


def test_a_file_missing_from_the_store_is_404_not_500(cast: Cast, evidence_dir: Path) -> None:
    """If the stored file is gone, the download says so instead of failing."""
    claim = _file_with(cast, (PNG, "a.png")).json
    for path in stored_files(evidence_dir):
        path.unlink()
    response = _download(cast.buyer, claim["id"], claim["evidence"][0]["id"])
    assert response.status_code == 404 and response.json["detail"] == "파일을 더 이상 받을 수 없습니다."


def test_evidence_timeline_entry_is_seen_by_both_parties(cast: Cast, session: Session) -> None:
    """The evidence step is on the parties' timeline (not an internal note)."""
    claim = _file_with(cast, (GIF, "a.gif"), (WEBP, "b.webp")).json
    entry = session.scalars(sa.select(ClaimEvent).where(ClaimEvent.kind == "evidence")).one()
    assert entry.visibility.value == "parties"
    assert [item["content_type"] for item in entry.data["files"]] == ["image/gif", "image/webp"]
    assert [item["kind"] for item in cast.seller.get(f"/api/v1/claims/{claim['id']}").json["timeline"]] == [
        "opened",
        "evidence",
    ]


def test_request_over_the_upload_limit_is_413_and_stores_nothing(
    cast: Cast, session: Session, evidence_dir: Path
) -> None:
    """A request body beyond MAX_CONTENT_LENGTH is refused as a whole, as a problem."""
    claim_id = cast.file()["id"]
    cast.app.config["MAX_CONTENT_LENGTH"] = 2048
    response = cast.buyer.post(f"/api/v1/claims/{claim_id}/evidence", **files((PNG + bytes(4096), "big.png")))
    assert response.status_code == 413 and response.mimetype == PROBLEM
    assert evidence_rows(session) == 0 and stored_files(evidence_dir) == []
