"""Python-Eve conventions the Swedish ADA API follows (reference Part C): list queries, validation, errors.

Modules: ``query`` (``where``/``sort``/``projection``/pagination), ``validation`` (Cerberus-style
schemas and ``_issues``), ``errors`` (``_status: ERR`` bodies).
"""

from .errors import eve_error, eve_error_response, eve_issues
from .query import QueryError, list_response
from .validation import Schema, validate

__all__ = ["QueryError", "Schema", "eve_error", "eve_error_response", "eve_issues", "list_response", "validate"]
