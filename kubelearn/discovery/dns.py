"""Cluster DNS: CoreDNS's answers and the pod resolver that asks the questions.

Every Service gets a name, ``<service>.<namespace>.svc.cluster.local``.  CoreDNS (still
reached through the Service called ``kube-dns``) answers it: the cluster IP for a normal
Service, the ready endpoint IPs for a headless one, a CNAME for an ExternalName Service,
SRV records for named ports and PTR records for reverse lookups.

Pods do not usually type full names.  The kubelet writes each pod an ``/etc/resolv.conf``
whose *search list* starts with the pod's own namespace and whose ``options ndots:5`` makes
the resolver try every search suffix first for any name with fewer than five dots.  So
``my-service`` works inside its namespace, ``my-service.other-ns`` works anywhere, and the
reversed ``other-ns.my-service`` fails: it reads as Service ``other-ns`` in a namespace
called ``my-service``.  :func:`resolve` shows every query a pod's resolver sends, with the
reason each candidate failed, like a ``dig +search`` session.

Modelled on the kubeadm Corefile (``pods insecure``, ``ttl 30``, ``forward . /etc/resolv.conf``).
"""

from __future__ import annotations

import html
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import objects
from ..cluster import Cluster
from ..errors import DNSError

__all__ = [
    "DNSError",
    "Query",
    "Record",
    "Resolution",
    "SCHEMA_VERSION",
    "TTL",
    "lookup",
    "resolv_conf",
    "resolve",
]

#: The kubeadm Corefile sets ``ttl 30`` in the kubernetes plugin (CoreDNS's own default is 5).
TTL = 30
#: Kubernetes DNS-Based Service Discovery spec version, served as TXT at ``dns-version.<zone>``.
SCHEMA_VERSION = "1.1.0"
TYPES = ("A", "AAAA", "SRV", "PTR", "CNAME", "TXT")

NOERROR, NXDOMAIN, SERVFAIL = "NOERROR", "NXDOMAIN", "SERVFAIL"


@dataclass(frozen=True)
class Record:
    """One resource record, as dig prints it in the ANSWER section."""

    name: str
    type: str
    data: str
    ttl: int = TTL

    def __str__(self) -> str:
        return f"{self.name}\t{self.ttl}\tIN\t{self.type}\t{self.data}"

    def to_dict(self) -> dict[str, Any]:
        """``{name, type, data, ttl}`` for JSON."""
        return {"name": self.name, "type": self.type, "data": self.data, "ttl": self.ttl}


@dataclass(frozen=True)
class Query:
    """One question the resolver sent, and what came back.

    Attributes:
        name: the fully qualified name asked (with the trailing dot).
        type: the record type.
        rcode: ``NOERROR``, ``NXDOMAIN`` or ``SERVFAIL``.
        answer: the records returned (empty with ``NOERROR`` is *NODATA*).
        note: how the cluster's DNS read the name, and why it failed.
        upstream: the name is outside the cluster's zones: CoreDNS forwards it.
    """

    name: str
    type: str
    rcode: str
    answer: tuple[Record, ...] = ()
    note: str = ""
    upstream: bool = False

    @property
    def ok(self) -> bool:
        """A positive answer: the resolver stops here."""
        return self.rcode == NOERROR and bool(self.answer)

    @property
    def status(self) -> str:
        """``NOERROR``, ``NODATA`` (NOERROR without answers), ``NXDOMAIN`` or ``SERVFAIL``."""
        return "NODATA" if self.rcode == NOERROR and not self.answer else self.rcode


