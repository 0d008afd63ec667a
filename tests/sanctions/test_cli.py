"""`marketplace policy simulate FILE` and `marketplace sanctions standing SELLER_ID`."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from marketplace.sanctions.policy import DEFAULT_SANCTION_POLICY
from tests.sanctions.conftest import Shop, escalate, kst


@pytest.fixture
def shop(session: Session, make_shop, clock) -> Shop:
    """The issue's seller, at warning on 10-05."""
    shop = make_shop(name="품절상회")
    for day in range(14, 19):
        shop.paid(2, at=kst(2026, 9, day, 10, 0))
    shop.cancel(shop.orders[0], at=kst(2026, 9, 21, 10, 0))
    shop.cancel(shop.orders[1], at=kst(2026, 9, 22, 10, 0))
    for index, day in enumerate((22, 23, 29)):
        shop.complain(shop.orders[2 + index], at=kst(2026, 9, day, 11, 0))
    escalate(session, now=kst(2026, 10, 5, 9, 0))
    clock.set(kst(2026, 10, 5, 10, 0))
    return shop


def _write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "candidate.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_simulate_prints_counts_per_stage_and_the_sellers_that_change(app: Flask, shop: Shop, tmp_path: Path) -> None:
    """A sanction threshold of 20 points: the shop would stay at notice instead of warning."""
    document = copy.deepcopy(DEFAULT_SANCTION_POLICY)
    document["sanction_threshold"]["points"] = 20
    result = app.test_cli_runner().invoke(args=["policy", "simulate", str(_write(tmp_path, document)), "--days", "30"])
    assert result.exit_code == 0, result.output
    assert "warning                      1         0" in result.output
    assert "notice                       0         1" in result.output
    assert f"{shop.seller.external_id}  품절상회: warning (10 pts) -> notice (10 pts)" in result.output
    assert "1 seller(s) would change." in result.output


def test_simulate_refuses_an_invalid_policy_in_one_line(app: Flask, tmp_path: Path) -> None:
    """Exit code 1 naming the field; nothing is replayed."""
    document = copy.deepcopy(DEFAULT_SANCTION_POLICY)
    document["window_days"] = 0
    result = app.test_cli_runner().invoke(args=["policy", "simulate", str(_write(tmp_path, document))])
    assert result.exit_code == 1
    assert "window_days" in result.output and len(result.output.strip().splitlines()) == 1


def test_simulate_refuses_a_file_that_is_not_json(app: Flask, tmp_path: Path) -> None:
    """A broken file is named, with exit code 1."""
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["policy", "simulate", str(path)])
    assert result.exit_code == 1 and "broken.json is not a JSON document" in result.output


def test_standing_command_prints_the_sellers_standing(app: Flask, shop: Shop) -> None:
    """Stage, what it may do, points over orders, and the sanctions in force."""
    result = app.test_cli_runner().invoke(args=["sanctions", "standing", shop.seller.external_id])
    assert result.exit_code == 0, result.output
    assert "warning, may sell, 10 point(s) over 10 order(s) in 30 days." in result.output
    assert "warning from 2026-10-02T14:59:59+00:00 to 2026-10-09T14:59:59+00:00" in result.output


def test_standing_command_for_an_unknown_seller_exits_1(app: Flask) -> None:
    """No such seller."""
    result = app.test_cli_runner().invoke(args=["sanctions", "standing", "S-NOBODY"])
    assert result.exit_code == 1 and "No seller has the id 'S-NOBODY'." in result.output
