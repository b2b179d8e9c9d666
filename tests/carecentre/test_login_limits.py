"""The sign-in limiter: sliding windows per account and per address, bounded memory."""

from __future__ import annotations

from carecentre.login_limits import LoginLimiter, LoginLimits


def _limiter(**limits: float) -> tuple[LoginLimiter, list[float]]:
    now = [1000.0]
    return LoginLimiter(LoginLimits(**limits), clock=lambda: now[0]), now  # type: ignore[arg-type]


def test_an_account_is_held_back_after_its_limit_until_the_window_passes() -> None:
    limiter, now = _limiter(per_account=3, per_address=100, window=60)
    for _ in range(3):
        assert limiter.retry_after("Ana@city.example", "a") == 0
        limiter.failed("ana@city.example", "a")
    assert limiter.retry_after("ANA@city.example", "b") == 60
    now[0] += 30
    assert limiter.retry_after("ana@city.example", "b") == 30
    now[0] += 30
    assert limiter.retry_after("ana@city.example", "b") == 0


def test_an_address_is_held_back_across_accounts() -> None:
    limiter, _ = _limiter(per_account=100, per_address=4, window=60)
    for i in range(4):
        limiter.failed(f"user{i}@city.example", "10.0.0.9")
    assert limiter.retry_after("someone@city.example", "10.0.0.9") > 0
    assert limiter.retry_after("someone@city.example", "10.0.0.8") == 0


def test_success_clears_the_account_but_not_the_address() -> None:
    limiter, _ = _limiter(per_account=2, per_address=2, window=60)
    limiter.failed("ana@city.example", "a")
    limiter.failed("ana@city.example", "a")
    limiter.succeeded("ana@city.example")
    assert limiter.retry_after("ana@city.example", "b") == 0
    assert limiter.retry_after("ana@city.example", "a") > 0


def test_memory_is_bounded() -> None:
    limiter, _ = _limiter(per_account=5, per_address=5, window=60, max_keys=10)
    for i in range(100):
        limiter.failed(f"user{i}@city.example", f"10.0.0.{i}")
    assert len(limiter._failures) == 10
