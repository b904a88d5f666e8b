#!/usr/bin/env python3
"""Example rollcall plugin `pager`, as a subprocess (Python 3, standard library only).

A paginator: after each page of a stream, rollcall sends a `paginate` message (the URL
it requested, the status, the response headers, how many records the page held, and
the body attributes the function declared in `needs`); the plugin answers the next
request or the end:

    {"type": "next", "params": {"startIndex": 11}}   query parameters for the stream's URL
    {"type": "next", "url": "/Users?page=2"}         a URL (relative to the one requested)
    {"type": "end"}                                  no more pages

It offers the same function as the Rust example (examples/plugin-pager):

- scim_pages (paginator): walks a SCIM list by startIndex: the next startIndex is this
  page's plus the records the page held; the list ends with an empty page or once
  totalResults are read. The page size is the stream's own `count` query parameter.

Install: copy this file into a plugin directory and make it executable.
"""

import json
import sys

PROTOCOL = 2

DESCRIPTION = {
    "name": "pager",
    "version": "0.1.0",
    "description": "Paginators for APIs the built-in ones do not fit.",
    "capabilities": [
        {"kind": "paginator", "function": "scim_pages", "needs": ["startIndex", "totalResults"],
         "description": "SCIM paging: the next startIndex from this page's, until totalResults."},
    ],
}


def number(body, name):
    value = body.get(name) if isinstance(body, dict) else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def scim_pages(count, body):
    if count == 0:
        return {"type": "end"}
    start = max(number(body, "startIndex") or 1, 1)
    following = start + count
    total = number(body, "totalResults")
    if total is not None and following > total:
        return {"type": "end"}
    return {"type": "next", "params": {"startIndex": following}}


def answer(request):
    kind = request.get("type")
    if kind == "hello":
        return {"type": "hello", "protocol": PROTOCOL, "plugin": DESCRIPTION}
    function = request.get("function")
    if kind == "paginate" and function == "scim_pages":
        return scim_pages(request.get("count", 0), request.get("body"))
    return {"type": "error", "message": "there is no %s function `%s`" % (kind, function)}


def main():
    stdin, stdout = sys.stdin.buffer, sys.stdout
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
        stdout.write(json.dumps(response, separators=(",", ":")) + "\n")
        stdout.flush()


if __name__ == "__main__":
    main()
