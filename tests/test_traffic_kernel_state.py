"""The kernel's affinity state solved in bulk is the same as connection by connection.

``xt_recent.choose_without_expiry`` and ``nft_sets.choose_without_expiry`` answer a whole run at
once when nothing can expire during it; they must give exactly what ``RecentLists.choose`` and
``AffinitySets.choose`` give one connection at a time, or decline (``None``).
"""

from __future__ import annotations

import numpy as np
import pytest

from kubelearn.traffic import nft_sets, xt_recent
from kubelearn.traffic.nft_sets import AffinitySets
from kubelearn.traffic.xt_recent import RecentLists


def one_at_a_time(state, clients, fallback, lists, timeout=1e9):
    chains = tuple(f"KUBE-SEP-{k}" for k in range(lists))
    return np.array([state.choose(float(i), int(x), chains, int(f), timeout)
                     for i, (x, f) in enumerate(zip(clients, fallback, strict=True))], dtype=np.int64)


@pytest.mark.parametrize("seed", range(6))
def test_xt_recent_in_bulk_is_one_at_a_time(seed):
    rng = np.random.default_rng(seed)
    solved = 0
    for _ in range(40):
        turn = int(rng.choice([1, 2, 3, 7, 40, 120, 299, 450, 2000]))
        lists, capacity = int(rng.integers(1, 6)), int(rng.choice([1, 3, 100]))
        n = int(rng.integers(1, 3000))
        clients = np.arange(n) % turn + 7000
        fallback = rng.integers(0, lists, size=n)
        bulk = xt_recent.choose_without_expiry(clients, fallback, lists, capacity)
        if bulk is None:
            continue  # declined (it then runs one at a time)
        solved += 1
        assert np.array_equal(bulk, one_at_a_time(RecentLists(capacity), clients, fallback, lists))
    assert solved >= 30


def test_xt_recent_in_bulk_declines_without_strict_turns_and_at_the_cliff():
    rng = np.random.default_rng(0)
    fallback = rng.integers(0, 3, size=2000)
    assert xt_recent.choose_without_expiry(rng.integers(0, 50, size=2000), fallback, 3) is None
    # 300 clients in turn through three 100-entry lists: each is forgotten just as it returns
    assert xt_recent.choose_without_expiry(np.arange(2000) % 300, fallback, 3) is None
    # far below and far above the lists' room it is solved, and agrees
    for turn in (20, 5000):
        clients = np.arange(20_000) % turn
        fb = rng.integers(0, 3, size=20_000)
        bulk = xt_recent.choose_without_expiry(clients, fb, 3)
        assert bulk is not None
        assert np.array_equal(bulk, one_at_a_time(RecentLists(), clients, fb, 3))
        sticky = (bulk[turn:] == bulk[:-turn]).mean()
        assert sticky == 1.0 if turn == 20 else sticky < 0.4


def test_nft_sets_in_bulk_is_one_at_a_time():
    rng = np.random.default_rng(3)
    clients = rng.integers(0, 500, size=5000)  # any order: nothing is forgotten
    fallback = rng.integers(0, 4, size=5000)
    bulk = nft_sets.choose_without_expiry(clients, fallback)
    assert np.array_equal(bulk, one_at_a_time(AffinitySets(), clients, fallback, 4))
    # more clients than a set holds: declined
    assert nft_sets.choose_without_expiry(clients, fallback, size=100) is None