@dataclass(frozen=True)
class Resolution:
    """A pod resolver's whole attempt to resolve one name (``getaddrinfo`` with the search list).

    Attributes:
        name: the name as typed.
        type: the record type asked for.
        queries: every candidate tried, in order.
        rcode: the final outcome (``NOERROR`` with an answer, else the resolver's error).
        answer: the records of the successful query (CNAME first when one was followed).
        search: the search list used; ``ndots``: the ndots option.
        client: which pod asked (``namespace/name``).
    """

    name: str
    type: str
    queries: tuple[Query, ...]
    rcode: str
    answer: tuple[Record, ...]
    search: tuple[str, ...] = ()
    ndots: int = 5
    client: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def addresses(self) -> list[str]:
        """The A/AAAA data of the answer."""
        return [r.data for r in self.answer if r.type in ("A", "AAAA")]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{name, type, queries: [{name, rcode, note}], rcode, answer: [...]}``."""
        return {
            "name": self.name,
            "type": self.type,
            "queries": [{"name": q.name, "rcode": q.rcode, "note": q.note} for q in self.queries],
            "rcode": self.rcode,
            "answer": [r.to_dict() for r in self.answer],
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON."""
        return json.dumps(self.to_dict(), indent=2)

    def __str__(self) -> str:
        lines = [f"; <<>> resolve {self.name} {self.type} <<>> from pod {self.client}",
                 f"; search {' '.join(self.search) or '(none)'}; options ndots:{self.ndots}"]
        for i, q in enumerate(self.queries, 1):
            lines.append(f";; query {i}: {q.name}\tIN\t{q.type}\t-> {q.status}")
            if q.note:
                lines.append(f";;   {q.note}")
            lines.extend(str(r) for r in q.answer)
        lines.extend(f"; {n}" for n in self.notes)
        lines.append(f";; result: {self.rcode}" + (f", {len(self.answer)} answer(s)" if self.answer else ""))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Resolution {self.name} {self.type}: {self.rcode} after {len(self.queries)} queries {self.addresses}>"

    def _repr_html_(self) -> str:
        colour = {"NOERROR": "#2e7d32", "NODATA": "#ef6c00", "NXDOMAIN": "#c62828", "SERVFAIL": "#6a1b9a"}
        rows = []
        for i, q in enumerate(self.queries, 1):
            answers = "<br>".join(html.escape(f"{r.type} {r.data}") for r in q.answer)
            rows.append(
                f"<tr><td>{i}</td><td><code>{html.escape(q.name)}</code></td>"
                f"<td style='color:{colour.get(q.status, '#000')}'><b>{q.status}</b></td>"
                f"<td>{answers}</td><td>{html.escape(q.note)}</td></tr>"
            )
        head = (f"<p>Resolving <code>{html.escape(self.name)}</code> ({self.type}) from pod "
                f"<code>{html.escape(self.client)}</code>; search <code>{html.escape(' '.join(self.search))}</code>, "
                f"ndots:{self.ndots}. Result: <b>{self.rcode}</b></p>")
        table = ("<table><tr><th>#</th><th>query</th><th>status</th><th>answer</th><th>why</th></tr>"
                 + "".join(rows) + "</table>")
        return head + table


# ---------------------------------------------------------------------------- resolv.conf
_SYNTHETIC_CLIENT = "client"


def _pod_obj(cluster: Cluster, pod: str | Mapping[str, Any] | None, namespace: str) -> Mapping[str, Any]:
    if pod is None:
        # Without a pod, ask as a plain pod (ClusterFirst, links on) in `namespace` would.
        return {"kind": "Pod", "metadata": {"name": _SYNTHETIC_CLIENT, "namespace": namespace}, "spec": {}}
    if isinstance(pod, Mapping):
        return pod
    return cluster.get("Pod", pod, namespace)


def _node_resolv(cluster: Cluster) -> tuple[list[str], list[str], list[tuple[str, str | None]]]:
    """The node's own /etc/resolv.conf.

    Simplification: kind nodes are Docker containers on a user-defined network; Docker writes
    ``nameserver 127.0.0.11`` + ``options ndots:0`` and kind's entrypoint swaps the address for
    the network's gateway.  kubelearn uses the first address of the node subnet as that
    gateway and models no host search domains.
    """
    net = ipaddress.ip_network(cluster.topology.node_subnet, strict=False)
    return [str(net.network_address + 1)], [], [("ndots", "0")]


def _parse_options(options: Sequence[Mapping[str, Any]]) -> list[tuple[str, str | None]]:
    out = []
    for opt in options:
        value = opt.get("value")
        out.append((str(opt["name"]), None if value is None else str(value)))
    return out


