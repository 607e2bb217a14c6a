"""Free TCP ports for servers the tests start.

A port taken with ``bind(("127.0.0.1", 0))`` comes from the kernel's ephemeral range
(32768-60999 on Debian), the same range outgoing connections draw their local port from:
between our probe and the server's own bind, a PostgreSQL or HTTP client of the test run can
take it, and the server dies with "Port … is not available" (seen once in CI). Listening
ports are therefore drawn below that range.
"""

from __future__ import annotations

import random
import socket

LOW, HIGH = 20000, 32000


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports in LOW..HIGH that nothing listens on or holds right now."""
    rng = random.SystemRandom()
    held: list[socket.socket] = []
    try:
        for _ in range(200 * count):
            if len(held) == count:
                break
            sock = socket.socket()
            try:
                sock.bind(("127.0.0.1", rng.randrange(LOW, HIGH)))
            except OSError:
                sock.close()
                continue
            held.append(sock)
        if len(held) < count:
            raise RuntimeError(f"no {count} free TCP ports between {LOW} and {HIGH}")
        return [sock.getsockname()[1] for sock in held]
    finally:
        for sock in held:
            sock.close()


def free_port() -> int:
    """One port in LOW..HIGH that nothing listens on or holds right now."""
    return free_ports(1)[0]
