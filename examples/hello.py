"""A first program for the sandbox: `accord sandbox run examples/hello.py Ada`."""

import socket
import sys

name = sys.argv[1] if len(sys.argv) > 1 else "world"
print(f"hello, {name}, from {socket.gethostname()!r}")
try:
    socket.create_connection(("1.1.1.1", 53), timeout=1)
    print("network: reachable")
except OSError as exc:
    print(f"network: unreachable ({exc.strerror or exc})")