def _merge_options(base: list[tuple[str, str | None]], extra: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    # The kubelet's mergeDNSOptions: the pod's dnsConfig options replace those of the same name.
    merged = dict(base)
    for name, value in extra:
        merged[name] = value
    return list(merged.items())


def _dedupe(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _resolver(cluster: Cluster, pod: Mapping[str, Any], namespace: str) -> tuple[list[str], list[str], list[tuple[str, str | None]]]:
    """(nameservers, search, options) as the kubelet builds them for ``pod``."""
    spec = objects.spec(pod)
    ns = pod.get("metadata", {}).get("namespace", namespace)
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    host_network = bool(spec.get("hostNetwork"))
    config = spec.get("dnsConfig") or {}
    domain = cluster.topology.domain
    node_ns, node_search, node_opts = _node_resolv(cluster)
    if policy not in ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"):
        raise DNSError(f'spec.dnsPolicy: Unsupported value: "{policy}": supported values: '
                       '"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"')
    if policy == "ClusterFirst" and host_network:
        policy = "Default"  # hostNetwork pods fall back to the node's resolver
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet"):
        servers = [cluster.topology.dns_ip]
        search = [f"{ns}.svc.{domain}", f"svc.{domain}", domain, *node_search]
        options: list[tuple[str, str | None]] = [("ndots", "5")]  # replaces the node's options
    elif policy == "Default":
        servers, search, options = list(node_ns), list(node_search), list(node_opts)
    else:  # None: dnsConfig alone
        if not config:
            raise DNSError('spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None')
        servers, search, options = [], [], []
    servers = _dedupe([*servers, *(config.get("nameservers") or [])])[:3]
    search = _dedupe([*search, *(config.get("searches") or [])])[:32]
    options = _merge_options(options, _parse_options(config.get("options") or []))
    return servers, search, options


def resolv_conf(cluster: Cluster, pod: str | Mapping[str, Any] | None = None, namespace: str = "default") -> str:
    """The ``/etc/resolv.conf`` the kubelet (through containerd) writes for a pod.

    Args:
        cluster: the cluster.
        pod: a pod name, a Pod object, or ``None`` for a plain pod in ``namespace``.
        namespace: the pod's namespace.

    Returns:
        The file's text, e.g.::

            search default.svc.cluster.local svc.cluster.local cluster.local
            nameserver 10.96.0.10
            options ndots:5

    Raises:
        NotFoundError: unknown pod.  DNSError: invalid ``dnsPolicy``/``dnsConfig``.
    """
    servers, search, options = _resolver(cluster, _pod_obj(cluster, pod, namespace), namespace)
    lines = []
    # containerd writes search first, then nameservers, then options.
    if search:
        lines.append("search " + " ".join(search))
    lines.extend(f"nameserver {s}" for s in servers)
    if options:
        lines.append("options " + " ".join(n if v is None else f"{n}:{v}" for n, v in options))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- CoreDNS
def _fqdn(name: str) -> str:
    name = name.strip().lower()
    return name if name.endswith(".") else name + "."


def _reverse_name(ip: str) -> str:
    return ipaddress.ip_address(ip).reverse_pointer + "."


def _dashed(ip: str) -> str:
    # CoreDNS's endpoint hostname when none is set: dots/colons become dashes; an IPv6 form
    # ending in '-' gets a '0' appended.
    out = ip.replace(".", "-").replace(":", "-")
    return out + "0" if out.endswith("-") else out


def _family_type(ip: str) -> str:
    return "AAAA" if ":" in ip else "A"


def _namespaces(cluster: Cluster) -> set[str]:
    names = {"default", "kube-system", "kube-public", "kube-node-lease"}
    for kind, ns, name in cluster.objects:
        if kind == "Namespace":
            names.add(name)
        elif ns:
            names.add(ns)
    return names


def _ready_endpoints(cluster: Cluster, svc: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any], list[Mapping[str, Any]]]]:
    """(hostname, endpoint, slice ports) for every ready endpoint of the Service's slices.

    CoreDNS keeps endpoints whose ``conditions.ready`` is true or unset.
    """
    meta = svc["metadata"]
    out = []
    slices = [s for s in cluster.list("EndpointSlice", meta.get("namespace", "default"))
              if s["metadata"].get("labels", {}).get("kubernetes.io/service-name") == meta["name"]]
    for sl in sorted(slices, key=lambda s: objects.name(s)):
        for ep in sl.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready") is False:
                continue
            addresses = ep.get("addresses") or []
            if not addresses:
                continue
            host = ep.get("hostname") or _dashed(addresses[0])
            out.append((host, ep, list(sl.get("ports") or [])))
    return out


def _srv(records: list[tuple[str, int, str]], qname: str) -> list[Record]:
    # CoreDNS: priority 0, weight 100 / number of records (integer division).
    weight = 100 // len(records) if records else 0
    return [Record(qname, "SRV", f"0 {weight} {port} {target}") for _, port, target in records]


