"""Shared pieces of the dump readers: the error, a quote-aware tokenizer, Service port names.

kube-proxy names the Service port a rule serves in the rule's comment (iptables mode:
``"ns1/svc1:p80 cluster IP"``, ``"ns1/svc1:p80 -> 10.180.0.1:80"``) or in the chain's name
(nftables mode: ``service-ULMVA6XW-ns1/svc1/tcp/p80``).  The *service port name* is
``namespace/name``, plus ``:portName`` when the port is named.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from ...errors import DumpError

__all__ = ["DumpError", "Quoted", "find_loop", "tokenize", "owner_of_comment", "split_spn"]


class Quoted(str):
    """A token that was in double quotes: always a value, even when it starts with ``-``."""

    __slots__ = ()


_TOKEN = re.compile(r'[ \t]*(?:"((?:[^"\\]|\\.)*)"|([^ \t"]+))')
_ESC = re.compile(r"\\(.)")


def tokenize(line: str) -> list[str]:
    """Split on blanks; ``"..."`` is one token with ``\\x`` escapes resolved (xtables' quoting).

    >>> tokenize('-m comment --comment "ns/a:p -> 1.2.3.4:80" -j X')
    ['-m', 'comment', '--comment', 'ns/a:p -> 1.2.3.4:80', '-j', 'X']
    """
    if '"' not in line:
        return line.split()
    out: list[str] = []
    pos, n = 0, len(line)
    while pos < n:
        m = _TOKEN.match(line, pos)
        if m is None:
            if line[pos:].strip():
                raise ValueError("unterminated quoted string")
            break
        if m[1] is not None:
            out.append(Quoted(_ESC.sub(r"\1", m[1])))
        else:
            out.append(m[2])
        pos = m.end()
    return out


_DNS = r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?"
_SPN = re.compile(rf"^(?P<ns>{_DNS})/(?P<name>{_DNS})(:(?P<port>[-a-z0-9]+))?$")
# The comments kube-proxy writes, with the service port name at the start or after a phrase.
_COMMENT = re.compile(
    rf"^(?:(?:masquerade |masquerade LOCAL |route LOCAL |pod )?traffic for |other traffic to )?"
    rf"(?P<spn>{_DNS}/{_DNS}(?::[-a-z0-9]+)?)(?: |$)")


@lru_cache(maxsize=65536)
def split_spn(spn: str) -> tuple[str, str] | None:
    """``ns/svc:port`` → (``ns/svc``, ``port``); ``ns/svc`` → (``ns/svc``, ``""``)."""
    m = _SPN.match(spn)
    if not m:
        return None
    return f"{m['ns']}/{m['name']}", m["port"] or ""


@lru_cache(maxsize=65536)
def spn_of_comment(comment: str) -> str | None:
    """The service port name a kube-proxy comment names, or None for other comments."""
    m = _COMMENT.match(comment)
    return m["spn"] if m else None


def owner_of_comment(matches: list[tuple[Any, ...]]) -> tuple[str, str] | None:
    """(``ns/svc``, portName) from a rule's ``-m comment``, as kubelearn's rules carry it."""
    for m in matches:
        if m[0] == "comment":
            spn = spn_of_comment(m[1])
            if spn:
                return split_spn(spn)
    return None


#: The kernel's limit on nested jumps is far below this; deeper chains of jumps are refused too.
MAX_DEPTH = 200


def find_loop(edges: dict[str, list[tuple[str, int]]]) -> tuple[str, int, str] | None:
    """A jump that closes a loop (or nests deeper than :data:`MAX_DEPTH`): (chain, line, target).

    ``edges[chain]`` lists (target chain, line of the jump).  The kernel refuses such rulesets
    (``iptables-restore``: "Too many levels of symbolic links"; nft: "loop detected"), so a dump
    holding one was edited by hand, and the tracer would never finish it.  Iterative, so the
    check itself cannot overflow the stack.
    """
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for root in edges:
        if state.get(root):
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        state[root] = 1
        while stack:
            chain, i = stack[-1]
            out = edges.get(chain, [])
            if i >= len(out):
                state[chain] = 2
                stack.pop()
                continue
            stack[-1] = (chain, i + 1)
            target, line = out[i]
            st = state.get(target)
            if st == 1 or len(stack) > MAX_DEPTH:
                return chain, line, target
            if st is None:
                state[target] = 1
                stack.append((target, 0))
    return None
