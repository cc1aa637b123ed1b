"""``POST /media--upload/{reference_id}`` (reference A.10): attach a file (e.g. the original invoice) to a
document, or store it free-standing.

The form names a ``domain`` (collection) and ``dotted_path`` (the field that will hold the file id); each
wrong input gets the documented 400 message. The answer is a fake signed storage URL, as the real API
hands out one; the file itself is kept only as metadata (``media--files``).
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import time
from email.message import EmailMessage
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..eve import eve_error_response
from ..responses import JSON
from .endpoints import account_of, unauthorized

FREE_STANDING = "media--files"
MEDIA_DOMAINS = {  # domain -> the dotted paths a file may be attached to (None: free-standing)
    FREE_STANDING: None,
    "cases": {"original_invoice", "documents"},
    "invoices": {"original_invoice", "documents"},
    "invoice--registrations": {"original_invoice"},
    "case--registrations": {"original_invoice"},
}
MEDIA_TYPES = {"application/pdf", "image/jpeg", "image/png", "image/gif", "image/bmp"}


def parse_form(content_type: str, raw: bytes) -> tuple[dict[str, str], EmailMessage | None]:
    """The multipart form's text fields and its ``file`` part."""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    fields: dict[str, str] = {}
    file_part = None
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name == "file":
            file_part = part
        elif name:
            fields[name] = part.get_content().strip() if part.get_content_maintype() == "text" else ""
    return fields, file_part


def form_error(domain: str, dotted: str | None, file_part: EmailMessage | None) -> str | None:
    """The documented 400 message for the first thing wrong with the form, if any."""
    if domain not in MEDIA_DOMAINS:
        return f"Domain '{domain}' is not valid."
    if MEDIA_DOMAINS[domain] is not None:
        if not dotted:
            return "Dotted Path Not Found in request form"
        if dotted not in MEDIA_DOMAINS[domain]:
            return "Dotted Path is not valid"
    if file_part is None:
        return "File is a required attribute."
    if file_part.get_content_type() not in MEDIA_TYPES:
        return "The provided file's content type is not allowed."
    return None


def signed_url(media_id: str, domain: str, ref: str, filename: str) -> str:
    sig = hashlib.sha256(f"{media_id}:{time.time()}".encode()).hexdigest()
    return (f"https://storage.googleapis.com/amili-emulator/{domain}/{ref}/{filename}"
            f"?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Expires=3600&X-Goog-Signature={sig}")


def routes(engine: Any) -> list[Route]:
    async def upload(request: Request) -> Response:
        account = account_of(engine, request)
        if account is None:
            return unauthorized()
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            return eve_error_response(400, "File is a required attribute.")
        fields, file_part = parse_form(ctype, await request.body())
        domain = fields.get("domain") or FREE_STANDING
        dotted = fields.get("dotted_path")
        error = form_error(domain, dotted, file_part)
        if error:
            return eve_error_response(400, error)
        ref = request.path_params["reference_id"]
        with engine.lock:
            doc = None
            if domain != FREE_STANDING:
                doc = engine.db["se"].get(domain, {}).get(ref)
                if doc is None or doc.get("account") != account:
                    return eve_error_response(404, "Resource Document Not Found")
            filename = file_part.get_filename() or "upload"
            content = file_part.get_payload(decode=True) or b""
            now = engine.clock.now()
            media = engine.se_insert(FREE_STANDING, {
                "account": account, "domain": domain, "dotted_path": dotted, "reference": ref,
                "filename": filename, "content_type": file_part.get_content_type(), "size": len(content),
                "sha1": hashlib.sha1(content).hexdigest(),
            }, now)
            if doc is not None and dotted:
                doc[dotted] = media["_id"]
                engine.se_touch(doc, now)
        return JSON({"_status": "OK", "url": signed_url(media["_id"], domain, ref, filename)}, status_code=201)

    return [Route("/media--upload/{reference_id}", upload, methods=["POST"])]
