"""Delivery status notifications as relays send them: an RFC 3464 report, and Postfix-style plain text."""
from __future__ import annotations

from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import SMTP


def multipart_report(to: str, recipient: str, *, action: str = "failed", status: str = "5.1.1",
                     diagnostic: str = "smtp; 550 5.1.1 <{r}>: Recipient address rejected: User unknown",
                     original: bytes | None = None) -> bytes:
    """A report as Postfix sends one: an explanation, the delivery-status fields, the original's header."""
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "MAILER-DAEMON@relay.example.net (Mail Delivery System)"
    report["To"] = to
    report["Subject"] = {"failed": "Undelivered Mail Returned to Sender",
                         "delayed": "Delayed Mail (still being retried)"}.get(action, "Delivery Status Notification")
    report["Auto-Submitted"] = "auto-replied"
    report["Message-ID"] = f"<dsn.{action}.{recipient.replace('@', '.')}@relay.example.net>"
    report.attach(MIMEText("This is the mail system at host relay.example.net.\n\n"
                           "I'm sorry to have to inform you that your message could not\n"
                           "be delivered to one or more recipients.\n"))
    # The fields are header blocks: one about the message, then one per recipient.
    per_message, per_recipient = Message(), Message()
    per_message["Reporting-MTA"] = "dns; relay.example.net"
    per_message["Arrival-Date"] = "Mon, 23 Mar 2026 10:00:00 +0000"
    per_recipient["Final-Recipient"] = f"rfc822; {recipient}"
    per_recipient["Original-Recipient"] = f"rfc822;{recipient}"
    per_recipient["Action"] = action
    per_recipient["Status"] = status
    if diagnostic:
        per_recipient["Diagnostic-Code"] = diagnostic.format(r=recipient)
    status_part = MIMEBase("message", "delivery-status")
    status_part.set_payload([per_message, per_recipient])
    report.attach(status_part)
    headers = MIMEBase("text", "rfc822-headers")
    headers.set_payload((original or b"Subject: [JC-MN] Proposed decision\r\n").decode("utf-8", "replace"))
    report.attach(headers)
    return report.as_bytes(policy=SMTP)


def postfix_text(to: str, recipient: str, said: str = "550 5.1.1 <{r}>: Recipient address rejected: User unknown in "
                                                         "virtual mailbox table") -> bytes:
    """A plain-text bounce (no DSN fields) that explains, then quotes the original."""
    msg = EmailMessage()
    msg["From"] = "MAILER-DAEMON@relay.example.net"
    msg["To"] = to
    msg["Subject"] = "Undelivered Mail Returned to Sender"
    msg["Message-ID"] = "<text.bounce@relay.example.net>"
    msg.set_content(
        "This is the mail system at host relay.example.net.\n\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients.\n\n"
        f"<{recipient}>: host mx.example.com[192.0.2.1] said: {said.format(r=recipient)}\n"
        "    (in reply to RCPT TO command)\n\n"
        "------ This is a copy of the message, including all the headers. ------\n\n"
        "Subject: [JC-MN] Proposed decision\n\n"
        "Status: 2.0.0 all fine here, says the quoted original\n"
    )
    return msg.as_bytes(policy=SMTP)
