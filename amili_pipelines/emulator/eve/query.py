"""Eve list queries: ``where``, ``sort``, ``projection`` and pagination (reference Part C).

Written from the Eve conventions in the reference, not from Eve's code. Bad parameters raise
:class:`QueryError`, which the Swedish endpoints turn into Eve's 400.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

from ..dates import parse_date
from ..money import is_number

META_FIELDS = ("_id", "_created", "_updated", "_etag")


class QueryError(ValueError):
    """Bad query parameter -> 400."""


# ------------------------------------------------------------------ where

_PY_EQ = re.compile(r"""^\s*([\w.]+)\s*==\s*(?:"([^"]*)"|'([^']*)'|(-?\d+(?:\.\d+)?)|(true|false|True|False|None|null))\s*$""")


def parse_where(raw: str | None) -> dict[str, Any] | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
        parts = re.split(r"\s+and\s+", raw)
        out: dict[str, Any] = {}
        for part in parts:
            m = _PY_EQ.match(part)
            if not m:
                raise QueryError("Unable to parse `where` clause")
            field, s1, s2, num, lit = m.groups()
            if s1 is not None or s2 is not None:
                out[field] = s1 if s1 is not None else s2
            elif num is not None:
                out[field] = float(num) if "." in num else int(num)
            else:
                out[field] = {"true": True, "True": True, "false": False, "False": False}.get(lit)
        return out
    if not isinstance(value, dict):
        raise QueryError("Unable to parse `where` clause")
    _check_ops(value)
    return value


_OPS = {"$in", "$nin", "$ne", "$gt", "$gte", "$lt", "$lte", "$eq", "$exists", "$and", "$or", "$nor", "$not"}


def _check_ops(q: Any) -> None:
    if isinstance(q, dict):
        for k, v in q.items():
            if k.startswith("$") and k not in _OPS:
                raise QueryError(f"Query contains unknown or unsupported operator: {k}")
            _check_ops(v)
    elif isinstance(q, list):
        for v in q:
            _check_ops(v)


def _values_at(doc: Any, path: list[str]) -> list[Any]:
    """All values reachable by a dotted path (lists fan out, Mongo style)."""
    cur = [doc]
    for key in path:
        nxt = []
        for c in cur:
            if isinstance(c, dict):
                if key in c:
                    nxt.append(c[key])
            elif isinstance(c, list):
                for item in c:
                    if isinstance(item, dict) and key in item:
                        nxt.append(item[key])
                if key.isdecimal() and int(key) < len(c):
                    nxt.append(c[int(key)])
        cur = nxt
    out: list[Any] = []
    for v in cur:
        out.append(v)
        if isinstance(v, list):
            out.extend(v)
    return out


def _norm(a: Any, b: Any) -> tuple[Any, Any]:
    """Make two values comparable: date strings become datetimes."""
    if isinstance(a, str) and isinstance(b, str):
        if len(a) >= 10 and len(b) >= 10 and (a[:1].isdigit() or a[3:4] == ",") and (b[:1].isdigit() or b[3:4] == ","):
            da, db = parse_date(a), parse_date(b)
            if da is not None and db is not None:
                return da, db
    return a, b


def _cmp(op: str, a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    if is_number(a) != is_number(b):
        return False
    a, b = _norm(a, b)
    try:
        if op == "$gt":
            return a > b
        if op == "$gte":
            return a >= b
        if op == "$lt":
            return a < b
        return a <= b
    except TypeError:
        return False


def _eq(a: Any, b: Any) -> bool:
    if a == b:
        return True
    a2, b2 = _norm(a, b)
    return a2 is not a and a2 == b2


def _cond(values: list[Any], cond: Any) -> bool:
    if isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond):
        for op, arg in cond.items():
            if op == "$eq":
                if not _cond(values, arg):
                    return False
            elif op == "$ne":
                if _cond(values, arg):
                    return False
            elif op == "$in":
                if not isinstance(arg, list):
                    raise QueryError("$in needs an array")
                if not any(_cond(values, a) for a in arg):
                    return False
            elif op == "$nin":
                if not isinstance(arg, list):
                    raise QueryError("$nin needs an array")
                if any(_cond(values, a) for a in arg):
                    return False
            elif op in ("$gt", "$gte", "$lt", "$lte"):
                if not any(_cmp(op, v, arg) for v in values):
                    return False
            elif op == "$exists":
                if bool(values) != bool(arg):
                    return False
            elif op == "$not":
                if _cond(values, arg):
                    return False
            else:
                raise QueryError(f"unsupported operator {op}")
        return True
    if cond is None:
        return not values or any(v is None for v in values)
    return any(_eq(v, cond) for v in values)


