"""nftables affinity sets: how nftables mode remembers a ClientIP-affinity client.

kube-proxy's nftables mode declares one set per endpoint, ``affinity-<hash>-…``, of type
``ipv4_addr`` with ``flags dynamic,timeout``, ``timeout <timeoutSeconds>s`` and ``size 65535``
(:data:`NFT_AFFINITY_SET_SIZE`):

- the Service's chain checks ``ip saddr @affinity-…`` for each endpoint in order before its
  ``numgen random`` map: the first set that holds the client's address sends the connection to
  that endpoint;
- otherwise ``numgen`` chooses (the *fallback*);
- the chosen endpoint chain runs ``update @affinity-… { ip saddr }``, which adds the address or
  refreshes its timeout.

Nothing is evicted: an element lives until its timeout expires (the kernel's set garbage
collector then frees it; modelled as at once, the real collector runs about every second).  When
a set is full the ``update`` cannot add a *new* address: the kernel's dynset expression fails to
allocate the element and ends that rule (``NFT_BREAK``), so evaluation goes on to the next rule,
``dnat to <endpoint>``.  The connection still reaches the endpoint ``numgen`` chose, but the
client is not remembered.  Clients already in the set keep refreshing their timeout (an update
of an existing element needs no room).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Final

import numpy as np

__all__ = ["NFT_AFFINITY_SET_SIZE", "AffinitySets", "choose_without_expiry"]

#: kube-proxy's nftables affinity sets are declared ``size 65535``: the most clients each endpoint remembers.
NFT_AFFINITY_SET_SIZE: Final = 65535


class AffinitySets:
    """The affinity sets of one node: set (named by its endpoint chain) → address → last update.

    Args:
        size: the sets' declared ``size``.
    """

    def __init__(self, size: int = NFT_AFFINITY_SET_SIZE):
        self.size = size
        # elements in order of their last update (so the first one is the first to expire)
        self.sets: dict[str, OrderedDict[int, float]] = {}
        self.holding: dict[int, set[str]] = {}

    def choose(self, t: float, client: int, chains: Sequence[str], fallback: int, timeout: float) -> int:
        """One new connection at ``t`` from ``client`` through a Service chain whose endpoint
        chains are ``chains``; ``fallback`` is ``numgen``'s pick; ``timeout`` the sets' element
        timeout (the Service's ``timeoutSeconds``).  Returns the chosen index."""
        chosen = self._lookup(t, client, chains, timeout)
        if chosen < 0:
            chosen = fallback
        self._update(t, client, chains[chosen], timeout)
        return chosen

    def _lookup(self, t: float, client: int, chains: Sequence[str], timeout: float) -> int:
        """``ip saddr @affinity-…`` per endpoint in order: an element not yet timed out matches."""
        holding = self.holding.get(client)
        if not holding:
            return -1
        horizon = t - timeout
        for k, chain in enumerate(chains):
            if chain in holding and self.sets[chain][client] >= horizon:
                return k
        return -1

    def _update(self, t: float, client: int, chain: str, timeout: float) -> None:
        """``update @affinity-… { ip saddr }``: add or refresh; a full set refuses a new address."""
        elements = self.sets.get(chain)
        if elements is None:
            elements = self.sets[chain] = OrderedDict()
        if client in elements:
            elements[client] = t
            elements.move_to_end(client)
            return
        if len(elements) >= self.size:
            self._collect(elements, chain, t - timeout)
            if len(elements) >= self.size:
                return  # NFT_BREAK: DNATed all the same, the client is not remembered
        elements[client] = t
        self.holding.setdefault(client, set()).add(chain)

    def _collect(self, elements: OrderedDict[int, float], chain: str, horizon: float) -> None:
        """The set's garbage collector: free the elements that have timed out (oldest first)."""
        while elements:
            oldest = next(iter(elements))
            if elements[oldest] >= horizon:
                break
            del elements[oldest]
            self.holding[oldest].discard(chain)


def choose_without_expiry(clients: np.ndarray, fallback: np.ndarray, size: int = NFT_AFFINITY_SET_SIZE) -> np.ndarray | None:
    """:meth:`AffinitySets.choose` for a whole run at once, when no element can time out during it
    (the run is no longer than ``timeoutSeconds``) and the sets cannot fill (no more clients than
    a set's ``size``), one node and one Service chain.

    Then nothing is ever forgotten: a client's first connection takes its ``numgen`` pick (the
    ``fallback``) and joins that endpoint's set, and every later connection of the client finds
    it there.  ``None``: the case does not apply (the caller goes connection by connection).
    """
    if not len(clients):
        return np.zeros(0, dtype=np.int64)
    _, first, inverse = np.unique(clients, return_index=True, return_inverse=True)
    if len(first) > size:
        return None
    return fallback[first][inverse.reshape(-1)].astype(np.int64)
