"""`pipec ui`: the run pages of a store, served on this machine."""

from __future__ import annotations

from typing import Annotated

import typer

from pipec.cli.output import StorageOpt, err, open_store, usage
from pipec.report.server import make_server


def ui(
    storage: StorageOpt = None,
    port: Annotated[int, typer.Option("--port", help="port to listen on (0: any free one)")] = 8765,
    host: Annotated[
        str, typer.Option("--host", help="address to listen on; others can read the store")
    ] = "127.0.0.1",
) -> None:
    """Serve every run of a store as pages (read-only), with a runs list; Ctrl+C stops."""
    store = open_store(storage)
    try:
        server = make_server(store, host, port)
    except OSError as exc:
        usage(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    bound_host, bound_port = server.server_address[:2]
    shown = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
    err.print(f"serving {store.url} at http://{shown}:{bound_port}/ (Ctrl+C stops)", markup=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
