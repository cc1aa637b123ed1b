"""An alert: what failed or needs a look, for which creditor and day, with counts and a link.

Every text an alert carries goes through :func:`~amili_pipelines.domain.masking.mask_identity_numbers`
before it leaves, and no alert ever holds a credential: they are built from run and asset
metadata, which never contain one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage

from amili_pipelines.domain.masking import mask_identity_numbers


@dataclass(frozen=True)
class Alert:
    title: str  # one line: what happened
    severity: str  # "error" (something failed) | "warning" (needs a look)
    details: list[str] = field(default_factory=list)  # what failed and what happens next, one line each
    creditors: list[str] = field(default_factory=list)
    partition: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    run_url: str | None = None
    job: str | None = None

    def lines(self) -> list[str]:
        """The whole alert as plain lines, identity numbers masked."""
        head = [f"[{self.severity.upper()}] {self.title}"]
        facts = []
        if self.job:
            facts.append(f"job: {self.job}")
        if self.creditors:
            facts.append("creditor: " + ", ".join(self.creditors))
        if self.partition:
            facts.append(f"partition: {self.partition}")
        if self.counts:
            facts.append(", ".join(f"{k}: {v}" for k, v in sorted(self.counts.items())))
        body = [*facts, *(f"- {d}" for d in self.details)]
        if self.run_url:
            body.append(f"run: {self.run_url}")
        return [mask_identity_numbers(line) or "" for line in (*head, *body)]

    def text(self) -> str:
        return "\n".join(self.lines())


def slack_payload(alert: Alert) -> dict:
    """Slack incoming-webhook body (plain ``text`` works in every workspace)."""
    return {"text": alert.text()}


def teams_payload(alert: Alert) -> dict:
    """Microsoft Teams incoming-webhook body (a MessageCard)."""
    first, *rest = alert.lines()
    return {"@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": first,
            "themeColor": "D13438" if alert.severity == "error" else "FFB900", "title": first,
            "text": "<br>".join(rest)}


def email_message(alert: Alert, *, sender: str, recipients: list[str]) -> EmailMessage:
    msg = EmailMessage()
    first, *rest = alert.lines()
    msg["Subject"] = f"amili-pipelines: {first}"
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg.set_content("\n".join(rest) + "\n")
    return msg
