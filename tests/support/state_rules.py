"""The rules of the API that its document cannot say, shared by the suite's schemathesis run
(``tests/functional/test_api_schemathesis.py``) and the command-line run
(``tests/support/schemathesis_cli.py``).

They depend on what is stored, on the microversion, or on a syntax beyond JSON Schema's reach:
a request valid by the document may get a 400 (declared for every route) for these, with this
wording, and for nothing else. A rule that is a state of the object itself (a cluster in
progress, a driver's own keypair) answers 409, also declared, and needs no entry here.
"""

from __future__ import annotations

import re

STATE_RULES = re.compile("|".join((
    r"could not be found",                      # names an object or catalog item that is absent
    r"in the provided microversion",            # e.g. a resize to 0 below 1.10
    r"Keypair data is invalid",                 # the public key's own encoding
    r"is not a DNS zone name",                  # a federation's dns-zone syntax
    r"is referenced by one or multiple",        # a template clusters use (upstream's 400)
    r"Deleting a default nodegroup",            # the nodegroup's role (upstream's 400)
    r"is not supported by driver",              # an ability the cluster's driver lacks
    r"has existed, please use 'replace'",       # a patch's add on an attribute already set
    r"cannot change cluster property",          # a patch's new value of a fixed attribute
    r"non-existent object",                     # a patch's replace or remove of a label not set
)))


def refusal_of_valid_request(status: int, text: str) -> str | None:
    """Why an answer to a request the document calls valid is wrong, or None when it is one
    a valid request may get. A 413 is one: a body can be valid and larger than the limit."""
    if status == 400 and not STATE_RULES.search(text):
        return f"valid by the document, refused: {text}"
    return None
