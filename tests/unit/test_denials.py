"""The windows that aggregate refusals of unidentified callers: one row per key per window, every
repeat counted exactly once, thread-safe, bounded."""

from __future__ import annotations

import threading

from app.denials import Windows

KEY = ("10.0.0.7", "auth.denied", "malformed")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_first_refusal_is_recorded_and_repeats_are_counted():
    clock = Clock()
    windows = Windows(60, clock=clock)
    assert windows.admit(KEY, 401) == (KEY, 0)
    for _ in range(5):
        clock.now += 10
        assert windows.admit(KEY, 401) is None
    assert windows.closed() == []  # the window is still open
    clock.now += 11  # 61 s after it opened
    assert windows.admit(KEY, 401) == (KEY, 5)  # the next window's row carries the count
    assert windows.closed(everything=True) == []  # ... so no follow-up repeats it


def test_a_closed_window_yields_one_follow_up_row():
    clock = Clock()
    windows = Windows(60, clock=clock)
    windows.admit(KEY, 401)
    windows.admit(KEY, 401)
    windows.admit(KEY, 401)
    clock.now += 60
    assert windows.closed() == [
        {
            "action": "auth.denied",
            "actor_kind": "anonymous",
            "outcome": "denied",
            "reason": "malformed",
            "detail": {"suppressed": 2, "window_s": 60, "status": 401},
            "client": "10.0.0.7",
        }
    ]
    assert windows.closed() == []  # written once
    assert windows.admit(KEY, 401) == (KEY, 0)


def test_clients_actions_and_reasons_have_their_own_windows():
    windows = Windows(60, clock=Clock())
    keys = [
        KEY,
        ("10.0.0.8", "auth.denied", "malformed"),
        ("10.0.0.7", "auth.denied", "no_credentials"),
        ("10.0.0.7", "auth.sign_in_failed", "malformed"),
    ]
    assert [windows.admit(k) for k in keys] == [(k, 0) for k in keys]
    assert [windows.admit(k) for k in keys] == [None] * 4


def test_past_max_keys_new_clients_share_one_window():
    windows = Windows(60, max_keys=2, clock=Clock())
    windows.admit(("a", "auth.denied", "r"))
    windows.admit(("b", "auth.denied", "r"))
    many = (None, "auth.denied", "r")
    assert windows.admit(("c", "auth.denied", "r")) == (many, 0)
    assert windows.admit(("d", "auth.denied", "r")) is None
    (follow_up,) = windows.closed(everything=True)
    assert follow_up["client"] is None
    assert follow_up["detail"]["clients"] == "many"


def test_sweeps_are_rate_limited():
    clock = Clock()
    windows = Windows(60, sweep_s=1.0, clock=clock)
    assert not windows.sweep_due()
    clock.now += 1
    assert windows.sweep_due()
    windows.closed()
    assert not windows.sweep_due()


def test_every_repeat_is_counted_once_across_threads():
    windows = Windows(60)
    admitted: list[object] = []
    start = threading.Barrier(8)

    def hammer() -> None:
        start.wait()
        for _ in range(2000):
            if windows.admit(KEY, 401) is not None:
                admitted.append(1)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 1
    (follow_up,) = windows.closed(everything=True)
    assert follow_up["detail"]["suppressed"] == 8 * 2000 - 1