@dataclass
class _Answer:
    rcode: str
    records: list[Record]
    note: str = ""
    upstream: bool = False


def _upstream(fqdn: str) -> _Answer:
    """A name outside the cluster's zones: CoreDNS forwards it to the node's resolver.

    kubelearn has no internet, like a cluster without an uplink: the answer is SERVFAIL,
    except for names whose last label cannot be a top-level domain (TLDs are letters only,
    or ``xn--`` punycode), which the root zone certainly denies (NXDOMAIN).
    """
    labels = fqdn.rstrip(".").split(".")
    tld = labels[-1] if labels and labels[-1] else ""
    if not re.fullmatch(r"[a-z]{2,63}|xn--[a-z0-9-]+", tld):
        return _Answer(NXDOMAIN, [], f'forwarded upstream: there is no top-level domain "{tld}"', True)
    return _Answer(SERVFAIL, [], "forwarded upstream (outside the cluster); kubelearn does not model "
                   "the internet, so no answer", True)


def _service_answer(cluster: Cluster, fqdn: str, qtype: str, svc_name: str, ns: str) -> _Answer:
    where = f'read as Service "{svc_name}" in namespace "{ns}"'
    if ns not in _namespaces(cluster):
        return _Answer(NXDOMAIN, [], f"{where}: there is no namespace \"{ns}\"")
    if not cluster.has("Service", svc_name, ns):
        return _Answer(NXDOMAIN, [], f"{where}: no such Service")
    svc = cluster.get("Service", svc_name, ns)
    spec = objects.spec(svc)
    if spec.get("type") == "ExternalName":
        target = _fqdn(str(spec.get("externalName", "")))
        return _Answer(NOERROR, [Record(fqdn, "CNAME", target)], f"ExternalName Service: an alias for {target}")
    ips = [ip for ip in (spec.get("clusterIPs") or [spec.get("clusterIP")]) if ip]
    if ips and ips[0] != "None":
        if qtype in ("A", "AAAA"):
            recs = [Record(fqdn, qtype, ip) for ip in ips if _family_type(ip) == qtype]
            return _Answer(NOERROR, recs, f"{where}: its cluster IP" if recs else f"{where}: no {qtype} (IP family)")
        if qtype == "SRV":
            srv = [(p.get("name", ""), int(p["port"]), fqdn) for p in spec.get("ports") or [] for _ in ips]
            return _Answer(NOERROR, _srv(srv, fqdn), f"{where}: one SRV record per port")
        return _Answer(NOERROR, [], f"{where}: no {qtype} records")
    # Headless: the ready endpoints themselves.
    ready = _ready_endpoints(cluster, svc)
    if not ready:
        return _Answer(NXDOMAIN, [], f"{where}: headless, and no endpoint is ready")
    if qtype in ("A", "AAAA"):
        recs = [Record(fqdn, qtype, ip) for _, ep, _ in ready for ip in ep["addresses"] if _family_type(ip) == qtype]
        recs = list(dict.fromkeys(recs))
        return _Answer(NOERROR, recs, f"{where}: headless, one record per ready endpoint")
    if qtype == "SRV":
        srv = [(p.get("name", ""), int(p["port"]), f"{host}.{fqdn}") for host, _, ports in ready for p in ports]
        return _Answer(NOERROR, _srv(srv, fqdn), f"{where}: headless, one SRV per ready endpoint and port")
    return _Answer(NOERROR, [], f"{where}: no {qtype} records")


def _port_answer(cluster: Cluster, fqdn: str, qtype: str, port: str, proto: str, svc_name: str, ns: str) -> _Answer:
    where = f'read as port "{port[1:]}"/{proto[1:]} of Service "{svc_name}" in namespace "{ns}"'
    if not cluster.has("Service", svc_name, ns) or ns not in _namespaces(cluster):
        return _Answer(NXDOMAIN, [], f"{where}: no such Service")
    svc = cluster.get("Service", svc_name, ns)
    spec = objects.spec(svc)
    if spec.get("type") == "ExternalName":
        return _Answer(NXDOMAIN, [], f"{where}: ExternalName Services have no ports")
    base = f"{svc_name}.{ns}.svc.{cluster.topology.domain}."

    def match(p: Mapping[str, Any]) -> bool:
        return bool(p.get("name")) and p["name"] == port[1:] and str(p.get("protocol", "TCP")).lower() == proto[1:]

    ips = [ip for ip in (spec.get("clusterIPs") or [spec.get("clusterIP")]) if ip]
    if ips and ips[0] != "None":
        srv = [(p["name"], int(p["port"]), base) for p in spec.get("ports") or [] if match(p) for _ in ips]
    else:
        srv = [(p["name"], int(p["port"]), f"{host}.{base}")
               for host, _, ports in _ready_endpoints(cluster, svc) for p in ports if match(p)]
    if not srv:
        return _Answer(NXDOMAIN, [], f"{where}: no such named port (unnamed ports have no SRV name)")
    if qtype != "SRV":
        return _Answer(NOERROR, [], f"{where}: only SRV records here")
    return _Answer(NOERROR, _srv(srv, fqdn), where)


