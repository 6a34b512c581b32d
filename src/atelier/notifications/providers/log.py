"""The log provider (the embedded default): writes the rendered message to the log, sends
nothing. The deep link is never logged (its token signs a partner in)."""

from __future__ import annotations

import logging

from atelier.notifications.providers.base import OutgoingMessage, SendOutcome
from atelier.platform.ids import new_id

log = logging.getLogger("atelier.notifications.log_provider")


class LogProvider:
    name = "log"

    def send(self, message: OutgoingMessage) -> SendOutcome:
        log.info(
            "partner message (log provider, not sent): %s",
            message.body,
            extra={
                "message_id": message.id,
                "recipient": message.recipient,
                "template": message.template_name,
                "language": message.language,
                "partner_id": message.partner_id,
                "run_id": message.production_run_id,
                "has_link": message.deep_link is not None,
                "quick_replies": list(message.quick_reply_payloads),
            },
        )
        return SendOutcome.sent(new_id("logmsg"))
