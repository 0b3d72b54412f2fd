"""Datelines: the "BRUXELLES, 2 mars 2014 (AFP) - " that opens a summary or body.

Concepts marked ``skip_dateline`` ignore matches inside it, so a dateline city
is not read as news about that city. Pure functions of the text; only the first
160 characters are looked at, and a cheap search for what the patterns need runs
before them (their lazy repeats make a failing match cost several microseconds),
with the same result as matching the patterns directly.
"""

from __future__ import annotations

import re

from monitor.classify.normalize import TOKEN_RE

# A dateline opens a summary or body: "BRUXELLES, 2 mars 2014 (AFP) - ", "Ammán, 9 jul (EFE).-",
# "هامبورغ (رويترز) - ", or, after an ALL-CAPS place, "МОСКВА, 12 февраля — " / "МОСКВА, 7 июля. /ТАСС/.".
DATELINE_AGENCY = re.compile(
    r"^\s*(?:<[^>]{0,40}>\s*)*[^\n.!?]{1,90}?\([^()\n]{1,40}\)\s*[.,]?\s*[-\u2013\u2014]+"
)
DATELINE_CAPS = re.compile(
    r"^\s*(?:<[^>]{0,40}>\s*)*[^\W\d_a-z]{2,}[^\n.!?]{0,60}?(?:\s[-\u2013\u2014]+\s|\.?\s*/[^/\n]{1,20}/)"
)


# Something each pattern needs (a cheap search first: the patterns' lazy repeats make
# a failing match cost several microseconds).
_DATELINE_CAPS_NEEDS = re.compile(r"\s[-\u2013\u2014]+\s|/[^/\n]{1,20}/")


def dateline_end(text: str) -> int:
    """Length of the dateline that opens *text* (0 if none). Pure; looks at 160 chars."""
    head = text[:160]
    match = DATELINE_AGENCY.match(head) if "(" in head else None
    if match is None and _DATELINE_CAPS_NEEDS.search(head):
        match = DATELINE_CAPS.match(head)
    return match.end() if match else 0


def dateline_tokens(text: str) -> int:
    end = dateline_end(text)
    return len(TOKEN_RE.findall(text[:end])) if end else 0
