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

__all__ = ["XT_RECENT_IP_LIST_TOT", "RecentLists"]

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
        ``--seconds`` (the Service's ``timeoutSeconds``).  Returns the chosen index."""
        chosen = self._rcheck(t, client, chains, timeout)
        if chosen < 0:
            chosen = fallback
        self._set(t, client, chains[chosen])
        return chosen

    def _rcheck(self, t: float, client: int, chains: Sequence[str], timeout: float) -> int:
        """``-m recent --rcheck --seconds T --reap`` for each endpoint, in order."""
        holding = self.holding.get(client)
        if not holding:
            return -1
        horizon = t - timeout
        for k, chain in enumerate(chains):
            if chain not in holding:
                continue  # the address is not in this list: the rule does not match, reaps nothing
            lst = self.lists[chain]
            fresh = lst[client] >= horizon
            oldest = next(iter(lst))
            if lst[oldest] < horizon:  # --reap: drop the least recently set entry once it has expired
                del lst[oldest]
                self.holding[oldest].discard(chain)
            if fresh:
                return k
        return -1

    def _set(self, t: float, client: int, chain: str) -> None:
        """``-m recent --set``: (re)write the address with time ``t``; a full list forgets its oldest."""
        lst = self.lists.get(chain)
        if lst is None:
            lst = self.lists[chain] = OrderedDict()
        if client in lst:
            lst[client] = t
            lst.move_to_end(client)
            return
        if len(lst) >= self.capacity:
            oldest, _ = lst.popitem(last=False)
            self.holding[oldest].discard(chain)
        lst[client] = t
        self.holding.setdefault(client, set()).add(chain)
