#!/usr/bin/env python3
"""Example rollcall plugin `seat_type`, as a subprocess (Python 3, standard library only).

It speaks the rollcall plugin messages as JSON lines on stdin/stdout: the host sends
`hello` first and gets the description back; then each request line gets exactly one
response line. It offers the same functions as the Rust example
(examples/plugin-seat-type):

- seat_type (field transform): a Miro licence name to full, trial, occasional, free,
  restricted or other.
- full_name (field transform, needs the record): "givenName familyName", else the value.
- enrich (record transform): adds seatType and fullName; drops records without userName.

Protocol 2: `full_name` and `enrich` declare the attributes they read (`needs`), so
rollcall sends only those, and `enrich` answers patches (`{"set": {...}}`) instead of
whole records. A page of 1000 users then costs a few milliseconds, not tens.

Install: copy this file into a plugin directory and make it executable.
"""

import json
import sys

PROTOCOL = 2

# What `full_name` and `enrich` read of a record.
NEEDS = ["userName", "userType", "name", "displayName"]

DESCRIPTION = {
    "name": "seat_type",
    "version": "0.1.0",
    "description": "Canonical seat types and full names for Miro users.",
    "capabilities": [
        {"kind": "field_transform", "function": "seat_type",
         "description": "A Miro licence name to full, trial, occasional, free, restricted or other."},
        {"kind": "field_transform", "function": "full_name", "needs": NEEDS,
         "description": "givenName familyName from the record's SCIM name, else the value."},
        {"kind": "record_transform", "function": "enrich", "needs": NEEDS,
         "description": "Adds seatType and fullName; drops records without a userName."},
    ],
}

SEATS = {
    "full": "full", "standard": "full", "advanced": "full", "business": "full",
    "enterprise": "full", "full (trial)": "trial", "basic": "occasional",
    "occasional": "occasional", "free": "free", "free restricted": "restricted",
}


def seat_type(licence):
    return SEATS.get(licence.strip().lower(), "other")


def full_name(record):
    name = record.get("name") if isinstance(record, dict) else None
    if not isinstance(name, dict):
        return None
    parts = []
    for key in ("givenName", "familyName"):
        part = name.get(key)
        if isinstance(part, str) and part.strip():
            parts.append(part.strip())
    return " ".join(parts) or None


def enrich(record):
    if not isinstance(record, dict):
        return {"drop": "it is not an object"}
    user = record.get("userName")
    if not isinstance(user, str) or not user.strip():
        return {"drop": "it has no userName"}
    changes = {}
    licence = record.get("userType")
    if isinstance(licence, str):
        changes["seatType"] = seat_type(licence)
    full = full_name(record) or record.get("displayName")
    if isinstance(full, str):
        changes["fullName"] = full
    return {"set": changes}


def answer(request):
    kind = request.get("type")
    if kind == "hello":
        return {"type": "hello", "protocol": PROTOCOL, "plugin": DESCRIPTION}
    function = request.get("function")
    if kind == "transform" and function == "seat_type":
        value = request.get("value")
        if not isinstance(value, str):
            return {"type": "error", "message": "a licence name should be text, not %s" % json.dumps(value)}
        return {"type": "value", "value": seat_type(value)}
    if kind == "transform" and function == "full_name":
        return {"type": "value", "value": full_name(request.get("record")) or request.get("value")}
    if kind == "batch" and function == "enrich":
        return {"type": "records", "records": [enrich(r) for r in request.get("records", [])]}
    return {"type": "error", "message": "there is no %s function `%s`" % (kind, function)}


def main():
    # Bytes in; one line of bytes, one write and one flush per answer out.
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    encode = json.JSONEncoder(separators=(",", ":")).encode
    for line in stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError as e:
            response = {"type": "error", "message": "the plugin could not read the request: %s" % e}
        else:
            if request.get("type") == "goodbye":
                return
            response = answer(request)
        stdout.write((encode(response) + "\n").encode())
        stdout.flush()


if __name__ == "__main__":
    main()
