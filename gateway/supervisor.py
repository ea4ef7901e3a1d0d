"""`schemashift serve`: the gateway and the four consumers as separate processes, one supervisor.

Each role runs in its own process (as it would in production, where each scales on its own); a
role that dies is restarted after a short pause, and Ctrl-C (or SIGTERM) stops them all: each
finishes the message in hand and commits before it exits. It says where each role's Prometheus
metrics are: a configured port that is taken (another instance on this machine) is replaced by a
free one before the role starts, and the role keeps that port across restarts.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from schemashift.consumers.common.settings import Settings, get_settings

ROLES: tuple[str, ...] = ("tracker", "comparator", "generator", "executor", "gateway")
_STOP_GRACE_S = 30.0
_RESTART_PAUSE_S = 1.0


def _spawn(role: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    # Own process group: a Ctrl-C in the terminal reaches the supervisor, which stops the
    # children in order, rather than every child at once.
    return subprocess.Popen(
        [sys.executable, "-m", "schemashift.gateway.cli", "run", role],
        start_new_session=True,
        env={**os.environ, **env},
    )


def _record_pid(pid_dir: Path | None, role: str, child: subprocess.Popen[bytes]) -> None:
    if pid_dir is not None:
        pid_dir.mkdir(parents=True, exist_ok=True)
        (pid_dir / f"{role}.pid").write_text(f"{child.pid}\n")


def _bound(host: str, port: int) -> socket.socket | None:
    """A socket bound to ``host:port`` (0: a free port), or None when the port is taken."""
    probe = socket.socket()
    # As the role's listener will (asyncio's default): a port in TIME_WAIT counts as free.
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((host, port))
    except OSError:
        probe.close()
        return None
    return probe


def metrics_ports(roles: Sequence[str], settings: Settings) -> dict[str, int]:
    """The port each consumer role of ``roles`` will serve its metrics on (none when off).

    The configured port when it is free, else (taken, or configured as 0) a free one: the
    supervisor hands it to the role, so the URLs it prints are the ones that answer. The
    ports are held until all are chosen, so no two roles get the same free one.
    """
    if not settings.metrics_enabled:
        return {}
    held: dict[str, socket.socket] = {}
    try:
        for role in roles:
            if role == "gateway":
                continue
            port = settings.metrics_port(role)
            probe = (_bound(settings.metrics_host, port) if port else None) or _bound(
                settings.metrics_host, 0
            )
            if probe is not None:  # else the role tries itself, and says what it found
                held[role] = probe
        return {role: int(probe.getsockname()[1]) for role, probe in held.items()}
    finally:
        for probe in held.values():
            probe.close()


def metrics_urls(
    roles: Sequence[str], settings: Settings, ports: dict[str, int] | None = None
) -> dict[str, str]:
    """Where each of ``roles`` serves its metrics: ``ports`` where given, else as configured."""
    ports = ports or {}
    urls = {}
    for role in roles:
        if role == "gateway":
            urls[role] = f"http://{settings.gateway_host}:{settings.gateway_port}/metrics"
        elif settings.metrics_enabled:
            port = ports.get(role, settings.metrics_port(role))
            where = "a free port" if port == 0 else str(port)
            urls[role] = f"http://{settings.metrics_host}:{where}/metrics"
    return urls


def serve(
    roles: Sequence[str] = ROLES, *, restart: bool = True, pid_dir: Path | None = None
) -> int:
    """Run ``roles`` until SIGINT/SIGTERM; returns the exit code.

    With ``pid_dir``, each role's current pid is kept in ``<pid_dir>/<role>.pid`` (operators
    and the crash tests use it to signal one role).
    """
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    settings = get_settings()
    ports = metrics_ports(roles, settings)
    role_env = {
        role: {f"SCHEMASHIFT_{role.upper()}_METRICS_PORT": str(port)}
        for role, port in ports.items()
    }
    children = {role: _spawn(role, role_env.get(role, {})) for role in roles}
    for role, child in children.items():
        _record_pid(pid_dir, role, child)
    print(f"schemashift: serving {', '.join(roles)} (pid {os.getpid()}); Ctrl-C stops", flush=True)
    urls = metrics_urls(roles, settings, ports)
    print("schemashift: metrics: " + ", ".join(f"{r} {u}" for r, u in urls.items()), flush=True)
    try:
        while not stopping:
            time.sleep(0.2)
            for role, child in list(children.items()):
                code = child.poll()
                if code is None or stopping:
                    continue
                if not restart:
                    print(f"schemashift: {role} exited ({code}); stopping", file=sys.stderr)
                    stopping = True
                    break
                print(f"schemashift: {role} exited ({code}); restarting", file=sys.stderr)
                time.sleep(_RESTART_PAUSE_S)
                children[role] = _spawn(role, role_env.get(role, {}))
                _record_pid(pid_dir, role, children[role])
    finally:
        _stop_all(children)
    return 0


def _stop_all(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + _STOP_GRACE_S
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    print("schemashift: stopped", flush=True)
