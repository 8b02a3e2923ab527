"""ClientIP affinity lives in kernel tables of a fixed size, and a full table changes who sticks.

nftables mode keeps one set per endpoint, 65535 elements each (kube-proxy's size): a full set
remembers no new client, whose next connection is balanced afresh, while the clients it holds
stay.  iptables mode's ``xt_recent`` lists forget their least recently set client instead.  The
simulator's engine uses these same tables, so a simulated run stops being sticky when they fill.
"""

from __future__ import annotations

import importlib

from kubelearn.scenarios import scenario
from kubelearn.traffic import cluster_ip, external_clients, simulate, stickiness, workload
from kubelearn.traffic.nft_sets import NFT_AFFINITY_SET_SIZE, AffinitySets
from kubelearn.traffic.xt_recent import RecentLists

# the engine module, whose affinity sets take their size from NFT_AFFINITY_SET_SIZE
engine = importlib.import_module("kubelearn.traffic.engine")


def test_nft_affinity_set_size_is_kube_proxys():
    assert NFT_AFFINITY_SET_SIZE == 65535


def test_full_nft_set_refuses_new_clients_and_keeps_old_ones():
    sets = AffinitySets(size=2)
    chains = ("a", "b")
    # clients 1, 2 fill set "a"; client 3 also lands on "a" but the set is full: not remembered.
    # Its next connection is balanced afresh (fallback "b"); clients 1, 2 stay on "a" (fallback ignored).
    # Once client 1's and 2's elements expire (>10 s silent) set "a" has room again for client 4.
    times = [0.0, 1.0, 2.0, 3.0, 3.5, 4.0, 20.0]
    ips = [1, 2, 3, 3, 1, 2, 4]
    fallback = [0, 0, 0, 1, 1, 1, 0]
    chosen = [sets.choose(t, ip, chains, fb, 10.0) for t, ip, fb in zip(times, ips, fallback, strict=True)]
    assert chosen == [0, 0, 0, 1, 0, 0, 0]
    assert list(sets.sets["a"]) == [4]
    assert list(sets.sets["b"]) == [3]
    assert sorted(sets.holding[3]) == ["b"]


def test_full_xt_recent_list_forgets_its_least_recently_set_client():
    lists = RecentLists(capacity=2)
    chains = ("a", "b")
    # clients 1, 2 fill list "a"; client 3 lands on "a" too and pushes out client 1 (set longest ago)
    assert [lists.choose(t, ip, chains, 0, 10.0) for t, ip in [(0.0, 1), (1.0, 2), (2.0, 3)]] == [0, 0, 0]
    assert list(lists.lists["a"]) == [2, 3]
    # client 1 is forgotten: its fallback decides; client 2 is still remembered and stays on "a"
    assert lists.choose(3.0, 1, chains, 1, 10.0) == 1
    assert lists.choose(4.0, 2, chains, 1, 10.0) == 0
    # --reap: at t=13.5 client 3's entry in "a" (set at 2.0) is older than 10 s: the rcheck does not
    # match, and --reap drops the list's expired head (that same entry); client 3 is balanced afresh
    assert lists.choose(13.5, 3, chains, 1, 10.0) == 1
    assert 3 not in lists.lists["a"]


def test_simulated_nftables_affinity_stops_being_sticky_when_the_sets_are_full(monkeypatch):
    c = scenario("session-affinity")
    wl = workload(external_clients("198.51.100.0/24", 30), cluster_ip("sticky"), connections=900)
    full = stickiness(simulate(c, wl, mode="nftables"))["stickiness"]
    assert (full == 1.0).all()  # far below 65535 clients per endpoint: everyone sticks
    monkeypatch.setattr(engine, "NFT_AFFINITY_SET_SIZE", 2)
    small = stickiness(simulate(c, wl, mode="nftables"))["stickiness"]
    # three endpoints × 2 elements: at most six clients are remembered; the rest are balanced per connection
    assert int((small == 1.0).sum()) <= 6
    assert small.mean() < 0.6
