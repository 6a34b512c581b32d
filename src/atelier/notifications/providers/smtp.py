"""SMTP email (``ATELIER_SMTP_*``) with the standard library's client.

A 4xx reply or a connection problem is retried later; a 5xx reply (mailbox unknown, message
refused) fails the message. Once the server accepted the message, a failure while saying goodbye
does not turn it into a retry (that would send it twice). The password is never logged.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid

from atelier.notifications.providers.base import OutgoingMessage, SendOutcome
from atelier.platform.settings import Settings

log = logging.getLogger(__name__)


class SmtpProvider:
    name = "smtp"

    def __init__(self, settings: Settings) -> None:
        if not settings.smtp_host:
            raise ValueError("ATELIER_SMTP_HOST is not set")
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.username = settings.smtp_username
        self._password = settings.smtp_password
        self.sender = settings.smtp_from
        self.starttls = settings.smtp_starttls
        self.use_ssl = settings.smtp_ssl
        self.timeout = settings.smtp_timeout

    def _compose(self, message: OutgoingMessage) -> EmailMessage:
        # Wide lines, so an ordinary subject is not folded (some clients show the fold).
        email = EmailMessage(policy=policy.default.clone(max_line_length=200))
        email["From"] = self.sender
        email["To"] = message.recipient
        email["Subject"] = message.subject or "Atelier"
        domain = self.sender.rpartition("@")[2].strip("> ") or "atelier.local"
        email["Message-ID"] = make_msgid(idstring=message.id, domain=domain)
        text = message.body
        if message.deep_link:
            text += f"\n\n{message.deep_link}"
        email.set_content(text)
        return email

    def _connect(self) -> smtplib.SMTP:
        if self.use_ssl:
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.starttls:
            client.starttls(context=ssl.create_default_context())
        return client

    def send(self, message: OutgoingMessage) -> SendOutcome:
        email = self._compose(message)
        try:
            client = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            return SendOutcome.retry("smtp_unreachable", f"{type(exc).__name__}: {exc}"[:500])
        try:
            if self.username and self._password is not None:
                client.login(self.username, self._password.get_secret_value())
            client.send_message(email)
        except smtplib.SMTPAuthenticationError as exc:
            return SendOutcome.refused(f"smtp_{exc.smtp_code}", "authentication failed")
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (550, b"refused"))
            return self._reply(code, text)
        except smtplib.SMTPResponseException as exc:
            return self._reply(exc.smtp_code, exc.smtp_error)
        except (OSError, smtplib.SMTPException) as exc:
            return SendOutcome.retry("smtp_error", f"{type(exc).__name__}: {exc}"[:500])
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()
        return SendOutcome.sent(str(email["Message-ID"]).strip("<>"))

    @staticmethod
    def _reply(code: int, text: bytes | str) -> SendOutcome:
        detail = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
        if 400 <= code < 500:
            return SendOutcome.retry(f"smtp_{code}", detail[:500])
        return SendOutcome.refused(f"smtp_{code}", detail[:500])
