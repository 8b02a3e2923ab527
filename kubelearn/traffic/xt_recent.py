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
