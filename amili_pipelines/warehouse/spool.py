"""The webhook inbox as a spool directory: plain files, atomic renames, safe for a second writer.

    <inbox>/tmp/                a delivery being written
    <inbox>/events/<h>.json     every accepted delivery, written once (h: a hash of its IdempotencyKey,
                                or of its envelope id when it came without one)
    <inbox>/ids/<e>             the same file once more (a hard link), named by a hash of the envelope id:
                                one event delivered under several keys (Amili's retry, a replayed body)
                                is stored once
    <inbox>/new/<h>             marker: accepted, waiting for the sensor
    <inbox>/claimed/<h>         marker: held by an open claim (a run was asked for)
    <inbox>/processed/<h>       marker: the run that consumed it succeeded (or it needed none);
                                pruned with its event after AMILI_WEBHOOK_INBOX_KEEP_DAYS
    <inbox>/claims/<id>.json    an open claim: its events, the run it asks for, failed attempts

A delivery is written to ``tmp/``, fsynced and hard-linked to ``events/<h>.json``: the link fails
when the name exists, so a duplicate is detected by the file system itself, also between two
receiver processes. Only then is the ``new/`` marker created; a crash in between leaves an event
that the redelivery (or ``repair`` at start) queues. Markers only ever move forward by rename, so
a delivery is in exactly one state. Everything is fsynced (files and directories) before ``accept``
returns, because the receiver answers 2xx right after.

The envelope id is taken *before* the key, by the same kind of link to ``ids/<e>``. An ``ids/``
entry is the whole record, so one without its ``events/`` link (the receiver died in between, or
is still at it) is completed by whoever finds it: the next delivery of that envelope under any key,
or ``repair``. So a crash between the two links neither loses the delivery nor lets a retry under
a new key in twice, with no lock. (Key first would leave, after such a crash, an event stored but
not indexed, and Amili's retry under a new key would be stored and run again.)
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from amili_pipelines.warehouse.inbox import Claim, InboxEvent

_STATES = ("new", "claimed", "processed")


def key_hash(idempotency_key: str) -> str:
    """A file name for any IdempotencyKey (whatever characters Amili puts in it)."""
    return hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:40]


def envelope_hash(event_id: str) -> str:
    """A file name for an envelope id, never a key's: an HTTP header value holds no line break."""
    return key_hash("envelope-id\n" + event_id)


