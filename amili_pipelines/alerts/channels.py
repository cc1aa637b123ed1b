"""Where alerts go: an incoming webhook (Slack or Teams) and e-mail over SMTP, as configured.

Configured in the environment (``AMILI_ALERT_*``, see the README); a channel that is not
configured is simply not used. A delivery that fails is reported back, never raised past the
caller: one broken channel must not hide the alert on the other.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass, field
from typing import Literal, Protocol

import httpx
from pydantic import SecretStr

from amili_pipelines.alerts.messages import (
    Alert,
    email_message,
    slack_payload,
    teams_payload,
)


class Channel(Protocol):
    name: str

    def send(self, alert: Alert) -> None: ...


@dataclass(frozen=True)
class WebhookChannel:
    url: SecretStr  # the URL itself is the credential of an incoming webhook
    format: Literal["slack", "teams"] = "slack"
    timeout_s: float = 10.0
    name: str = "webhook"

    def send(self, alert: Alert) -> None:
        body = teams_payload(alert) if self.format == "teams" else slack_payload(alert)
        try:
            response = httpx.post(self.url.get_secret_value(), json=body, timeout=self.timeout_s)
        except httpx.HTTPError as exc:  # its text may hold the URL, which is the webhook's secret
            raise RuntimeError(f"the webhook could not be reached ({type(exc).__name__})") from None
        if response.status_code >= 300:
            raise RuntimeError(f"the webhook answered HTTP {response.status_code}")


@dataclass(frozen=True)
class SmtpChannel:
    host: str
    sender: str
    recipients: list[str]
    port: int = 25
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = False
    timeout_s: float = 10.0
    name: str = "email"

    def send(self, alert: Alert) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username and self.password is not None:
                smtp.login(self.username, self.password.get_secret_value())
            smtp.send_message(email_message(alert, sender=self.sender, recipients=self.recipients))


@dataclass
class Delivery:
    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "channel: reason" (no URL, no password)


def deliver(alert: Alert, channels: list[Channel]) -> Delivery:
    """Send the alert on every channel; what went where."""
    result = Delivery()
    for channel in channels:
        try:
            channel.send(alert)
            result.sent.append(channel.name)
        except (OSError, httpx.HTTPError, smtplib.SMTPException, RuntimeError) as exc:
            result.failed.append(f"{channel.name}: {type(exc).__name__}: {str(exc)[:200]}")
    return result