def matches(doc: dict[str, Any], query: dict[str, Any] | None) -> bool:
    if not query:
        return True
    for key, cond in query.items():
        if key == "$and":
            if not all(matches(doc, q) for q in cond):
                return False
        elif key == "$or":
            if not any(matches(doc, q) for q in cond):
                return False
        elif key == "$nor":
            if any(matches(doc, q) for q in cond):
                return False
        else:
            if not _cond(_values_at(doc, key.split(".")), cond):
                return False
    return True


# ------------------------------------------------------------------ sort

def parse_sort(raw: str | None) -> list[tuple[str, int]]:
    if not raw:
        return []
    raw = raw.strip()
    if raw.startswith("["):
        pairs = re.findall(r"""\(\s*["']([\w.]+)["']\s*,\s*(-?1)\s*\)""", raw)
        if not pairs:
            raise QueryError("Unable to parse `sort` clause")
        return [(f, int(d)) for f, d in pairs]
    out = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        if part.startswith("-"):
            out.append((part[1:], -1))
        else:
            out.append((part.lstrip("+"), 1))
    return out


def _sort_key(value: Any) -> tuple:
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if is_number(value):
        return (1, value)
    if isinstance(value, str):
        d = parse_date(value) if len(value) >= 10 and (value[3:4] == "," or value[:1].isdigit()) else None
        if d is not None:
            return (2, d.timestamp())
        return (3, value)
    return (4, json.dumps(value, sort_keys=True, default=str))


def sort_docs(docs: list[dict[str, Any]], spec: list[tuple[str, int]]) -> list[dict[str, Any]]:
    for field, direction in reversed(spec):
        path = field.split(".")

        def key(d: dict[str, Any], path: list[str] = path) -> tuple:
            vals = _values_at(d, path)
            return _sort_key(vals[0] if vals else None)

        docs.sort(key=key, reverse=direction < 0)
    return docs


# ------------------------------------------------------------------ projection

def parse_projection(raw: str | None) -> dict[str, int] | None:
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise QueryError("Unable to parse `projection` clause") from exc
    if not isinstance(value, dict) or not all(v in (0, 1, True, False) for v in value.values()):
        raise QueryError("Unable to parse `projection` clause")
    vals = {int(v) for v in value.values()}
    if len(vals) > 1:
        raise QueryError("projection cannot mix inclusion and exclusion")
    return {k: int(v) for k, v in value.items()}


def project(doc: dict[str, Any], proj: dict[str, int] | None) -> dict[str, Any]:
    if not proj:
        return doc
    include = next(iter(proj.values())) == 1
    if include:
        out = {k: doc[k] for k in META_FIELDS if k in doc}
        for field in proj:
            top = field.split(".")[0]
            if top in doc:
                out[top] = doc[top]
        return out
    return {k: v for k, v in doc.items() if k not in proj or k in META_FIELDS}


# ------------------------------------------------------------------ pagination

def int_param(raw: str | None, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise QueryError(f"Invalid '{name}' value: {raw!r}") from exc


def list_response(
    docs: Iterable[dict[str, Any]],
    params: Any,
    *,
    path: str,
    default_max: int = 25,
    limit: int = 100,
) -> dict[str, Any]:
    where = parse_where(params.get("where"))
    sort = parse_sort(params.get("sort"))
    proj = parse_projection(params.get("projection"))
    page = int_param(params.get("page"), "page", 1)
    if page < 1:
        raise QueryError("Invalid page")
    max_results = int_param(params.get("max_results"), "max_results", default_max)
    if max_results < 1:
        max_results = default_max
    max_results = min(max_results, limit)
    selected = [d for d in docs if matches(d, where)] if where else list(docs)
    if sort:
        selected = sort_docs(selected, sort)
    total = len(selected)
    start = (page - 1) * max_results
    items = [project(d, proj) for d in selected[start:start + max_results]]
    resource = path.strip("/")
    links: dict[str, Any] = {
        "parent": {"title": "home", "href": "/"},
        "self": {"title": resource, "href": resource},
    }
    last = max(1, (total + max_results - 1) // max_results)
    if page < last:
        links["next"] = {"title": "next page", "href": f"{resource}?max_results={max_results}&page={page + 1}"}
        links["last"] = {"title": "last page", "href": f"{resource}?max_results={max_results}&page={last}"}
    if page > 1:
        links["prev"] = {"title": "previous page", "href": f"{resource}?max_results={max_results}&page={page - 1}"}
    return {"_items": items, "_links": links, "_meta": {"page": page, "max_results": max_results, "total": total}}


