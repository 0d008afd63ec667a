"""The fast path of event validation vouches only for what the schema accepts, and loads it the same way."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from marketplace.orders.fastload import FastLoader
from marketplace.orders.models import EventType
from marketplace.orders.schemas import EVENT_SCHEMAS, EventsBodySchema
from tests.orders.factory import cancelled_event, delivered_event, paid_event, refund_event, shipped_event

VALID = [
    paid_event(),
    paid_event(ship_by="2026-09-25T18:00:00Z"),
    paid_event(ship_by=None),
    shipped_event(),
    delivered_event(),
    cancelled_event(initiated_by="seller", reason="out_of_stock"),
    refund_event(),
    refund_event(refunded_at="2026-09-24T09:00:00.123456+09:00"),
]
FAST = {event_type: FastLoader(schema) for event_type, schema in EVENT_SCHEMAS.items()}


def _both(event: dict[str, Any]) -> tuple[Any, Any]:
    event_type = EventType(event["type"])
    try:
        slow = EVENT_SCHEMAS[event_type].load(event)
    except ValidationError:
        slow = ValidationError
    return FAST[event_type].load(event), slow


@pytest.mark.parametrize("event", VALID, ids=lambda event: event["type"])
def test_fast_path_loads_valid_events_as_the_schema_does(event: dict[str, Any]) -> None:
    """Every kind of valid event takes the fast path, with the schema's result."""
    fast, slow = _both(event)
    assert fast is not None
    assert fast == slow


# A JSON value of any kind, to put where a field was.
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-10, 10**6)
    | st.floats(allow_nan=False)
    | st.text(max_size=5)
    | st.sampled_from(["2026-09-23T15:00:00", "2026-09-23T15:00:00+09:00", "ko", "jp", "seller", "out_of_stock"]),
    lambda children: st.lists(children, max_size=2) | st.dictionaries(st.text(max_size=3), children, max_size=2),
    max_leaves=4,
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*prefix, index))
    return found


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(VALID), st.data(), JSON_VALUES, st.booleans())
def test_fast_path_never_accepts_what_the_schema_refuses(event, data, value, delete) -> None:
    """Any one field replaced or removed: the fast path either declines or agrees with the schema exactly."""
    event = copy.deepcopy(event)
    path = data.draw(st.sampled_from([p for p in _paths(event) if p != ("type",)]))
    target = event
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    fast, slow = _both(event)
    assert fast is None or fast == slow


@given(st.sampled_from(VALID), st.text(min_size=1, max_size=5), JSON_VALUES)
def test_unknown_fields_are_left_to_the_schema(event, name, value) -> None:
    """An extra field anywhere the schema does not declare: declined, and the schema refuses it."""
    event = {**event, f"x_{name}": value}
    fast, slow = _both(event)
    assert fast is None and slow is ValidationError


def test_schema_with_hooks_is_never_taken_on() -> None:
    """A schema with load hooks may change anything: the fast path always declines it."""
    assert FastLoader(EventsBodySchema()).load({"events": [paid_event()]}) is None
