"""A throwaway PostgreSQL server on loopback for the run-store tests.

The server binaries come from Debian's ``postgresql`` package (``scripts/test-services.sh``
installs it). The cluster lives in a temporary folder, listens on a free loopback port and
trusts local connections; it is stopped and removed at the end of the session. PostgreSQL
refuses to run as root, so as root the cluster runs as the ``postgres`` system user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Unavailable(RuntimeError):
    """Why no server could be started (the tests skip with this message)."""


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a cluster; yields its SQLAlchemy URL."""
    bindir = _binaries()
    if bindir is None:
        raise Unavailable("PostgreSQL server binaries (initdb, pg_ctl) not found; "
                          "scripts/test-services.sh installs Debian's postgresql package")
    prefix: list[str] = []
    user = None
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            raise Unavailable("running as root and there is no 'postgres' user to run the "
                              "server as") from None
        prefix = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="assay-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if user is not None:
        for p in (root, sock):
            os.chown(p, user.pw_uid, user.pw_gid)
    port = _free_port()
    try:
        init = subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                               "--auth=trust", "-E", "UTF8", "--no-sync"],
                              capture_output=True, text=True, timeout=120)
        if init.returncode:
            raise Unavailable(f"initdb failed: {init.stderr.strip()[-500:]}")
        opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
        start = subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-o", opts,
                                "-l", str(root / "server.log"), "-w", "-t", "60", "start"],
                               capture_output=True, text=True, timeout=90)
        if start.returncode:
            log = (root / "server.log").read_text(errors="replace")[-800:] \
                if (root / "server.log").exists() else ""
            raise Unavailable(f"pg_ctl start failed: {start.stderr.strip()[-300:]} {log}")
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                            "stop"], capture_output=True, timeout=60)
    finally:
        shutil.rmtree(root, ignore_errors=True)
