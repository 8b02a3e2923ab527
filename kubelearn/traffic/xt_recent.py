"""``xt_recent``: how iptables mode remembers a ClientIP-affinity client, list by list.

With ``sessionAffinity: ClientIP`` kube-proxy's iptables rules keep one *recent list* per
endpoint, named after its ``KUBE-SEP-…`` chain:

- the Service's ``KUBE-SVC-…`` chain first walks its endpoints in order with
  ``-m recent --name KUBE-SEP-… --rcheck --seconds <timeoutSeconds> --reap``: the first list
  that holds the client's address, set less than ``timeoutSeconds`` ago, sends the
  connection to that endpoint;
- if no list knows the client, the random ``-m statistic`` rules choose (the *fallback*);
- the chosen ``KUBE-SEP-…`` chain then runs ``-m recent --set --name KUBE-SEP-…``, which
  writes the client's address with the current time into that endpoint's list.

Each list lives in the kernel of one node (``/proc/net/xt_recent/KUBE-SEP-…``) and holds at
most ``ip_list_tot`` addresses (:data:`XT_RECENT_IP_LIST_TOT`, 100 by default).  Setting a new
address in a full list evicts the least recently set one, so with more than about 100 clients
per endpoint per node clients are forgotten before they come back.  ``--reap`` on an
``--rcheck`` that finds the client also removes the list's least recently set entry when it
has expired (a check that finds nothing reaps nothing).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Final

import numpy as np

__all__ = ["XT_RECENT_IP_LIST_TOT", "RecentLists", "choose_without_expiry"]

#: ``xt_recent``'s ``ip_list_tot`` module parameter default: addresses kept per recent list.
XT_RECENT_IP_LIST_TOT: Final = 100


class RecentLists:
    """The recent lists of one node: list name (the ``KUBE-SEP-…`` chain) → address → last set.

    Args:
        capacity: addresses per list (``ip_list_tot``).
    """

    def __init__(self, capacity: int = XT_RECENT_IP_LIST_TOT):
        self.capacity = capacity
        # each list in "least recently set first" order, as the kernel's LRU list keeps it
        self.lists: dict[str, OrderedDict[int, float]] = {}
        # which lists hold each address: the rcheck rules of the others cannot match
        self.holding: dict[int, set[str]] = {}

    def choose(self, t: float, client: int, chains: Sequence[str], fallback: int, timeout: float) -> int:
        """One new connection at ``t`` from ``client`` (an address as an int) through a
        ``KUBE-SVC-…`` chain whose endpoints' chains are ``chains`` in rule order; ``fallback``
        is the index the ``-m statistic`` rules would pick; ``timeout`` the rcheck's
        ``--seconds`` (the Service's ``timeoutSeconds``).  Returns the chosen index.

        (One function for the three rules, without helper calls: it runs once per connection.)
        """
        lists, holding = self.lists, self.holding
        held = holding.get(client)
        chosen = -1
        if held:
            # KUBE-SVC: `-m recent --name <endpoint chain> --rcheck --seconds T --reap`, endpoint by endpoint
            horizon = t - timeout
            for k in (sorted(chains.index(ch) for ch in held if ch in chains) if len(held) > 1
                      else [chains.index(ch) for ch in held if ch in chains]):
                lst: OrderedDict[int, float] = lists[chains[k]]
                fresh = lst[client] >= horizon
                oldest = next(iter(lst))
                if lst[oldest] < horizon:  # --reap: the least recently set entry, once expired, goes
                    del lst[oldest]
                    holding[oldest].discard(chains[k])
                if fresh:
                    chosen = k
                    break
        if chosen < 0:
            chosen = fallback  # no list knows the client: the -m statistic rules choose
        # KUBE-SEP: `-m recent --name <its chain> --set`; a full list forgets its least recently set address
        chain = chains[chosen]
        target = lists.get(chain)
        if target is None:
            target = lists[chain] = OrderedDict()
        lst = target
        if client in lst:
            lst[client] = t
            lst.move_to_end(client)
            return chosen
        if len(lst) >= self.capacity:
            holding[lst.popitem(last=False)[0]].discard(chain)
        lst[client] = t
        if held is None:
            holding[client] = {chain}
        else:
            held.add(chain)
        return chosen


def choose_without_expiry(clients: np.ndarray, fallback: np.ndarray, lists: int,
                          capacity: int = XT_RECENT_IP_LIST_TOT, rounds: int = 8) -> np.ndarray | None:
    """:meth:`RecentLists.choose` for a whole run at once, in the case where it can be solved in bulk.

    THE SECOND VECTORISED PLACE (the first is the engine's stateless fast path).  It applies when
    no entry can expire during the run (the run is no longer than ``timeoutSeconds``, so every
    entry is fresh and ``--reap`` never fires) and the clients take strict turns (connection
    ``i`` comes from the same client as connection ``i - G``, for ``G`` clients), one node and
    one Service chain.  Then, in the lists' own terms:

    - a client is in at most one list (it only joins a list when no list knew it);
    - an LRU list of ``capacity`` still holds the client iff fewer than ``capacity`` other clients
      touched (``--set``) that list since the client's own last touch; with strict turns, the
      ``G - 1`` connections in between are ``G - 1`` different clients, so that is a count;
    - a connection whose client is still held goes where its previous one went, any other takes
      its ``fallback`` (the ``-m statistic`` pick).

    Those rules decide each connection from earlier ones only, so they have exactly one solution,
    and any assignment that satisfies all of them at once is it.  Starting from "every connection
    takes its fallback", each round re-applies the rules to the whole run with numpy, until
    nothing changes.  ``None``: the case does not apply, or ``rounds`` were not enough (the
    caller then goes connection by connection).

    Args:
        clients: each connection's client address, in time order.
        fallback: each connection's ``-m statistic`` pick (an index < ``lists``).
        lists: how many endpoints (recent lists) the Service chain has.
    """
    n = len(clients)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    again = np.flatnonzero(clients == clients[0])  # the first client's turns
    turn = int(again[1]) if len(again) > 1 else n
    if len(np.unique(clients[:turn])) != turn or not np.array_equal(clients[turn:], clients[:-turn]):
        return None  # not strict turns
    rows = -(-n // turn)
    choice = fallback.astype(np.int64, copy=True)
    for _ in range(rounds):
        # touches on each list in the window between connection j (j >= turn) and its client's
        # previous one, j - turn (as slices over j: touched[j - 1] - touched[j - turn])
        prev_list = choice[:n - turn]
        between = np.zeros(n - turn, dtype=np.int32)
        for lst in range(lists):
            touched = np.cumsum(choice == lst, dtype=np.int32)  # touches on this list up to each connection
            np.copyto(between, touched[turn - 1:n - 1] - touched[:n - turn], where=prev_list == lst)
        miss = np.ones(n, dtype=bool)
        miss[turn:] = between >= capacity
        if miss.all():  # (many clients: nobody is still held) every connection takes its own fallback
            updated = fallback
        else:
            # each connection goes where its client's latest miss went: forward-fill along each client's turns
            last_miss = np.full(rows * turn, -1, dtype=np.int64)
            last_miss[:n] = np.where(miss, np.arange(n), -1)
            last_miss = np.maximum.accumulate(last_miss.reshape(rows, turn), axis=0).reshape(-1)[:n]
            updated = fallback[last_miss]
        if np.array_equal(updated, choice):
            return choice
        choice = updated
    return None
