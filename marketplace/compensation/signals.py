"""The ``compensation.*``, ``recovery.*``, ``deduction.*`` and ``incident.*`` signals: what compensation and
incidents tell the other domains (notifications writes the notices from them).

Published inside the transaction of the change, in lists (a sweep or an incident batch publishes one list), with
``at`` = when the change took effect. Amounts are integer won; ids are this platform's ids.

- ``compensation.granted``: a buyer was granted a compensation because of a claim.
  ``compensation_id, buyer_id, seller_id, order_id, claim_id, incident_id (None), amount, form (points, coupon,
  cash), rule (e.g. seller_cancellation.seller_silent), policy_version, recoverable``.
  Compensations of a mass incident do not publish it: ``incident.order_compensated`` tells the buyer instead.
- ``compensation.paid_out`` / ``compensation.failed``: the marketplace confirmed the payout, or reported that it
  failed. ``compensation_id, buyer_id, amount, reason`` (``reason`` None when paid out).
- ``recovery.booked``: a recoverable compensation is to be deducted from the seller's next settlement.
  ``seller_id, compensation_id, claim_id, order_id, amount``.
- ``deduction.confirmed``: the marketplace deducted a seller's recoveries from its settlement of ``period``.
  ``seller_id, period (YYYY-MM), amount``.
- ``incident.order_compensated``: an order hit by a mass incident was given its incident claim and compensation.
  ``incident_id, order_id, buyer_id, amount (0 when the rule gave nothing), form, title_ko, title_en,
  explanation_ko, explanation_en``. One per order: the notice to its buyer. Notifications writes it under the
  dedupe key ``incident.order_compensated:<incident_id>:<order_id>:buyer:<buyer_id>`` (``incident_notice_prefix``)
  so that the incident report can count the notices written, sent and failed
  (``marketplace.incidents.queries.incident_report``).

The payout instruction itself is the outbox webhook ``compensation.granted`` (dedupe key
``compensation.granted:<compensation_id>``), written for every grant, incident grants included.
"""

from __future__ import annotations

GRANTED = "compensation.granted"
PAID_OUT = "compensation.paid_out"
FAILED = "compensation.failed"
RECOVERY_BOOKED = "recovery.booked"
DEDUCTION_CONFIRMED = "deduction.confirmed"
INCIDENT_ORDER_COMPENSATED = "incident.order_compensated"

ALL = (GRANTED, PAID_OUT, FAILED, RECOVERY_BOOKED, DEDUCTION_CONFIRMED, INCIDENT_ORDER_COMPENSATED)


def incident_notice_prefix(incident_id: int) -> str:
    """The dedupe-key prefix of every notice written for an incident's orders.

    The notifications domain keys a notice ``<topic>:<incident id>:<order id>:<audience>:<recipient>`` (one notice
    per event and recipient); the incident report counts the notices by this prefix.
    """
    return f"{INCIDENT_ORDER_COMPENSATED}:{incident_id}:"
