"""Masking of personal identity numbers wherever analysts, logs, alerts or the UI see them.

Two functions, one rule (keep the birth-date part, hide the rest):

* :func:`mask_id_number` masks a value known to be an identity number (a field that holds one);
* :func:`mask_identity_numbers` finds identity numbers *by content* in any text (a message, a
  value from a shifted column, a row of a file) and masks each one, whatever field it came from.

By content means: a Swedish personnummer or samordningsnummer (10 or 12 digits, with or without
century, ``-``/``+`` or a space before the last four) or a Norwegian fødselsnummer or D-nummer
(11 digits, optionally split 6 + 5) whose date part is a real date. A wrong check digit does not
save a number from masking: a mistyped personnummer still identifies a person.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, TextIO

_DIGITS = re.compile(r"\d")
# What people (and word processors, spreadsheets, web pages) put between the date and the rest: a
# hyphen, or the en dash / minus sign autocorrect makes of it; a space, or the no-break and thin
# spaces of formatted text. Any of them leaves the number a person's.
_SPACE = "[ \t\u00a0\u2009\u202f]"
_DASH = "[-\u2010-\u2015\u2212]"
_SPACES = re.compile(_SPACE)
_DASHES = re.compile(_DASH)
# Digits not glued to other digits (or to letters/digits that would make it another token).
_SE_CANDIDATE = re.compile(rf"(?<![0-9])(?:[0-9]{{2}})?[0-9]{{6}}(?:{_SPACE}?(?:{_DASH}|\+){_SPACE}?|{_SPACE})?[0-9]{{4}}"
                           r"(?![0-9])")
_NO_CANDIDATE = re.compile(rf"(?<![0-9])[0-9]{{6}}(?:{_SPACE}|{_DASH})?[0-9]{{5}}(?![0-9])")
# Every SE or NO candidate holds six digits, at most three separators, four digits: a text without
# that is returned as is. Every issue message is masked when built, and most name only a row, a
# date, an amount or an invoice number (this pattern starts with a digit class, which re scans for
# fast; the candidates' look-behind makes re try them at every position).
_CANDIDATE_CORE = re.compile(rf"[0-9]{{6}}(?:{_SPACE}|{_DASH}|\+){{0,3}}[0-9]{{4}}")
_MASKABLE = (None, "checksum")  # a real date in it: valid, or only the check digit is wrong
# A UUID (a Dagster run id, an idempotency key) is one token: its last group can be twelve digits
# that read as a personnummer with a real date, and masking it would break the run's link in an alert.
_UUID = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
                   r"(?![0-9A-Za-z])")


def mask_id_number(value: str | None) -> str | None:
    """Keep the birth date part (or the first 6 digits), hide the rest.

    ``19900101-1234`` -> ``19900101-****``, ``010190 12345`` -> ``010190 *****``. Organisation
    numbers are public and need no masking, but callers that do not know which kind a value is
    mask it anyway: the birth-date prefix is enough to recognise a row.
    """
    if value is None:
        return None
    digits_seen = 0
    keep = 8 if len(_DIGITS.findall(value)) >= 12 else 6
    out = []
    for ch in value:
        if ch.isdigit():
            digits_seen += 1
            out.append(ch if digits_seen <= keep else "*")
        else:
            out.append(ch)
    return "".join(out)


def _is_identity_number(candidate: str, *, norwegian: bool) -> bool:
    # Imported here: the validation rules themselves mask the numbers they report.
    from amili_pipelines.domain.validation.identifiers import (
        check_no_fodselsnummer,
        check_se_personnummer,
    )

    compact = _DASHES.sub("-", _SPACES.sub("", candidate))
    if norwegian:
        digits = compact.replace("-", "")
        return check_no_fodselsnummer(digits) in _MASKABLE and _has_birth_date(digits)
    return check_se_personnummer(compact) in _MASKABLE


def _has_birth_date(fnr: str) -> bool:
    """A Norwegian number's date part is a real date (stdnum checks the digits before the date)."""
    from stdnum.exceptions import ValidationError
    from stdnum.no import fodselsnummer

    try:
        fodselsnummer.get_birth_date(fnr)
    except (ValidationError, ValueError):
        return False
    return True


def _mask_matches(text: str, pattern: re.Pattern[str], *, norwegian: bool) -> str:
    def replace(m: re.Match[str]) -> str:
        found = m.group(0)
        return mask_id_number(found) if _is_identity_number(found, norwegian=norwegian) else found  # type: ignore[return-value]

    return pattern.sub(replace, text)


def mask_identity_numbers(text: str | None) -> str | None:
    """``text`` with every Swedish or Norwegian personal identity number in it masked."""
    if not text or _CANDIDATE_CORE.search(text) is None:
        return text  # no candidate: nothing to mask
    if "-" not in text or not _UUID.search(text):
        return _mask_token_free(text)
    pieces, start = [], 0
    for uuid in _UUID.finditer(text):
        pieces += [_mask_token_free(text[start:uuid.start()]), uuid.group(0)]
        start = uuid.end()
    return "".join([*pieces, _mask_token_free(text[start:])])


def _mask_token_free(text: str) -> str:
    return _mask_matches(_mask_matches(text, _SE_CANDIDATE, norwegian=False), _NO_CANDIDATE, norwegian=True)


def install_log_masking() -> None:
    """Mask identity numbers in every log record this process creates from now on: ours, Dagster's
    (``context.log`` ends in the run's event log) and libraries'. Idempotent."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "masks_identity_numbers", False):
        return

    def masking_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is the logging module's to report
            return record
        masked = mask_identity_numbers(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return record

    masking_factory.masks_identity_numbers = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masking_factory)


class MaskedStream:
    """A text stream that masks identity numbers in everything written through it (a console's
    file). The target is looked up on every write, so a replaced ``sys.stdout`` is followed."""

    def __init__(self, target: Callable[[], TextIO]) -> None:
        self._target = target

    def write(self, text: str) -> int:
        return self._target().write(mask_identity_numbers(text) or "")

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name: str) -> Any:  # isatty, encoding, fileno: the target's
        return getattr(self._target(), name)


class MaskedError(Exception):
    """An error whose message held an identity number, re-raised with the number masked (the
    original type is named in the message; the traceback is kept, the unmasked cause is not)."""

    @classmethod
    def of(cls, exc: BaseException) -> BaseException:
        """``exc`` itself when its message is clean, else a masked copy carrying its traceback."""
        text = str(exc)
        masked = mask_identity_numbers(text)
        if masked == text:
            return exc
        return cls(f"{type(exc).__name__}: {masked}").with_traceback(exc.__traceback__)