def _endpoint_answer(cluster: Cluster, fqdn: str, qtype: str, host: str, svc_name: str, ns: str) -> _Answer:
    where = f'read as endpoint "{host}" of Service "{svc_name}" in namespace "{ns}"'
    if not cluster.has("Service", svc_name, ns) or ns not in _namespaces(cluster):
        return _Answer(NXDOMAIN, [], f"{where}: no such Service")
    svc = cluster.get("Service", svc_name, ns)
    if objects.spec(svc).get("type") == "ExternalName":
        return _Answer(NXDOMAIN, [], f"{where}: ExternalName Services have no endpoints")
    found = [ep for h, ep, _ in _ready_endpoints(cluster, svc) if h == host]
    if not found:
        return _Answer(NXDOMAIN, [], f"{where}: no ready endpoint has that hostname")
    if qtype not in ("A", "AAAA"):
        return _Answer(NOERROR, [], f"{where}: no {qtype} records")
    recs = list(dict.fromkeys(Record(fqdn, qtype, ip) for ep in found for ip in ep["addresses"]
                              if _family_type(ip) == qtype))
    return _Answer(NOERROR, recs, where)


def _pod_answer(cluster: Cluster, fqdn: str, qtype: str, dashed: str, ns: str) -> _Answer:
    where = f'read as pod IP "{dashed}" in namespace "{ns}"'
    if ns not in _namespaces(cluster):
        return _Answer(NXDOMAIN, [], f"{where}: there is no namespace \"{ns}\"")
    # `pods insecure`: the IP is parsed from the name, no pod needs to exist.
    text = dashed.replace("-", ".") if dashed.count("-") == 3 else dashed.replace("-", ":")
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return _Answer(NXDOMAIN, [], f"{where}: not an IP address with dashes")
    if qtype != _family_type(str(ip)):
        return _Answer(NOERROR, [], f"{where}: no {qtype} records")
    return _Answer(NOERROR, [Record(fqdn, qtype, str(ip))], f"{where} (pods insecure: the IP is taken from the name)")


def _ptr_answer(cluster: Cluster, fqdn: str, qtype: str) -> _Answer:
    try:
        ip = _ip_from_reverse(fqdn)
    except ValueError:
        return _upstream(fqdn)
    domain = cluster.topology.domain
    targets: list[str] = []
    for svc in cluster.list("Service"):
        spec = objects.spec(svc)
        if any(c == ip for c in (spec.get("clusterIPs") or [spec.get("clusterIP")]) if c):
            targets.append(f"{svc['metadata']['name']}.{svc['metadata'].get('namespace', 'default')}.svc.{domain}.")
    if not targets:
        for svc in cluster.list("Service"):
            if objects.spec(svc).get("type") == "ExternalName":
                continue
            for host, ep, _ in _ready_endpoints(cluster, svc):
                if ip in ep["addresses"]:
                    meta = svc["metadata"]
                    targets.append(f"{host}.{meta['name']}.{meta.get('namespace', 'default')}.svc.{domain}.")
    if not targets:
        # The Corefile's `fallthrough in-addr.arpa ip6.arpa` hands unknown IPs to the next plugin.
        ans = _upstream(fqdn)
        ans.note = f"{ip} is no cluster IP or endpoint: " + ans.note
        return ans
    if qtype != "PTR":
        return _Answer(NOERROR, [], f"reverse name of {ip}: only PTR records here")
    targets = list(dict.fromkeys(targets))
    return _Answer(NOERROR, [Record(fqdn, "PTR", t) for t in targets], f"reverse lookup of {ip}")


