"""Fault injectors for the chaos suite: a private Redis, a TCP proxy, a held row lock.

Everything listens on loopback only, is bounded in time, and is stopped by its fixture even
when a test fails. The shared services of the machine are never stopped or frozen.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisProcess:
    """A redis-server of the test's own on a free loopback port, without persistence.

    ``freeze``/``thaw`` send SIGSTOP/SIGCONT: the port stays open and the kernel still accepts
    connections, but nothing answers, which is what a hung Redis looks like to a client.
    """

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.frozen = False

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, timeout_s: float = 10.0) -> None:
        """Start the server (same port as before) and wait until it answers PING."""
        assert self.process is None or self.process.poll() is not None, "already running"
        log = open(self.workdir / f"redis-{self.port}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir), "--protected-mode", "yes"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.frozen = False
        deadline = time.monotonic() + timeout_s
        while not self.ping():
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer within {timeout_s}s")
            time.sleep(0.05)

    def ping(self, timeout_s: float = 0.5) -> bool:
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=timeout_s,
                             socket_connect_timeout=timeout_s)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the server (connections are refused afterwards); SIGKILL if it lingers."""
        if not self.running:
            return
        assert self.process is not None
        if self.frozen:
            self.thaw()
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def freeze(self) -> None:
        """SIGSTOP: the server keeps its sockets but answers nothing."""
        assert self.process is not None and self.running
        os.kill(self.process.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        """SIGCONT: the server answers again, with every key it had."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)
        self.frozen = False

    def close(self) -> None:
        """Always leaves nothing behind (a frozen server is woken up first to end cleanly)."""
        if self.process is None:
            return
        if self.running:
            if self.frozen:
                os.kill(self.process.pid, signal.SIGCONT)
            self.process.kill()
        self.process.wait()


@contextmanager
def redis_process(workdir: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(workdir)
    server.start()
    try:
        yield server
    finally:
        server.close()


class TcpProxy:
    """A loopback TCP proxy (e.g. in front of PostgreSQL) with three modes.

    - ``forward()``: bytes flow both ways (the normal state).
    - ``stall()``: connections stay open and new ones are accepted, but nothing is forwarded
      (data is held, not dropped, and flows again on ``forward()``): a network that stopped
      delivering, or a server that stopped answering, without any error.
    - ``refuse()``: every open connection is cut and new ones are refused (the port is closed):
      a database host that is down.
    """

    def __init__(self, upstream: tuple[str, int], port: int | None = None) -> None:
        self.upstream = upstream
        self.port = port or free_port()
        self.mode = "forward"
        self._flowing = threading.Event()
        self._flowing.set()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._server: socket.socket | None = None
        self.accepted = 0
        self._listen()

    def _listen(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True,
                         name=f"proxy-accept-{self.port}").start()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return  # the listening socket was closed (refuse/close)
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
                self.accepted += 1
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                # While stalled the chunk in hand is held and src is no longer read, so the
                # kernel buffers fill and the sender sees silence, not an error.
                self._flowing.wait()
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    @property
    def open_connections(self) -> int:
        with self._lock:
            return sum(1 for sock in self._conns if sock.fileno() != -1) // 2

    def forward(self) -> None:
        if self._server is None:
            self._listen()
        self.mode = "forward"
        self._flowing.set()

    def stall(self) -> None:
        if self._server is None:
            self._listen()
        self.mode = "stall"
        self._flowing.clear()

    def refuse(self) -> None:
        self.mode = "refuse"
        self._close_listener()
        self._cut_all()
        self._flowing.set()  # held chunks go nowhere: their sockets are closed

    def _close_listener(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        try:  # wakes the thread blocked in accept(); close() alone does not on Linux
            server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        server.close()

    def _cut_all(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def close(self) -> None:
        self._close_listener()
        self._flowing.set()
        self._cut_all()


@contextmanager
def tcp_proxy(upstream: tuple[str, int]) -> Iterator[TcpProxy]:
    proxy = TcpProxy(upstream)
    try:
        yield proxy
    finally:
        proxy.close()


def postgres_url(database: str, *, host: str = "127.0.0.1", port: int = 5432,
                 user: str = "postgres") -> str:
    return f"postgres://{user}@{host}:{port}/{database}"


class RowLockHolder:
    """Holds rows of a tenant table locked (``SELECT ... FOR UPDATE``) from a connection of its
    own, as a slow or stuck transaction elsewhere would; ``release()`` rolls back.

    The holder's own session has no idle-in-transaction or statement timeout, so it keeps the
    lock for as long as the test asks, whatever the project's settings are.
    """

    def __init__(self, conninfo: str, schema: str, table: str, where: str,
                 params: tuple[Any, ...]) -> None:
        import psycopg

        self.conn = psycopg.connect(conninfo, autocommit=False, connect_timeout=5)
        with self.conn.cursor() as cursor:
            cursor.execute("SET idle_in_transaction_session_timeout = 0")
            cursor.execute("SET statement_timeout = 0")
            cursor.execute("SELECT set_config('search_path', %s, true)", [schema])
            cursor.execute(f"SELECT 1 FROM {table} WHERE {where} FOR UPDATE", params)  # noqa: S608
            self.rows = cursor.rowcount
        self.locked_at = time.monotonic()

    def release(self) -> None:
        if not self.conn.closed:
            self.conn.rollback()
            self.conn.close()


def django_conninfo() -> str:
    """The libpq conninfo of Django's default database (the test database during tests)."""
    from django.db import connection

    params = connection.settings_dict
    return (f"host={params['HOST'] or '127.0.0.1'} port={params['PORT'] or 5432} "
            f"dbname={params['NAME']} user={params['USER'] or 'postgres'}"
            + (f" password={params['PASSWORD']}" if params.get("PASSWORD") else ""))


@contextmanager
def lease_row_locked(schema: str, camera_id: int) -> Iterator[RowLockHolder]:
    """The camera's lease row locked by another transaction for the duration of the block."""
    from counting.models import CameraLease

    holder = RowLockHolder(django_conninfo(), schema, CameraLease._meta.db_table,
                           "camera_id = %s", (camera_id,))
    try:
        yield holder
    finally:
        holder.release()


def lease_row_locked_for(schema: str, camera_id: int, seconds: float) -> threading.Thread:
    """Lock the camera's lease row for ``seconds`` in a background thread (started, returned:
    ``join()`` it). The lock is taken before this returns."""
    taken = threading.Event()
    failure: list[BaseException] = []

    def hold() -> None:
        try:
            with lease_row_locked(schema, camera_id):
                taken.set()
                time.sleep(seconds)
        except BaseException as exc:  # noqa: BLE001 - reported to the caller below
            failure.append(exc)
            taken.set()

    thread = threading.Thread(target=hold, daemon=True, name=f"lease-lock-{camera_id}")
    thread.start()
    taken.wait(timeout=10)
    if failure:
        raise failure[0]
    return thread


MARKER_VARIABLE = "CHAOS_RUN_MARKER"


def processes_marked(marker: str) -> list[int]:
    """Pids of live processes whose environment has ``CHAOS_RUN_MARKER=<marker>``: everything a
    test started with that variable, and every child of those, however deep (the environment
    is inherited), even after a parent died and the child was re-parented."""
    needle = f"{MARKER_VARIABLE}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # gone, or not ours
        if state != "Z" and needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def wait_until_gone(marker: str, timeout_s: float) -> list[int]:
    """Wait for every marked process to end; returns those still alive after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while (alive := processes_marked(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def kill_marked(marker: str) -> None:
    """SIGKILL whatever is left of a test's processes (clean-up after a failed assertion)."""
    for pid in processes_marked(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
