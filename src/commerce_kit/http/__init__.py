"""Failures as HTTP answers: user-facing messages, RFC 9457 problem documents, ``Retry-After``.

Framework-agnostic and standard library only: every helper returns plain values (a status, a
``dict[str, str]`` of headers, a JSON-ready ``dict``) that any web framework can send.
:func:`problem_for` turns any exception into a :class:`Problem`; :func:`user_message_for` gives
the sentence an end user sees, from the one catalogue of such sentences.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

from commerce_kit._http_headers import format_retry_after
from commerce_kit.http._catalogue import HTTP_STATUS, UserMessage, user_message_for
from commerce_kit.http._problem import MEDIA_TYPE, PROBLEM_TYPE_BASE, Problem, problem_for

# Public names say they live where users import them from (docs, reprs, pickles agree).
for _public in (Problem, UserMessage, format_retry_after, problem_for, user_message_for):
    _public.__module__ = __name__
del _public

__all__ = [
    "HTTP_STATUS",
    "MEDIA_TYPE",
    "PROBLEM_TYPE_BASE",
    "Problem",
    "UserMessage",
    "format_retry_after",
    "problem_for",
    "user_message_for",
]
