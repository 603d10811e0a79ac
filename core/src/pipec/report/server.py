"""`pipec ui`: the run pages of a store, served read-only over HTTP.

The standard library's threading HTTP server is enough here: the pages are made on
each GET from the store's files (so a run that is still going shows its latest records
on reload), nothing is ever written, and the server listens on loopback unless told
otherwise. A framework would add dependencies and nothing a viewer needs.
"""

from __future__ import annotations

import re
from html import escape
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from pipec.report.data import RunNotFound, read_run
from pipec.report.page import run_page, runs_page
from pipec.runtime.runstore import list_runs
from pipec.store import Store

_RUN_PATH = re.compile(r"/runs/([^/]+)")

_LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def make_server(store: Store, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    """A server of `store`'s pages, bound (port 0: any free port) but not yet serving."""

    loopback = host in _LOOPBACK_NAMES

    class Handler(BaseHTTPRequestHandler):
        server_version = "pipec-ui"

        def do_GET(self) -> None:
            self._answer(send_body=True)

        def do_HEAD(self) -> None:
            self._answer(send_body=False)

        def _answer(self, *, send_body: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            status, page = HTTPStatus.OK, ""
            if loopback and _host_name(self.headers.get("Host", "")) not in _LOOPBACK_NAMES:
                # a page of another site reaching this server through a rebound DNS name
                status, page = HTTPStatus.FORBIDDEN, _plain("pipec ui answers on loopback only")
            elif path in ("/", "/runs", "/runs/"):
                page = runs_page(list_runs(store), link="/runs/{}")
            elif match := _RUN_PATH.fullmatch(path.rstrip("/")):
                try:
                    page = run_page(read_run(store, match.group(1)), runs_link="/")
                except RunNotFound as exc:
                    status, page = HTTPStatus.NOT_FOUND, _plain(str(exc))
            else:
                status, page = HTTPStatus.NOT_FOUND, _plain(f"no page {path}")
            body = page.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # one line per request would drown the URL printed at start

    return ThreadingHTTPServer((host, port), Handler)


def _host_name(header: str) -> str:
    """The host of a Host header, without its port."""
    if header.startswith("["):
        return header.split("]", 1)[0] + "]"
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _plain(message: str) -> str:
    return f"<!DOCTYPE html><html><body><p>{escape(message)}</p><p><a href='/'>all runs</a></p>"
