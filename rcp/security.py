"""Small cryptographic helpers: random tokens, keyed hashes, password hashing, codes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from rcp.config import get_settings
from rcp.errors import RateLimited
from rcp.i18n import N_, _

BUSY = N_(
    "Le service de connexion est très sollicité en ce moment : patientez quelques secondes "
    "puis réessayez."
)


@lru_cache(maxsize=4)
def _hasher_for(time_cost: int, memory_kib: int) -> tuple[PasswordHasher, str]:
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
    # Verified against when the email is unknown, so that a wrong email costs as much time as
    # a wrong password and response times do not reveal which emails have an account.
    return hasher, hasher.hash("dummy password used to equalise timings")


def _hasher() -> tuple[PasswordHasher, str]:
    settings = get_settings()
    return _hasher_for(settings.password_hash_time_cost, settings.password_hash_memory_kib)


def new_token(nbytes: int = 32) -> str:
    """An unguessable URL-safe token (256 bits by default)."""
    return secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> str:
    """The keyed hash stored in the database instead of the token itself."""
    key = get_settings().secret_key.encode()
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def new_code(digits: int = 6) -> str:
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def code_hash(challenge_id: int, code: str) -> str:
    return token_hash(f"code:{challenge_id}:{code}")


@lru_cache(maxsize=4)
def _hash_slots(concurrency: int) -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(max(1, concurrency))


@contextmanager
def _hash_slot() -> Iterator[None]:
    """Wait for one of the process's password-hash slots; RateLimited if none frees in time.

    An argon2 hash costs a core for a tenth of a second and its memory (64 MiB): unbounded,
    a few anonymous sign-in loops slowed every other user's page (issue 14). Script threads
    wait here instead, so hashing never takes more than ``password_hash_concurrency`` cores.
    """
    settings = get_settings()
    slots = _hash_slots(settings.password_hash_concurrency)
    if not slots.acquire(timeout=max(0.0, settings.password_hash_wait_seconds)):
        raise RateLimited(_(BUSY))
    try:
        yield
    finally:
        slots.release()


def hash_password(password: str) -> str:
    hasher = _hasher()[0]
    with _hash_slot():
        return hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; always spends the same time, even with no hash."""
    hasher, dummy = _hasher()
    with _hash_slot():
        try:
            return hasher.verify(password_hash or dummy, password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