def delivery_hash(idempotency_key: str | None, event_id: str | None) -> str:
    """A delivery's name in the inbox (``InboxEvent.key_hash``): by its key, or without one its envelope id."""
    if idempotency_key:
        return key_hash(idempotency_key)
    if event_id:
        return envelope_hash(event_id)
    raise ValueError("a delivery with neither an IdempotencyKey nor an envelope id cannot be de-duplicated")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _touch_new(path: Path) -> bool:
    """Create an empty marker; False when it already exists."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class SpoolInbox:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.location = str(self.root)
        for sub in ("tmp", "events", "ids", "claims", *_STATES):
            (self.root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)

    # ------------------------------------------------------------------ receiver side
    def accept(self, *, idempotency_key: str | None, event: str, event_id: str | None, body: bytes,
               received_at: datetime) -> bool:
        h = delivery_hash(idempotency_key, event_id)
        final = self.root / "events" / f"{h}.json"
        if final.exists():
            self._ensure_queued(h)
            return False
        e = envelope_hash(event_id) if event_id else None
        if e is not None and (held := self._stored_envelope(e)) is not None:
            return self._queue_held(held)
        record = {"key_hash": h, "idempotency_key": idempotency_key, "received_at": _iso(received_at),
                  "event": event, "event_id": event_id, "body": body.decode("utf-8")}
        tmp = self.root / "tmp" / f"{h}.{uuid.uuid4().hex}.json"
        try:
            _write_durably(tmp, json.dumps(record, ensure_ascii=False).encode("utf-8"))
            if e is not None and (held := self._take_envelope(tmp, e)) is not None:
                return self._queue_held(held)
            os.link(tmp, final)
        except FileExistsError:
            # The key was taken meanwhile: by another envelope (a repeated key is a duplicate; this
            # envelope's ids/ entry is left stale, and its next delivery replaces it), or by another
            # receiver that completed this very delivery from its ids/ entry (and said "stored").
            self._ensure_queued(h)
            return False
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(self.root / "events")
        _touch_new(self.root / "new" / h)
        _fsync_dir(self.root / "new")
        return True

    def _queue_held(self, held: tuple[str, bool]) -> bool:
        h, completed = held
        self._ensure_queued(h)
        return completed

    def _stored_envelope(self, e: str) -> tuple[str, bool] | None:
        """The stored delivery that holds envelope hash ``e`` (its name; whether this call completed it),
        or None.

        An entry without its ``events/`` link is completed here (see the module's docstring). One whose
        key names another file is stale (that key came with another envelope first): None."""
        index = self.root / "ids" / e
        try:
            h = json.loads(index.read_text(encoding="utf-8"))["key_hash"]
            final = self.root / "events" / f"{h}.json"
            try:
                os.link(index, final)
                completed = True
                _fsync_dir(self.root / "ids")
                _fsync_dir(self.root / "events")
            except FileExistsError:
                completed = False
            return (h, completed) if os.path.samefile(index, final) else None
        except FileNotFoundError:
            return None  # none, or forgotten meanwhile (prune)
        except (ValueError, KeyError, TypeError):
            return None  # unreadable: storing the delivery once more beats losing it

    def _take_envelope(self, tmp: Path, e: str) -> tuple[str, bool] | None:
        """Link the record as ``ids/<e>``: None once done, else the stored delivery holding the envelope."""
        index = self.root / "ids" / e
        try:
            os.link(tmp, index)
        except FileExistsError:
            if (held := self._stored_envelope(e)) is not None:
                return held
            # Stale: replaced atomically. Two receivers replacing it at once both store the envelope
            # (one run too many); neither can lose it.
            spare = tmp.with_name(f"{tmp.name}.id")
            os.link(tmp, spare)
            os.replace(spare, index)
        _fsync_dir(self.root / "ids")
        return None

    def _state(self, h: str) -> str | None:
        # In the order markers move, so a marker moving during the look is still found.
        for state in _STATES:
            if (self.root / state / h).exists():
                return state
        return None

    def _ensure_queued(self, h: str) -> None:
        if self._state(h) is None and _touch_new(self.root / "new" / h):
            _fsync_dir(self.root / "new")

    def repair(self) -> int:
        for p in (self.root / "tmp").iterdir():
            p.unlink(missing_ok=True)  # not answered 2xx; an envelope id it took is completed below
        self._repair_envelopes()
        marked = set()
        for state in _STATES:
            marked.update(p.name for p in (self.root / state).iterdir())
        queued = 0
        for p in (self.root / "events").iterdir():
            h = p.name.removesuffix(".json")
            if h not in marked and _touch_new(self.root / "new" / h):
                queued += 1
        if queued:
            _fsync_dir(self.root / "new")
        return queued

    def _repair_envelopes(self) -> None:
        """Complete deliveries that died between taking their envelope id and their key (queued by
        ``repair``), drop stale entries, and index events stored before ``ids/`` existed. A file's link
        count tells which to read: 2 is a stored and indexed delivery (tmp/ is empty by now)."""
        indexed = False
        for index in (self.root / "ids").iterdir():
            try:
                if index.stat().st_nlink == 1 and self._stored_envelope(index.name) is None:
                    index.unlink()
                    indexed = True
            except FileNotFoundError:
                continue
        for p in (self.root / "events").iterdir():
            try:
                if p.stat().st_nlink > 1:
                    continue
                event_id = json.loads(p.read_text(encoding="utf-8")).get("event_id")
                if event_id:
                    os.link(p, self.root / "ids" / envelope_hash(event_id))
                    indexed = True
            except (FileNotFoundError, FileExistsError, ValueError):
                continue
        if indexed:
            _fsync_dir(self.root / "ids")

    # ------------------------------------------------------------------ sensor side
    def _load(self, h: str) -> InboxEvent | None:
        try:
            doc = json.loads((self.root / "events" / f"{h}.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return InboxEvent(key_hash=h, idempotency_key=doc["idempotency_key"], received_at=_dt(doc["received_at"]),
                          event=doc["event"], event_id=doc.get("event_id"), body=doc["body"])

    def events(self, hashes: Sequence[str]) -> list[InboxEvent]:
        return [e for e in (self._load(h) for h in hashes) if e is not None]

    def new_events(self, *, limit: int) -> list[InboxEvent]:
        held = {h for c in self.open_claims() for h in c.event_hashes}
        markers = [p for p in (self.root / "new").iterdir() if p.name not in held]
        markers.sort(key=lambda p: (p.stat().st_mtime_ns, p.name))
        found = self.events([p.name for p in markers[:limit]])
        return sorted(found, key=lambda e: (e.received_at, e.key_hash))

    def _claim_path(self, claim_id: str) -> Path:
        return self.root / "claims" / f"{claim_id}.json"

    def _write_claim(self, claim: Claim) -> None:
        doc: dict[str, Any] = asdict(claim)
        doc.update(event_hashes=list(claim.event_hashes), created_at=_iso(claim.created_at),
                   failed_at=_iso(claim.failed_at))
        tmp = self.root / "tmp" / f"claim-{claim.claim_id}.{uuid.uuid4().hex}"
        _write_durably(tmp, json.dumps(doc).encode("utf-8"))
        os.replace(tmp, self._claim_path(claim.claim_id))
        _fsync_dir(self.root / "claims")

    def claim(self, claim: Claim) -> Claim:
        # The claim first: a crash before the markers move leaves a claim that still names its events
        # (and new_events skips them), never events claimed by nobody.
        self._write_claim(claim)
        self._hold(claim)
        return claim

    def _hold(self, claim: Claim) -> None:
        moved = False
        for h in claim.event_hashes:
            try:
                os.rename(self.root / "new" / h, self.root / "claimed" / h)
                moved = True
            except FileNotFoundError:
                pass
        if moved:
            _fsync_dir(self.root / "new")
            _fsync_dir(self.root / "claimed")

    def open_claims(self) -> list[Claim]:
        claims = []
        for p in (self.root / "claims").glob("*.json"):
            try:
                doc = json.loads(p.read_text(encoding="utf-8"))
            except FileNotFoundError:
                continue  # completed meanwhile
            claims.append(Claim(claim_id=doc["claim_id"], kind=doc["kind"], event_hashes=tuple(doc["event_hashes"]),
                                created_at=_dt(doc["created_at"]), run_config=doc.get("run_config") or {},
                                attempt=int(doc.get("attempt") or 0), failed_at=_dt(doc.get("failed_at")),
                                description=doc.get("description") or ""))
        return sorted(claims, key=lambda c: (c.created_at, c.claim_id))

    def _open_claim(self, claim_id: str) -> Claim | None:
        return next((c for c in self.open_claims() if c.claim_id == claim_id), None)

    def complete(self, claim_id: str) -> None:
        claim = self._open_claim(claim_id)
        if claim is None:
            return
        for h in claim.event_hashes:
            for state in ("claimed", "new"):
                try:
                    os.rename(self.root / state / h, self.root / "processed" / h)
                    break
                except FileNotFoundError:
                    continue
        for state in _STATES:
            _fsync_dir(self.root / state)
        self._claim_path(claim_id).unlink(missing_ok=True)
        _fsync_dir(self.root / "claims")

    def failed(self, claim_id: str, *, at: datetime) -> Claim:
        claim = self._open_claim(claim_id)
        if claim is None:
            raise KeyError(f"no open claim {claim_id}")
        updated = replace(claim, attempt=claim.attempt + 1, failed_at=at)
        self._write_claim(updated)
        return updated

    def is_processed(self, key_hash: str) -> bool:
        return (self.root / "processed" / key_hash).exists()

    def prune(self, *, received_before: datetime) -> int:
        # A marker's mtime is when its delivery was accepted (created then, only renamed since), so only the
        # events forgotten are read (for their envelope id). Envelope entries go first, made durable before
        # any event goes: an entry left without its event would look like a delivery interrupted before its
        # key, and the next delivery of that envelope would bring the forgotten event back. Then the event,
        # then the marker: a crash in between leaves a marker without an event, which nothing reads (the
        # other order would leave an event that repair() queues again).
        cutoff = received_before.replace(tzinfo=UTC).timestamp()
        old = []
        for marker in (self.root / "processed").iterdir():
            try:
                if marker.stat().st_mtime < cutoff:
                    old.append(marker)
            except FileNotFoundError:
                continue
        if not old:
            return 0
        for marker in old:
            self._forget_envelope(self.root / "events" / f"{marker.name}.json")
        _fsync_dir(self.root / "ids")
        for marker in old:
            (self.root / "events" / f"{marker.name}.json").unlink(missing_ok=True)
            marker.unlink(missing_ok=True)
        _fsync_dir(self.root / "events")
        _fsync_dir(self.root / "processed")
        return len(old)

    def _forget_envelope(self, event_file: Path) -> None:
        try:
            if event_file.stat().st_nlink < 2:
                return  # not indexed (no envelope id, or another delivery of it holds the entry)
            event_id = json.loads(event_file.read_text(encoding="utf-8")).get("event_id")
            index = self.root / "ids" / envelope_hash(event_id) if event_id else None
            if index is not None and os.path.samefile(index, event_file):
                index.unlink()
        except (FileNotFoundError, ValueError):
            pass

    def counts(self) -> dict[str, int]:
        out = {state: sum(1 for _ in (self.root / state).iterdir()) for state in _STATES}
        out["open_claims"] = sum(1 for _ in (self.root / "claims").glob("*.json"))
        return out


def open_inbox(path: str | Path) -> SpoolInbox:
    """The inbox at ``path`` (created when missing, readable by this user only)."""
    return SpoolInbox(path)
