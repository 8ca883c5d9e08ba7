"""Which allow/never-list entries are well formed.  Pure.

A guard list entry is an IP address or CIDR (``10.0.0.0/8``, ``2001:db8::/32``)
or an fnmatch glob over targets (``shop/*``, a thread id, a component name).
An entry that *looks* like a network but is not one (``192.168.10.0/33``,
``10.0.0/8``, ``300.1.1.1``) would otherwise fall through to the glob match and
match nothing: a never-list that silently protects nothing.  Such entries are
malformed, and so is an entry with whitespace or control characters.

``NETWORK_LIKE`` is written in the regex subset RE2 and Python share, so the CRD's
CEL rule (``isIP``/``isCIDR`` on what it matches) and ``entry_problem`` agree.
Targets never contain a dot before a ``/`` (namespaces are DNS labels) nor a
colon, so no glob meant for pods, threads or components is caught by it.
"""

from __future__ import annotations

import ipaddress
import re

# Digits with at least one dot (an IPv4 address, maybe with /prefix), or anything with
# a colon (IPv6; no pod, namespace, thread id or component name has one).
NETWORK_LIKE = r"^([0-9]+([.][0-9]+)+(/.*)?|.*:.*)$"
# One token of printable characters: no space, tab, newline or control character.
ENTRY_PATTERN = r"^[!-~]+$"
ENTRY_MAX_LENGTH = 253

_NETWORK_LIKE = re.compile(NETWORK_LIKE)
_ENTRY = re.compile(ENTRY_PATTERN)


def entry_problem(entry: str) -> str | None:
    """Why a guard list entry is malformed, or None if it is usable (pure)."""
    if not entry or len(entry) > ENTRY_MAX_LENGTH or not _ENTRY.fullmatch(entry):
        return (
            f"{entry!r} is not a target pattern: use 1-{ENTRY_MAX_LENGTH} printable "
            "characters without spaces"
        )
    if _NETWORK_LIKE.fullmatch(entry):
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError as error:
            return f"{entry!r} looks like an IP network but is not one ({error})"
    return None


def first_malformed(entries: tuple[str, ...] | list[str]) -> tuple[int, str] | None:
    """(index, reason) of the first malformed entry, or None (pure)."""
    for index, entry in enumerate(entries):
        problem = entry_problem(entry)
        if problem is not None:
            return index, problem
    return None
