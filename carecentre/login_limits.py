"""Sign-in rate limiting: per account and per client address, sliding windows, in memory.

Failed attempts are counted per account (guessing one agent's password) and per address (trying
many accounts from one machine). Both limits apply whether or not the account exists, so the
answer never tells a guesser which email addresses are agents'. The counts live in the process:
behind several web processes each keeps its own, which multiplies the allowance by the number of
processes but never blocks a real agent longer than the window.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from carecentre.services import Services

_EXTRA = "carecentre.login_limiter"


@dataclass(frozen=True, slots=True)
class LoginLimits:
    per_account: int = 5
    per_address: int = 20
    window: float = 900.0
    # Bounds memory under a flood of made-up accounts: the oldest keys are forgotten first.
    max_keys: int = 50_000


class LoginLimiter:
    """Counts failed sign-ins; :meth:`retry_after` says how long a key must wait."""

    def __init__(
        self, limits: LoginLimits | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits or LoginLimits()
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float]:
        stamps = self._failures.get(key)
        if stamps is None:
            return deque()
        while stamps and stamps[0] <= now - self.limits.window:
            stamps.popleft()
        if not stamps:
            del self._failures[key]
        return stamps

    def _wait(self, key: str, limit: int, now: float) -> float:
        stamps = self._recent(key, now)
        if len(stamps) < limit:
            return 0.0
        return stamps[-limit] + self.limits.window - now

    def retry_after(self, account: str, address: str) -> float:
        """Seconds until another attempt for this account from this address is allowed."""
        now = self._clock()
        return max(
            self._wait("account:" + account.strip().lower(), self.limits.per_account, now),
            self._wait("address:" + address, self.limits.per_address, now),
        )

    def failed(self, account: str, address: str) -> None:
        now = self._clock()
        for key in ("account:" + account.strip().lower(), "address:" + address):
            stamps = self._failures.setdefault(key, deque())
            stamps.append(now)
            self._failures.move_to_end(key)
        while len(self._failures) > self.limits.max_keys:
            self._failures.popitem(last=False)

    def succeeded(self, account: str) -> None:
        """A right password: that account's earlier failures no longer count."""
        self._failures.pop("account:" + account.strip().lower(), None)


def limiter(svc: Services) -> LoginLimiter:
    """The app's limiter, made on first use from the settings."""
    found = svc.extras.get(_EXTRA)
    if not isinstance(found, LoginLimiter):
        settings = svc.settings
        found = LoginLimiter(
            LoginLimits(
                per_account=settings.login_max_failures_per_account,
                per_address=settings.login_max_failures_per_address,
                window=settings.login_failure_window,
            )
        )
        svc.extras[_EXTRA] = found
    return found
