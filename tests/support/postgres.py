"""A throwaway PostgreSQL server for tests and ``make prod-check``: installed from the system's
packages when missing, a fresh cluster on a free loopback port, stopped at the end."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.packages import ensure_installed


def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def install_postgres() -> Path:
    """apt-get install postgresql when the binaries are missing (CI on a fresh machine)."""
    return ensure_installed(pg_bin, "postgresql", timeout=900)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalPostgres:
    """``with LocalPostgres() as pg: pg.create_database("x")`` -> a psycopg URL of a new database."""

    def __init__(self, base: Path | None = None, *, max_connections: int = 200) -> None:
        self.bin = install_postgres()
        self.base = Path(base or tempfile.mkdtemp(prefix="amili-pg-"))
        self.max_connections = max_connections
        self.port = 0
        self.user = "postgres"
        try:
            import pwd

            pwd.getpwnam(self.user)
        except KeyError:
            self.user = "nobody"

    def _as_user(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", self.user, "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *cmd], check=check, capture_output=True, text=True)

    def start(self) -> LocalPostgres:
        data, sock = self.base / "data", self.base / "sock"
        sock.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.base, user=self.user)
            shutil.chown(sock, user=self.user)
            os.chmod(self.base, 0o755)
            # the server's user must be able to traverse the temporary folder's parents
            for parent in self.base.parents:
                if str(parent) in ("/", "/tmp"):
                    break
                os.chmod(parent, os.stat(parent).st_mode | 0o011)
        self._as_user(str(self.bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync",
                      "--locale=C", "--encoding=UTF8")
        log = self.base / "server.log"
        for attempt in range(5):
            # The port can be taken between free_port() and the server's bind (another test process
            # chose it too): the server then fails to start, and another port is tried.
            self.port = free_port()
            started = self._as_user(
                str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "start", "-o",
                f"-h 127.0.0.1 -p {self.port} -k {sock} -F -c max_connections={self.max_connections}", check=False)
            if started.returncode == 0:
                return self
            said = log.read_text(errors="replace") if log.exists() else ""
            if attempt == 4 or "Address already in use" not in said:
                raise RuntimeError(f"PostgreSQL did not start on port {self.port}: {started.stderr.strip()}\n"
                                   f"{said[-2000:]}")
        raise AssertionError("unreachable")

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL (``postgresql://postgres@127.0.0.1:port/name``)."""
        for _ in range(50):
            done = self._as_user(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                                 name, check=False)
            if done.returncode == 0 or "already exists" in done.stderr:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"createdb {name}: {done.stderr}")
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        self._as_user(str(self.bin / "pg_ctl"), "-D", str(self.base / "data"), "-m", "fast", "stop", check=False)

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
