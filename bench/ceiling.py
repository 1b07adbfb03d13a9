"""The ceiling: a minimal Starlette app answering constant JSON, on the service's stack.

Served exactly as ``portcullis serve`` serves the service (uvicorn, a listening socket a
worker, the same worker count and the options of ``portcullis.cli.server_options``), so
the token check's throughput can be read as a fraction of what the stack can serve.

    python -m bench.ceiling --port 8123 --workers 2
"""

from __future__ import annotations

import argparse

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portcullis import worker_listeners
from portcullis.cli import server_options

# About the size of a profile answer, so both runs move the same bytes.
BODY = orjson.dumps(
    {
        "sessid": "x" * 43,
        "email": "bench-000001@example.org",
        "username": "bench-000001@example.org",
        "secret": "0" * 32,
        "fullname": "Bench User 1",
        "superuser": False,
        "allow": ["bench-000001@example.org", "Public"],
        "deny": [],
        "aux": {"orcid": None},
        "orcid": None,
        "lastActivity": "2026-01-01T00:00:00+00:00",
    }
)


async def constant(request: Request) -> Response:
    return Response(BODY, media_type="application/json", headers={"Cache-Control": "no-store"})


app = Starlette(routes=[Route("/auth/profile", constant)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    worker_listeners.serve(
        "bench.ceiling:app", args.host, args.port, args.workers, **server_options()
    )


if __name__ == "__main__":
    main()