def _ip_from_reverse(fqdn: str) -> str:
    labels = fqdn.rstrip(".").split(".")
    if labels[-2:] == ["in-addr", "arpa"] and len(labels) == 6:
        return str(ipaddress.IPv4Address(".".join(reversed(labels[:4]))))
    if labels[-2:] == ["ip6", "arpa"] and len(labels) == 34:
        nibbles = "".join(reversed(labels[:32]))
        return str(ipaddress.IPv6Address(int(nibbles, 16)))
    raise ValueError(fqdn)


def _answer(cluster: Cluster, fqdn: str, qtype: str) -> _Answer:
    zone = cluster.topology.domain.lower().strip(".")
    name = fqdn.rstrip(".")
    if name.endswith(".in-addr.arpa") or name.endswith(".ip6.arpa"):
        return _ptr_answer(cluster, fqdn, qtype)
    if name != zone and not name.endswith("." + zone):
        return _upstream(fqdn)
    labels = name[: -len(zone)].rstrip(".").split(".") if name != zone else []
    labels = [lab for lab in labels if lab] if name != zone else []
    if not labels:
        return _Answer(NOERROR, [], f"the zone apex {zone}: no {qtype} records")
    if labels == ["dns-version"]:
        recs = [Record(fqdn, "TXT", f'"{SCHEMA_VERSION}"')] if qtype == "TXT" else []
        return _Answer(NOERROR, recs, "the DNS schema version")
    if labels == ["ns", "dns"]:
        recs = [Record(fqdn, "A", cluster.topology.dns_ip)] if qtype == "A" else []
        return _Answer(NOERROR, recs, "the cluster DNS server itself")
    kind = labels[-1]
    rest = labels[:-1]
    if kind == "svc":
        if not rest:
            return _Answer(NOERROR, [], f"svc.{zone} exists but holds no records itself")
        if len(rest) == 1:
            return _namespace_answer(cluster, rest[0])
        if len(rest) == 2:
            return _service_answer(cluster, fqdn, qtype, rest[0], rest[1])
        if len(rest) == 3:
            return _endpoint_answer(cluster, fqdn, qtype, rest[0], rest[1], rest[2])
        if len(rest) == 4 and rest[0].startswith("_") and rest[1].startswith("_"):
            return _port_answer(cluster, fqdn, qtype, rest[0], rest[1], rest[2], rest[3])
        return _Answer(NXDOMAIN, [], f"too many labels before svc.{zone}: Service names are <service>.<namespace>.svc.{zone}")
    if kind == "pod":
        if not rest:
            return _Answer(NOERROR, [], f"pod.{zone} exists but holds no records itself")
        if len(rest) == 1:
            return _namespace_answer(cluster, rest[0])
        if len(rest) == 2:
            return _pod_answer(cluster, fqdn, qtype, rest[0], rest[1])
        return _Answer(NXDOMAIN, [], f"pod names are <a-b-c-d>.<namespace>.pod.{zone}")
    return _Answer(NXDOMAIN, [], f'"{kind}" is neither svc nor pod: below {zone} only svc.{zone} and pod.{zone} hold names')


def _namespace_answer(cluster: Cluster, ns: str) -> _Answer:
    """``<ns>.svc.<zone>`` or ``<ns>.pod.<zone>``: NODATA when the namespace exists, else NXDOMAIN."""
    if ns in _namespaces(cluster):
        return _Answer(NOERROR, [], f'read as namespace "{ns}": it exists but holds no records itself')
    return _Answer(NXDOMAIN, [], f'read as namespace "{ns}": there is no such namespace')


def _check_type(qtype: str) -> str:
    qtype = qtype.upper()
    if qtype not in TYPES:
        raise DNSError(f"unsupported record type {qtype!r}: kubelearn answers {', '.join(TYPES)}")
    return qtype


def lookup(cluster: Cluster, fqdn: str, type: str = "A") -> tuple[str, list[Record]]:
    """Ask the cluster's CoreDNS one question directly (``dig @10.96.0.10 NAME TYPE +norecurse``).

    The name is taken as absolute (no search list); names are case-insensitive.

    Args:
        cluster: the cluster.
        fqdn: the name, with or without the trailing dot.
        type: ``A``, ``AAAA``, ``SRV``, ``PTR``, ``CNAME`` or ``TXT``.

    Returns:
        ``(rcode, records)``; ``NOERROR`` with no records is NODATA.  Names outside the cluster
        zones come back ``SERVFAIL`` (forwarded upstream, which kubelearn does not model) or
        ``NXDOMAIN`` when their last label cannot be a top-level domain.

    Raises:
        DNSError: an unsupported record type.
    """
    ans = _answer(cluster, _fqdn(fqdn), _check_type(type))
    return ans.rcode, list(ans.records)


