"""Escape suite, network: no TCP to host listeners, no DNS, no host abstract sockets."""

from __future__ import annotations

import socket
import uuid

from tests.sandbox.conftest import report

CONNECT = """
import json, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
try:
    socket.create_connection((host, port), timeout=1).sendall(b"escaped")
    print(json.dumps({"connected": True}))
except OSError as exc:
    print(json.dumps({"connected": False, "error": str(exc)}))
"""


def test_tcp_connect_to_host_listener_fails(run) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.3)
    port = listener.getsockname()[1]
    try:
        out = report(run(CONNECT, "127.0.0.1", str(port)))
        assert out["connected"] is False
        try:
            conn, _ = listener.accept()
            conn.close()
            raise AssertionError("the host listener accepted a connection from the sandbox")
        except TimeoutError:
            pass
    finally:
        listener.close()


def test_tcp_to_outside_address_fails(run) -> None:
    out = report(run(CONNECT, "1.1.1.1", "443"))
    assert out["connected"] is False
    assert "unreachable" in out["error"].lower()


def test_only_loopback_interface(run) -> None:
    code = "import json, socket; print(json.dumps([n for _, n in socket.if_nameindex()]))"
    assert report(run(code)) == ["lo"]


def test_dns_lookup_fails(run) -> None:
    code = """
import json, socket
results = {}
for name in ("pypi.org", "example.com", "deb.debian.org"):
    try:
        results[name] = socket.getaddrinfo(name, 443)[0][4][0]
    except OSError as exc:
        results[name] = None
try:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"\\x00" * 12, ("8.8.8.8", 53))
    results["udp"] = "sent"
except OSError:
    results["udp"] = None
print(json.dumps(results))
"""
    out = report(run(code))
    assert out == {"pypi.org": None, "example.com": None, "deb.debian.org": None, "udp": None}


def test_host_abstract_unix_socket_unreachable(run) -> None:
    name = f"accord-escape-{uuid.uuid4().hex}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind("\0" + name)
    server.listen(1)
    server.settimeout(0.3)
    code = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect("\\0" + sys.argv[1]); print(json.dumps({"connected": True}))
except OSError as exc:
    print(json.dumps({"connected": False}))
"""
    try:
        assert report(run(code, name)) == {"connected": False}
        try:
            server.accept()[0].close()
            raise AssertionError("a host abstract socket accepted the sandbox")
        except TimeoutError:
            pass
    finally:
        server.close()
