"""Which channel carries which message: decided here and nowhere else.

A notice to a buyer or seller goes by the first channel in ``NOTIFY_BUYER_CHANNELS`` / ``NOTIFY_SELLER_CHANNELS``
(default ``email,gateway``) that is configured and can reach the person: e-mail needs an e-mail address; the gateway
(the marketplace's SMS / KakaoTalk / app-push service) reaches every buyer and seller by their id. With nothing
configured a notice goes to the log, as in the demo. Webhooks to the marketplace's systems go by the webhook
channel, or to the log when ``NOTIFY_WEBHOOK_URL`` is not set.

Whatever the channel, a buyer's or seller's notice is in their inbox from the moment it is written.
"""

from __future__ import annotations

import re

from marketplace.notifications.models import Audience
from marketplace.notifications.settings import NotifySettings

LOG = "log"
EMAIL = "email"
GATEWAY = "gateway"
WEBHOOK = "webhook"
CHANNELS = (LOG, EMAIL, GATEWAY, WEBHOOK)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def is_email(address: str | None) -> bool:
    """Whether ``address`` looks like an e-mail address (a buyer's contact may be a phone number)."""
    return bool(address) and _EMAIL.match(address) is not None


def route_notice(audience: Audience, address: str | None, settings: NotifySettings) -> tuple[str, str | None]:
    """The channel and address of a notice to a buyer or seller whose contact is ``address``."""
    if audience is Audience.MARKETPLACE:
        return WEBHOOK, None
    preferences = settings.seller_channels if audience is Audience.SELLER else settings.buyer_channels
    for channel in preferences:
        if not settings.configured(channel):
            continue
        if channel == EMAIL and is_email(address):
            return EMAIL, address
        if channel == GATEWAY:
            return GATEWAY, address
    return LOG, address


def transport(channel: str, settings: NotifySettings) -> str:
    """The channel that actually carries a message written for ``channel``: itself when configured, else the log.

    A message keeps the channel it was written for; if that channel's configuration was removed since (or never
    set, as for webhooks in the demo), the relay writes it to the log rather than failing it forever.
    """
    return channel if settings.configured(channel) else LOG
