"""Reading ``nft list ruleset`` (or ``nft list table ip kube-proxy``) into kubelearn's model.

What a node in nftables mode prints: one ``table ip kube-proxy { … }`` block (and, with dual
stack, ``table ip6 kube-proxy``) holding

* sets and *verdict maps* with their ``elements = { … }``: ``service-ips`` maps
  ``daddr . protocol . port`` to ``goto service-…`` (ClusterIPs) or ``goto external-…``
  (externalIPs, LoadBalancer IPs); ``service-nodeports`` maps ``protocol . port``;
  ``no-endpoint-services``/``no-endpoint-nodeports`` hold ``goto reject-chain`` or ``drop``
  with the Service port in a ``comment``.  The kernel keeps set elements in a hash, so their
  order in the listing is not the order kube-proxy added them (and several may share a line);
* base chains with ``type nat hook prerouting priority dstnat; policy accept;``;
* one chain per Service port and endpoint, named ``service-<hash>-ns/svc/tcp/port`` and
  ``endpoint-<hash>-ns/svc/tcp/port__10.244.1.5/80``;
* rules printed in nft's canonical form, which differs from what kube-proxy wrote: ``mark set
  mark or 0x4000`` comes back as ``meta mark set meta mark | 0x00004000``, ``ip daddr {
  10.96.0.0/16 }`` as ``ip daddr 10.96.0.0/16``.

Other tables on the node (``table ip nat`` from iptables-nft, Docker's or a CNI's) are kept
by name and reported, not traced: they are other programs' rules in other hooks.  A rule the
reader cannot interpret is kept as an ``("unknown", text)`` expression, never matches in a
trace, and is reported.
"""

from __future__ import annotations

import re
from typing import Any

from ..nftables import HAIRPIN_SET, SETS, NftablesRuleset, NftRule
from .common import DumpError, Quoted, find_loop, split_spn, tokenize

__all__ = ["parse_nft", "chain_owner"]

_CHAIN_NAME = re.compile(r"^(service|local|external|firewall|endpoint)-[A-Z2-7]{8}-"
                         r"(?P<ns>[^/]+)/(?P<name>[^/]+)/(?P<proto>tcp|udp|sctp)/(?P<port>[^/_]*)(__.*)?$")


def chain_owner(chain: str) -> tuple[str, str] | None:
    """(``ns/svc``, portName) from a kube-proxy nftables chain name."""
    m = _CHAIN_NAME.match(chain)
    return (f"{m['ns']}/{m['name']}", m["port"]) if m else None


_HANDLE = re.compile(r"\s+# handle \d+\s*$")


def _braces(line: str) -> int:
    depth, quoted = 0, False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif not quoted:
            depth += (c == "{") - (c == "}")
    return depth


