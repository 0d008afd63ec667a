"""The signals sanctions publish: what notifications (and anyone else) may react to.

Published inside the transaction of the change, like ``claim.*`` (see ``marketplace.core.signals``); ``at`` is the
effective time (the violation's time, the sanction's start or end, the decision), which a catch-up run after
downtime keeps. ``seller_id`` is the platform's seller id (``sellers.id``); datetimes are aware UTC ``datetime``
objects. The names and the keys below are a contract: add keys, never rename or remove them.

- ``violation.recorded``: ``violation_id``, ``seller_id``, ``kind`` (``seller_cancellation``, ``late_shipment``,
  ``response_missed``, ``refund_overdue``, ``counterfeit``, ``manual``), ``points``, ``claim_id`` and ``order_id``
  (None for a manual violation without them). Only violations that count: one that falls in a force-majeure pause
  is recorded as set aside and not signalled.
- ``violation.overturned``: ``violation_id``, ``seller_id``, ``kind``, ``points`` (no longer counted), ``reason``.
- ``sanction.imposed``: ``sanction_id``, ``seller_id``, ``stage`` (``notice``, ``warning``, ``restricted``,
  ``termination_review``), ``starts_at``, ``ends_at`` (None: until a supervisor's review), ``reason`` (the
  supervisor's words, or for a sanction the rules imposed the rule: ``notice_threshold``, ``sanction_threshold``,
  ``jump``), and ``source`` (``rules`` or ``staff``), ``rule``, ``points`` and ``orders`` (the figures the rule
  compared; None for staff), ``violation_ids`` (the violations that counted).
- ``sanction.ended``: ``sanction_id``, ``seller_id``, ``stage``, ``ended_at``, ``how`` (``expired``: its time ran
  out; ``shortened``: its time ran out after a supervisor shortened it, or the shortening ended it at once;
  ``lifted``: a supervisor lifted it, its appeal was accepted, or it was no longer justified), ``reason`` (None
  when it expired).
- ``appeal.decided``: ``appeal_id``, ``seller_id``, ``outcome`` (``accepted`` or ``rejected``), ``reason``,
  ``violation_id`` and ``sanction_id`` (the appealed item; the other is None).
- ``seller.standing_changed``: ``seller_id``, ``stage`` (``none`` when nothing is in force), ``may_list``,
  ``may_sell``, ``active_points``. Published once per change of any of these or of the sanctions in force; the
  marketplace gets the same change as a ``seller.standing_changed`` webhook (outbox), keyed
  ``seller.standing_changed:<seller_id>:<revision>``.
"""

from __future__ import annotations

VIOLATION_RECORDED = "violation.recorded"
VIOLATION_OVERTURNED = "violation.overturned"
SANCTION_IMPOSED = "sanction.imposed"
SANCTION_ENDED = "sanction.ended"
APPEAL_DECIDED = "appeal.decided"
STANDING_CHANGED = "seller.standing_changed"

ALL = (VIOLATION_RECORDED, VIOLATION_OVERTURNED, SANCTION_IMPOSED, SANCTION_ENDED, APPEAL_DECIDED, STANDING_CHANGED)