def _query(cluster: Cluster, fqdn: str, qtype: str, cluster_dns: bool) -> Query:
    ans = _answer(cluster, fqdn, qtype) if cluster_dns else _upstream(fqdn)
    records = list(ans.records)
    note = ans.note
    if not cluster_dns:
        note = "the pod's nameserver is not the cluster DNS: " + note
    # CoreDNS follows an ExternalName's CNAME for A/AAAA questions when the target is its own.
    if records and records[0].type == "CNAME" and qtype in ("A", "AAAA"):
        target = records[0].data
        inner = _answer(cluster, target, qtype)
        if inner.upstream:
            note += f"; {target} is forwarded upstream and cannot be resolved offline"
        else:
            records.extend(inner.records)
    return Query(fqdn, qtype, ans.rcode, tuple(records), note, ans.upstream)


def resolve(
    cluster: Cluster,
    name: str,
    type: str = "A",
    from_pod: str | Mapping[str, Any] | None = None,
    namespace: str = "default",
) -> Resolution:
    """Resolve ``name`` as a pod's stub resolver (glibc) would, showing every query.

    The pod's resolv.conf decides the candidates: a name ending in ``.`` is asked once; a name
    with at least ``ndots`` dots is asked as written first, then with each search suffix;
    otherwise each search suffix is tried first and the name as written last.  NXDOMAIN,
    NODATA and SERVFAIL move on to the next candidate; the first answer wins.

    Args:
        cluster: the cluster.
        name: the name typed, e.g. ``my-service``, ``redis-master.prod``, ``10.96.0.1`` is not
            a name: use ``type="PTR"`` with ``1.0.96.10.in-addr.arpa`` for reverse lookups.
        type: the record type.
        from_pod: the asking pod (name in ``namespace``, or a Pod object).  ``None`` means a
            plain pod (``dnsPolicy: ClusterFirst``) in ``namespace``.
        namespace: the pod's namespace.

    Returns:
        A :class:`Resolution` (prints as a dig-like session; ``.to_dict()`` for JSON).

    Raises:
        DNSError: unsupported type or bad DNS config.  NotFoundError: unknown pod.
    """
    qtype = _check_type(type)
    pod = _pod_obj(cluster, from_pod, namespace)
    servers, search, options = _resolver(cluster, pod, namespace)
    ndots = 1
    for opt, value in options:
        if opt == "ndots" and value is not None:
            ndots = min(int(value), 15)  # glibc caps ndots at 15
    typed = name.strip().lower()
    if not typed or typed == "." or ".." in typed:
        raise DNSError(f"invalid name {name!r}")
    if typed.endswith("."):
        candidates = [typed]
    else:
        expanded = [f"{typed}.{s}." for s in search]
        candidates = [typed + ".", *expanded] if typed.count(".") >= ndots else [*expanded, typed + "."]
    cluster_dns = bool(servers) and servers[0] == cluster.topology.dns_ip
    queries: list[Query] = []
    for cand in _dedupe(candidates):
        q = _query(cluster, cand, qtype, cluster_dns)
        queries.append(q)
        if q.ok:
            break
    last = queries[-1]
    if last.ok:
        rcode, answer = NOERROR, last.answer
    elif any(q.status == "NODATA" for q in queries):
        rcode, answer = NOERROR, ()
    elif any(q.rcode == SERVFAIL for q in queries):
        rcode, answer = SERVFAIL, ()
    else:
        rcode, answer = NXDOMAIN, ()
    notes = []
    dots = typed.rstrip(".").count(".")
    if not typed.endswith("."):
        order = "as written first" if dots >= ndots else "search list first"
        notes.append(f"{typed!r} has {dots} dot(s), ndots is {ndots}: {order}")
    meta = pod.get("metadata", {})
    client = f"{meta.get('namespace', namespace)}/{meta.get('name', _SYNTHETIC_CLIENT)}"
    return Resolution(typed, qtype, tuple(queries), rcode, tuple(answer), tuple(search), ndots, client, tuple(notes))
