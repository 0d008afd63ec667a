"""Bulk inserts: ids taken before a COPY, and JSON encoded once, store what a plain insert would."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.core.bulk import allocate_ids, canonical_json, insert_returning, insert_rows, insert_skipping
from marketplace.orders.models import OrderEvent
from marketplace.sellers.models import Seller
from tests.conftest import START


@pytest.mark.parametrize(
    "value",
    [None, "x", 12, 2.5, True, [], {"b": [1, {"z": None, "a": '한글 \\ "따옴표"\n'}], "a": -3, "": {}}],
)
def test_canonical_json_is_json_with_sorted_keys_and_no_blanks(value: object) -> None:
    """The text hashes are taken of: what json.dumps gives with sorted keys, compact separators and UTF-8 kept."""
    assert canonical_json(value) == json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _seller_row(pk: int | None, n: int) -> dict:
    row = {"external_id": f"S-BULK-{n}", "name": f"판매자 {n}", "contact_email": None, "language": "ko"}
    return {**({"id": pk} if pk is not None else {}), **row, "created_at": START}


@pytest.mark.parametrize("count", [3, 60], ids=["executemany", "copy"])
def test_allocated_ids_are_the_ones_stored_and_never_handed_out_again(session: Session, count: int) -> None:
    """Rows inserted with the ids taken for them keep them; the next row the database numbers gets a new one."""
    ids = allocate_ids(session, Seller.__table__, count)
    assert ids == sorted(set(ids)) and len(ids) == count
    insert_rows(session, Seller.__table__, [_seller_row(pk, n) for n, pk in enumerate(ids)])
    session.execute(sa.insert(Seller.__table__).values(_seller_row(None, count)))
    stored = dict(session.execute(sa.select(Seller.external_id, Seller.id)).tuples().all())
    assert [stored[f"S-BULK-{n}"] for n in range(count)] == ids
    assert stored[f"S-BULK-{count}"] > ids[-1]


@pytest.mark.parametrize("count", [3, 60], ids=["executemany", "copy"])
def test_encoded_json_is_stored_as_the_document(session: Session, count: int) -> None:
    """A document handed over already encoded reads back as the document (never as a JSON string), as others do."""
    documents = [{"b": [1, {"z": None, "a": '한글 \\ "따옴표"\n'}], "a": n} for n in range(count)]
    rows = [
        {
            "event_id": f"E-BULK-{n}",
            "type": "order.delivered",
            "order_external_id": "O-BULK",
            "occurred_at": START,
            "received_at": START,
            "payload": canonical_json(document) if n % 2 else document,
            "payload_hash": "0" * 64,
            "api_key_id": None,
        }
        for n, document in enumerate(documents)
    ]
    insert_rows(session, OrderEvent.__table__, rows)
    stored = session.scalars(sa.select(OrderEvent.payload).order_by(OrderEvent.id)).all()
    assert stored == documents


@pytest.mark.parametrize("count", [3, 60], ids=["executemany", "copy"])
def test_timestamps_are_stored_as_the_same_instants(session: Session, count: int) -> None:
    """Times given in any zone, repeated or not, read back as the same instants in UTC."""
    seoul = ZoneInfo("Asia/Seoul")
    times = [START + timedelta(minutes=n % 7) for n in range(count)]
    rows = [{**_seller_row(None, n), "created_at": at.astimezone(seoul) if n % 2 else at} for n, at in enumerate(times)]
    insert_rows(session, Seller.__table__, rows)
    stored = session.scalars(sa.select(Seller.created_at).order_by(Seller.id)).all()
    assert stored == times and all(at.utcoffset() == timedelta(0) for at in stored)


@pytest.mark.parametrize("count", [3, 60], ids=["executemany", "copy"])
def test_naive_timestamps_are_refused(session: Session, count: int) -> None:
    """A time without a zone is never guessed at."""
    rows = [_seller_row(None, n) for n in range(count)]
    rows[-1]["created_at"] = datetime(2026, 9, 23, 15, 0)
    with pytest.raises((ValueError, sa.exc.StatementError)):
        insert_rows(session, Seller.__table__, rows)


@pytest.mark.parametrize("count", [3, 60], ids=["few", "many"])
def test_insert_skipping_and_returning_skip_taken_keys_every_time(session: Session, count: int) -> None:
    """Rows whose key is taken are skipped, again and again in one transaction, whichever columns are sent; what
    is new is stored as given and reported (by count, or by the columns asked for)."""
    table = Seller.__table__
    first = [_seller_row(None, n) for n in range(count)]
    assert insert_skipping(session, table, first, conflict=["external_id"]) == count
    # Half of them again with the rest new: only the new ones go in, and only theirs come back.
    again = [{**_seller_row(None, n), "name": "다른 이름"} for n in range(count // 2, count + count // 2)]
    returned = insert_returning(session, table, again, conflict=["external_id"], returning=["external_id", "name"])
    assert sorted(returned) == sorted((f"S-BULK-{n}", "다른 이름") for n in range(count, count + count // 2))
    # Other columns (no contact, another language).
    others = [
        {"external_id": f"S-BULK-{n}", "name": f"셀러 {n}", "language": "en", "created_at": START}
        for n in range(count + count // 2 + 1)
    ]
    assert insert_skipping(session, table, others, conflict=["external_id"]) == 1
    stored = dict(session.execute(sa.select(Seller.external_id, Seller.name)).tuples().all())
    assert len(stored) == count + count // 2 + 1
    assert stored["S-BULK-0"] == "판매자 0" and stored[f"S-BULK-{count + count // 2}"] == f"셀러 {count + count // 2}"


@pytest.mark.parametrize("count", [3, 60], ids=["few", "many"])
def test_a_batch_leaves_nothing_behind_for_the_next(session: Session, count: int) -> None:
    """Each insert stores its own rows only, also after an earlier batch of the same transaction was removed
    again or rolled back to a savepoint (on PostgreSQL a large batch passes through a temporary table)."""
    table = Seller.__table__
    assert (
        insert_skipping(session, table, [_seller_row(None, n) for n in range(count)], conflict=["external_id"]) == count
    )
    session.execute(sa.delete(table))
    savepoint = session.begin_nested()
    insert_skipping(session, table, [_seller_row(None, n) for n in range(100, 100 + count)], conflict=["external_id"])
    savepoint.rollback()
    later = [_seller_row(None, n) for n in range(200, 200 + count)]
    returned = insert_returning(session, table, later, conflict=["external_id"], returning=["external_id"])
    assert sorted(external_id for (external_id,) in returned) == sorted(row["external_id"] for row in later)
    stored = session.scalars(sa.select(Seller.external_id)).all()
    assert sorted(stored) == sorted(row["external_id"] for row in later)