def _seconds(text: str) -> int | None:
    total = 0
    for num, unit in re.findall(r"(\d+)(ms|d|h|m|s)", text):
        total += int(num) * {"d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0}[unit]
    return total if re.fullmatch(r"(\d+(ms|d|h|m|s))+", text) else None


class ParsedNft:
    """Besides the kube-proxy table: other tables, base chains and set definitions."""

    def __init__(self) -> None:
        self.foreign_tables: list[str] = []
        self.base_chains: dict[str, str] = {}
        self.set_types: dict[str, str] = {}
        self.has_kube_table = False


def check_loops(rs: NftablesRuleset, lines: dict[tuple[str, int], int]) -> None:
    """Refuse jump/goto loops, through verdict maps too (the kernel does): a trace would never end."""
    edges: dict[str, list[tuple[str, int]]] = {}
    for chain, rules in rs.chains.items():
        for k, r in enumerate(rules):
            line = lines.get((chain, k), 0)
            for e in r.exprs:
                if e[0] in ("jump", "goto"):
                    targets = [e[1]]
                elif e[0] == "numgen":
                    targets = list(e[1])
                elif e[0] in ("vmap3", "vmap2"):
                    targets = [v[1] for _, _, v in rs.elements.get(e[1], []) if isinstance(v, tuple) and v[1]]
                else:
                    targets = []
                edges.setdefault(chain, []).extend((t, line) for t in targets)
    loop = find_loop(edges)
    if loop:
        raise DumpError(f"line {loop[1]}: the jump from {loop[0]} to {loop[2]} closes a loop (or nests too deep): "
                        "nft refuses such rules, so the dump was edited")


def parse_nft(lines: list[tuple[int, str]], node_ip: str, warnings: list[str]) -> tuple[NftablesRuleset, ParsedNft]:
    """``nft list ruleset`` lines (numbered) → an :class:`NftablesRuleset` for ``ip kube-proxy``."""
    rs = NftablesRuleset("", node_ip)
    rs.chain_comments = {}
    info = ParsedNft()
    # `nft -a list ruleset` ends lines with "# handle N": the kernel's rule ids, not rules.
    lines = [(ln, _HANDLE.sub("", raw)) for ln, raw in lines]
    i, n = 0, len(lines)

    def block(start: int) -> tuple[list[tuple[int, str]], int]:
        """Lines of a ``{ … }`` block that opens on line ``start``; returns them and the next index."""
        depth = _braces(lines[start][1])
        body = [lines[start]]
        j = start + 1
        while depth > 0:
            if j >= n:
                raise DumpError(f"line {lines[-1][0]}: block opened on line {lines[start][0]} is not closed: "
                                "the dump is truncated")
            body.append(lines[j])
            depth += _braces(lines[j][1])
            j += 1
        if depth < 0:
            raise DumpError(f"line {body[-1][0]}: unbalanced '}}'")
        return body, j

    while i < n:
        lineno, raw = lines[i]
        line = raw.strip()
        if not line or line.startswith("#"):
            i += 1
            continue
        m = re.match(r"^table (ip|ip6|inet|arp|bridge|netdev) (\S+) \{$", line)
        if not m:
            raise DumpError(f"line {lineno}: not an nft ruleset: expected 'table <family> <name> {{', "
                            f"got {line[:60]!r}")
        body, i = block(i)
        if (m[1], m[2]) != ("ip", "kube-proxy"):
            info.foreign_tables.append(f"{m[1]} {m[2]}")
            continue
        info.has_kube_table = True
        _table(body[1:-1], rs, info, warnings)
    for name in SETS:
        rs.elements.setdefault(name, [])
    return rs, info


def _table(body: list[tuple[int, str]], rs: NftablesRuleset, info: ParsedNft, warnings: list[str]) -> None:
    k = 0
    chains_rules: list[tuple[str, int, str]] = []
    while k < len(body):
        lineno, raw = body[k]
        line = raw.strip()
        k += 1
        if not line or line.startswith("comment ") or line.startswith("flags "):
            continue
        m = re.match(r"^(set|map|chain|flowtable|counter|quota|ct \w+|limit|secmark|synproxy) (\S+) \{$", line)
        if not m:
            raise DumpError(f"line {lineno}: unexpected {line[:60]!r} in table ip kube-proxy")
        depth = _braces(line)
        inner: list[tuple[int, str]] = []
        while depth > 0:
            if k >= len(body):
                raise DumpError(f"line {lineno}: {m[1]} {m[2]} is not closed")
            inner.append(body[k])
            depth += _braces(body[k][1])
            k += 1
        inner = inner[:-1]  # the closing brace
        kind, name = m[1], m[2]
        if kind in ("set", "map"):
            _set(kind, name, inner, rs, info, warnings, lineno)
        elif kind == "chain":
            rs.chains.setdefault(name, [])
            pending = ""
            start = 0
            for ln, r in inner:
                text = r.strip()
                if not text:
                    continue
                if pending:
                    pending += " " + text
                elif text.startswith("type ") and " hook " in text:
                    info.base_chains[name] = text
                    continue
                elif text.startswith("comment ") and not rs.chains[name]:
                    rs.chain_comments[name] = text[len("comment "):].strip('"')
                    continue
                else:
                    pending, start = text, ln
                if _braces(pending) == 0:
                    chains_rules.append((name, start, pending))
                    pending = ""
            if pending:
                raise DumpError(f"line {start}: rule with unbalanced braces in chain {name}")
        else:
            warnings.append(f"line {lineno}: kept {kind} {name} (not used by the tracer)")
    rule_lines: dict[tuple[str, int], int] = {}
    for chain, lineno, text in chains_rules:
        try:
            exprs = _rule(text, rs)
        except (ValueError, IndexError) as exc:
            raise DumpError(f"line {lineno}: cannot read rule {text[:60]!r}: {exc}") from None
        if any(e[0] == "unknown" for e in exprs):
            warnings.append(f"line {lineno}: kept rule with unknown expression {text[:80]!r} (never matches in traces)")
        rs.chains[chain].append(NftRule(chain, text, tuple(exprs), chain_owner(chain)))
        rule_lines[(chain, len(rs.chains[chain]) - 1)] = lineno
    check_loops(rs, rule_lines)


def _set(kind: str, name: str, inner: list[tuple[int, str]], rs: NftablesRuleset, info: ParsedNft,
         warnings: list[str], lineno: int) -> None:
    text = " ".join(r.strip() for _, r in inner)
    t = re.search(r"\btype ([^;]+?)(?:;|$| flags | size | timeout | comment | elements | policy )", text + " ")
    if t:
        info.set_types[name] = t[1].strip()
    tm = re.search(r"(?:^|\s)timeout (\S+)", text)
    if tm and name.startswith("affinity-"):
        secs = _seconds(tm[1])
        if secs is not None:
            rs.affinity_sets[name] = secs
    em = re.search(r"\belements = \{(.*)\}", text)
    els: list[tuple[str, Any, Any]] = []
    if em:
        for item in _split_top(em[1]):
            els.append(_element(kind, name, item, warnings, lineno))
    rs.elements[name] = els
    if name == HAIRPIN_SET[0] and name not in rs.sets:  # a v1.36+ node
        rs.sets = {name: HAIRPIN_SET[1], **rs.sets}


def _split_top(text: str) -> list[str]:
    out: list[str] = []
    buf: list[str] = []
    quoted, depth = False, 0
    for c in text:
        if c == '"':
            quoted = not quoted
        if not quoted and c in "{}":
            depth += 1 if c == "{" else -1
        if c == "," and not quoted and depth == 0:
            out.append("".join(buf).strip())
            buf = []
        else:
            buf.append(c)
    if "".join(buf).strip():
        out.append("".join(buf).strip())
    return [x for x in out if x]


def _key(parts: list[str]) -> Any:
    vals: list[Any] = [int(p) if p.isdigit() else p for p in parts]
    return vals[0] if len(vals) == 1 else tuple(vals)


def _element(kind: str, setname: str, item: str, warnings: list[str], lineno: int) -> tuple[str, Any, Any]:
    tok = tokenize(item)
    comment = None
    if "comment" in tok:
        ci = tok.index("comment")
        comment = tok[ci + 1] if ci + 1 < len(tok) else None
        tok = tok[:ci] + tok[ci + 2:]
    if kind == "set":
        return item, _key([t for t in tok if t != "."]), True
    if ":" not in tok:
        warnings.append(f"line {lineno}: map {setname} element {item!r} has no verdict")
        return item, None, None
    ci = tok.index(":")
    key = _key([t for t in tok[:ci] if t != "."])
    verdict = tok[ci + 1:]
    target = verdict[1] if len(verdict) > 1 else None
    owner = (chain_owner(target) if target else None) or (split_spn(comment) if comment else None)
    if verdict[:1] in (["goto"], ["jump"]) and target:
        v: Any = (verdict[0], target, owner)
    elif verdict[:1] in (["drop"], ["reject"], ["accept"], ["return"]):
        v = (verdict[0], None, owner)
    else:
        warnings.append(f"line {lineno}: map {setname} element {item!r}: unknown verdict")
        v = None
    return item, key, v


_ADDR_SET = re.compile(r"^[0-9./]+$")


def _rule(text: str, rs: NftablesRuleset) -> list[tuple[Any, ...]]:
    """One nft rule in list (or kube-proxy's input) syntax → the tracer's expressions."""
    tok = tokenize(text)
    exprs: list[tuple[Any, ...]] = []
    i, n = 0, len(tok)

    def at(*words: str) -> bool:
        return tuple(tok[i:i + len(words)]) == words

    def unknown() -> list[tuple[Any, ...]]:
        return [*exprs, ("unknown", " ".join(tok[i:]))]

    def values(j: int) -> tuple[list[str], int]:
        """A value at tok[j]: ``x`` or ``{ a, b }`` (tokens) → list of strings, next index."""
        if tok[j] == "{" or tok[j].startswith("{"):
            vals: list[str] = []
            joined = []
            while j < n:
                joined.append(tok[j])
                if tok[j].endswith("}"):
                    j += 1
                    break
                j += 1
            inner = " ".join(joined).strip("{} ")
            vals = [v.strip() for v in inner.split(",") if v.strip()]
            return vals, j
        return [tok[j]], j + 1

    while i < n:
        t = tok[i]
        if isinstance(t, Quoted):
            return unknown()
        if at("ct", "state") and i + 2 < n:
            if "new" not in tok[i + 2].split(","):
                return unknown()
            i += 3
        elif at("counter"):
            i += 1
            while i + 1 < n and tok[i] in ("packets", "bytes"):
                i += 2
        elif at("comment") and i + 1 < n:
            i += 2
        elif at("ip", "daddr", ".", "meta", "l4proto", ".", "th", "dport", "vmap") and i + 9 < n:
            exprs.append(("vmap3", tok[i + 9].lstrip("@")))
            i += 10
        elif at("meta", "l4proto", ".", "th", "dport", "vmap") and i + 6 < n:
            exprs.append(("vmap2", tok[i + 6].lstrip("@")))
            i += 7
        elif (at("ip", "daddr") or at("ip", "saddr")) and i + 2 < n:
            which = tok[i + 1][0]  # "d" or "s"
            neg = tok[i + 2] == "!="
            j = i + 3 if neg else i + 2
            if j >= n:
                return unknown()
            if tok[j].startswith("@"):
                name = tok[j][1:]
                if neg:
                    return unknown()
                exprs.append(("daddr_in_set" if which == "d" else "saddr_in_set", name))
                i = j + 1
                continue
            vals, j2 = values(j)
            if not vals or not all(_ADDR_SET.match(v) for v in vals):
                return unknown()
            if which == "d":
                if neg:  # e.g. `ip daddr != 127.0.0.0/8`: every address but these
                    exprs.append(("daddr_not_any", tuple(vals)))
                else:
                    exprs.append(("daddr", vals[0]) if len(vals) == 1 else ("daddr_in", tuple(vals)))
            elif neg:
                exprs.append(("saddr_not", vals[0]) if len(vals) == 1 else ("saddr_not_any", tuple(vals)))
            else:
                exprs.append(("saddr", vals[0]) if len(vals) == 1 else ("saddr_in", tuple(vals)))
            i = j2
        elif at("fib", "saddr", "type", "local"):
            exprs.append(("fib_saddr_local",))
            i += 4
        elif at("fib", "daddr", "type", "local"):
            exprs.append(("fib_daddr_local",))
            i += 4
        elif at("meta", "l4proto") and i + 2 < n and tok[i + 2] in ("tcp", "udp", "sctp"):
            exprs.append(("l4proto", tok[i + 2]))
            i += 3
        elif at("meta", "mark", "set", "meta", "mark") and i + 6 < n and tok[i + 5] in ("|", "^"):
            exprs.append(("mark_or",) if tok[i + 5] == "|" else ("mark_xor",))
            i += 7
        elif at("mark", "set", "mark") and i + 4 < n and tok[i + 3] in ("or", "xor"):
            exprs.append(("mark_or",) if tok[i + 3] == "or" else ("mark_xor",))
            i += 5
        elif (at("meta", "mark", "&") and i + 5 < n and tok[i + 4] == "==" and int(tok[i + 5], 0) == 0):
            exprs.append(("mark_clear",))
            i += 6
        elif (at("mark", "and") and i + 4 < n and tok[i + 3] == "==" and int(tok[i + 4], 0) == 0):
            exprs.append(("mark_clear",))
            i += 5
        elif (at("meta", "mark", "&") and i + 5 < n and tok[i + 4] == "!=" and int(tok[i + 5], 0) == 0) or (
                at("mark", "and") and i + 4 < n and tok[i + 3] == "!=" and int(tok[i + 4], 0) == 0):
            exprs.append(("mark_set",))  # v1.36+ masquerading: one rule for marked packets
            i += 6 if tok[i] == "meta" else 5
        elif (at("ct", "status", "dnat", "ip", "saddr", ".", "ip", "daddr", ".", "meta", "l4proto", ".", "th", "dport")
              and i + 14 < n and tok[i + 14].startswith("@")):
            exprs.append(("hairpin", tok[i + 14][1:]))  # v1.36+: the hairpin-connections set
            i += 15
        elif at("dnat") and "numgen" in tok[i:i + 7] and "map" in tok[i:i + 11]:
            # v1.36+: dnat ip to numgen random mod N map { 0 : IP . PORT, ... } (list form) or
            # dnat ip addr . port to numgen ... (kube-proxy's input form)
            k = tok.index("numgen", i)
            if tok[k:k + 3] != ["numgen", "random", "mod"] or k + 5 >= n or tok[k + 4] != "map" or tok[k + 5] != "{":
                return unknown()
            j = tok.index("}", k + 5) if "}" in tok[k + 5:] else -1
            if j < 0:
                return unknown()
            dests: dict[int, str] = {}
            for it in _split_top(" ".join(tok[k + 6:j])):
                parts = it.split()
                if len(parts) != 5 or parts[1] != ":" or parts[3] != "." or not parts[0].isdigit():
                    return unknown()
                dests[int(parts[0])] = f"{parts[2]}:{parts[4]}"
            mod = int(tok[k + 3])
            if sorted(dests) != list(range(mod)):
                return unknown()
            exprs.append(("dnat_numgen", tuple(dests[x] for x in range(mod))))
            i = j + 1
        elif at("numgen", "random", "mod") and i + 5 < n and tok[i + 4] == "vmap" and tok[i + 5] == "{":
            j = tok.index("}", i + 5) if "}" in tok[i + 5:] else -1
            if j < 0:
                return unknown()
            items = _split_top(" ".join(tok[i + 6:j]))
            targets: dict[int, str] = {}
            for it in items:
                parts = it.split()
                if len(parts) != 4 or parts[1] != ":" or parts[2] != "goto" or not parts[0].isdigit():
                    return unknown()
                targets[int(parts[0])] = parts[3]
            mod = int(tok[i + 3])
            if sorted(targets) != list(range(mod)):
                return unknown()
            exprs.append(("numgen", tuple(targets[k] for k in range(mod))))
            i = j + 1
        elif at("update") and i + 1 < n and tok[i + 1].startswith("@"):
            name = tok[i + 1][1:]
            j = i + 2
            if j < n and tok[j] == "{":
                j = tok.index("}", j) + 1 if "}" in tok[j:] else n
            exprs.append(("update", rs.affinity_sets.get(name, 10800)))
            i = j
        elif at("dnat") and i + 2 < n:
            j = i + 1
            if tok[j] == "ip":
                j += 1
            if tok[j] != "to" or j + 1 >= n:
                return unknown()
            exprs.append(("dnat", tok[j + 1]))
            i = j + 2
        elif at("masquerade"):
            exprs.append(("masquerade",))
            i += 1
            while i < n and tok[i] in ("fully-random", "random", "persistent", ","):
                i += 1
        elif t in ("jump", "goto") and i + 1 < n:
            exprs.append((t, tok[i + 1]))
            i += 2
        elif t in ("drop", "return", "accept"):
            exprs.append((t,))
            i += 1
        elif t == "reject":
            exprs.append(("reject",))
            i += 1
            while i < n and tok[i] != "comment":  # "with icmp type port-unreachable"
                i += 1
        else:
            return unknown()
    return exprs


_INPUT = re.compile(r"^(add|create|flush|delete|insert) (table|chain|rule|element|set|map) "
                    r"(ip|ip6|inet|arp|bridge|netdev) (\S+)(?: (.*))?$")


def is_nft_input_line(line: str) -> bool:
    """A line of an ``nft -f`` transaction (what kube-proxy sends; its unit tests' expected output)."""
    return bool(_INPUT.match(line.strip()))


def parse_nft_input(lines: list[tuple[int, str]], node_ip: str, warnings: list[str]) -> tuple[NftablesRuleset,
                                                                                              ParsedNft]:
    """An ``nft -f`` transaction (``add table/chain/rule/element …``) → the ``ip kube-proxy`` table it builds."""
    rs = NftablesRuleset("", node_ip)
    rs.chain_comments = {}
    info = ParsedNft()
    rule_line: dict[int, int] = {}
    for lineno, raw in lines:
        m = _INPUT.match(raw.strip())
        if not m:
            raise DumpError(f"line {lineno}: not an nft command: {raw.strip()[:60]!r}")
        verb, obj, family, table, rest = m[1], m[2], m[3], m[4], (m[5] or "")
        if (family, table) != ("ip", "kube-proxy"):
            name = f"{family} {table}"
            if name not in info.foreign_tables:
                info.foreign_tables.append(name)
            continue
        info.has_kube_table = True
        if obj == "table":
            if verb in ("flush", "delete"):
                rs.chains.clear()
                rs.elements = {n: [] for n in SETS}
            continue
        name, _, tail = rest.partition(" ")
        if not name:
            raise DumpError(f"line {lineno}: {verb} {obj} without a name")
        if obj in ("set", "map"):
            if verb == "delete":
                rs.elements.pop(name, None)
                continue
            if verb == "flush":
                rs.elements[name] = []
                continue
            _set(obj, name, [(lineno, tail.strip().strip("{}").replace(";", " ; "))], rs, info, warnings, lineno)
        elif obj == "chain":
            if verb == "delete":
                rs.chains.pop(name, None)
            elif verb == "flush":
                rs.chains[name] = []
            else:
                rs.chains.setdefault(name, [])
                if " hook " in tail:
                    info.base_chains[name] = tail.strip().strip("{} ;")
                cm = re.search(r'comment "([^"]*)"', tail)
                if cm:
                    rs.chain_comments[name] = cm[1]
        elif obj == "rule":
            text = tail.strip()
            try:
                exprs = _rule(text, rs)
            except (ValueError, IndexError) as exc:
                raise DumpError(f"line {lineno}: cannot read rule {text[:60]!r}: {exc}") from None
            if any(e[0] == "unknown" for e in exprs):
                warnings.append(f"line {lineno}: kept rule with unknown expression {text[:80]!r} "
                                "(never matches in traces)")
            rule = NftRule(name, text, tuple(exprs), chain_owner(name))
            if verb == "insert":
                rs.chains.setdefault(name, []).insert(0, rule)
            else:
                rs.chains.setdefault(name, []).append(rule)
            rule_line[id(rule)] = lineno
        elif obj == "element":
            body = tail.strip()
            if not (body.startswith("{") and body.endswith("}")):
                raise DumpError(f"line {lineno}: element list without braces")
            kind = "map" if " : " in body else "set"
            items = [_element(kind, name, it, warnings, lineno) for it in _split_top(body[1:-1])]
            if verb == "delete":
                drop = {k for _, k, _ in items}
                rs.elements[name] = [e for e in rs.elements.get(name, []) if e[1] not in drop]
            else:
                rs.elements.setdefault(name, []).extend(items)
    for name in SETS:
        rs.elements.setdefault(name, [])
    check_loops(rs, {(c, k): rule_line.get(id(r), 0) for c, rr in rs.chains.items() for k, r in enumerate(rr)})
    return rs, info
