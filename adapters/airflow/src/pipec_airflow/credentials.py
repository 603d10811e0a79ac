"""Storage credentials from an Airflow connection, handed to fsspec.

A DAG file never holds a secret: the compile option `storage_conn` names an Airflow
connection, and each pipec task reads that connection on the worker
(through Airflow's own lookup: metadata database, secrets backend or `AIRFLOW_CONN_<ID>`)
before it opens the store. The settings go where fsspec looks for them: its configuration
in the task's process, and `FSSPEC_<PROTOCOL>` in the environment the step processes
start with.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import fsspec.config
from fsspec.core import split_protocol
from pipec.errors import UsageError

if TYPE_CHECKING:  # Airflow is imported when a connection is read, not with the target
    from airflow.sdk import Connection

STORAGE_CONN = "storage_conn"
"""The compile option naming the connection."""

S3_PROTOCOLS = ("s3", "s3a")
"""The protocols an `aws` connection gives settings for (s3fs's)."""


def storage_options(conn: Connection, protocol: str) -> dict[str, Any]:
    """fsspec settings for `protocol` from an Airflow connection: the `storage_options`
    object in its extra when there is one (any filesystem: gs, azure, ...), else an `aws`
    connection's fields as s3fs's arguments."""
    extra = conn.extra_dejson
    if "storage_options" in extra:
        options = extra["storage_options"]
        if not isinstance(options, dict):
            raise UsageError(
                f"Airflow connection {conn.conn_id!r}: 'storage_options' in its extra must be"
                " a JSON object of fsspec settings"
            )
        return options
    if conn.conn_type != "aws":
        raise UsageError(
            f"Airflow connection {conn.conn_id!r} (type {conn.conn_type!r}) gives no storage"
            " settings: use an 'aws' connection, or put fsspec's settings in its extra as"
            " 'storage_options'"
        )
    if protocol not in S3_PROTOCOLS:
        raise UsageError(
            f"Airflow connection {conn.conn_id!r} is an 'aws' connection, but the storage is"
            f" {protocol}://: put fsspec's settings for it in the extra as 'storage_options'"
        )
    client = {key: extra[key] for key in ("endpoint_url", "region_name") if extra.get(key)}
    options = {
        "key": conn.login,
        "secret": conn.password,
        "token": extra.get("aws_session_token"),
        "client_kwargs": client,
    }
    return {key: value for key, value in options.items() if value}


def use_storage_connection(conn_id: str, storage: str | None) -> None:
    """Configure fsspec, here and in step processes started from now on, with `conn_id`'s
    settings for the protocol of `storage` (None: the worker's $PIPEC_STORAGE)."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    url = storage or os.environ.get("PIPEC_STORAGE") or ""
    protocol = split_protocol(url)[0] or "file"
    try:
        conn = Connection.get(conn_id)
    except AirflowNotFoundException:
        raise UsageError(f"{STORAGE_CONN}: Airflow has no connection {conn_id!r}") from None
    settings = fsspec.config.conf.setdefault(protocol, {})
    settings.update(storage_options(conn, protocol))
    os.environ[f"FSSPEC_{protocol.upper()}"] = json.dumps(settings)
