"""Chain names: how kube-proxy turns a service port into ``KUBE-SVC-XPGD46QRK7WJZT7O``.

kube-proxy needs one chain per service port and one per endpoint, with names that are
stable across restarts and fit iptables' 28-character limit.  It hashes the *service port
name* (``namespace/name``, plus ``:portName`` only when the port is named), the protocol in
lower case and, for endpoints, the endpoint ``IP:port``, with SHA-256, encodes the digest in
base32 (RFC 4648, ``A-Z2-7``) and keeps the first 16 characters.  The four chains of one
service port (``KUBE-SVC-``, ``KUBE-SVL-``, ``KUBE-EXT-``, ``KUBE-FW-``) share that hash.

nftables mode has no 28-character limit, so its names are readable: the first 8 base32
characters of the hash of ``ns/svc/proto/portName`` (or ``...__IP/port`` for an endpoint),
then ``-`` and the name itself, e.g. ``service-ULMVA6XW-ns1/svc1/tcp/p80``.
"""

from __future__ import annotations

import hashlib

__all__ = [
    "endpoint_string",
    "ext_chain",
    "fw_chain",
    "nft_endpoint_base",
    "nft_hashed_name",
    "nft_service_base",
    "port_hash",
    "sep_chain",
    "service_port_name",
    "svc_chain",
    "svl_chain",
]


def service_port_name(namespace: str, name: str, port_name: str = "") -> str:
    """``ServicePortName.String()``: ``ns/svc:port``, or ``ns/svc`` for an unnamed port."""
    return f"{namespace}/{name}:{port_name}" if port_name else f"{namespace}/{name}"


def endpoint_string(ip: str, port: int) -> str:
    """``net.JoinHostPort``: ``10.0.0.1:80``, ``[fd00::1]:80`` for IPv6."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # RFC 4648 alphabet
_PAIRS = tuple(_B32[i >> 5] + _B32[i & 31] for i in range(1024))  # 10 bits -> 2 characters


def _b32_16(text: str) -> str:
    # 16 base32 characters are exactly the first 80 bits (10 bytes) of the digest, so
    # encoding those is the same as base64.b32encode(digest)[:16], only faster (this runs
    # once per endpoint; test_proxy_iptables checks it against base64).
    n = int.from_bytes(hashlib.sha256(text.encode()).digest()[:10], "big")
    p = _PAIRS
    return (p[n >> 70] + p[(n >> 60) & 1023] + p[(n >> 50) & 1023] + p[(n >> 40) & 1023]
            + p[(n >> 30) & 1023] + p[(n >> 20) & 1023] + p[(n >> 10) & 1023] + p[n & 1023])


def port_hash(spn: str, protocol: str) -> str:
    """The 16-character hash every chain of one service port shares (protocol lower-cased)."""
    return _b32_16(spn + protocol.lower())


def svc_chain(spn: str, protocol: str) -> str:
    """``KUBE-SVC-<hash>``: the Cluster traffic-policy chain."""
    return "KUBE-SVC-" + port_hash(spn, protocol)


def svl_chain(spn: str, protocol: str) -> str:
    """``KUBE-SVL-<hash>``: the Local traffic-policy chain."""
    return "KUBE-SVL-" + port_hash(spn, protocol)


def ext_chain(spn: str, protocol: str) -> str:
    """``KUBE-EXT-<hash>``: entry for NodePort, externalIP and LoadBalancer traffic."""
    return "KUBE-EXT-" + port_hash(spn, protocol)


def fw_chain(spn: str, protocol: str) -> str:
    """``KUBE-FW-<hash>``: the loadBalancerSourceRanges filter."""
    return "KUBE-FW-" + port_hash(spn, protocol)


def sep_chain(spn: str, protocol: str, endpoint: str) -> str:
    """``KUBE-SEP-<hash>`` for one endpoint (``IP:port``) of one service port."""
    return "KUBE-SEP-" + _b32_16(spn + protocol.lower() + endpoint)


def nft_service_base(namespace: str, name: str, protocol: str, port_name: str) -> str:
    """``ns/svc/proto/portName``, the readable part of nftables service chain names."""
    return f"{namespace}/{name}/{protocol.lower()}/{port_name}"


def nft_endpoint_base(service_base: str, ip: str, port: int) -> str:
    """``ns/svc/proto/portName__IP/port`` (IPv6 colons become dots)."""
    return f"{service_base}__{ip.replace(':', '.')}/{port}"


def nft_hashed_name(prefix: str, base: str) -> str:
    """``<prefix>-<8 hash chars>-<base>``, e.g. ``service-ULMVA6XW-ns1/svc1/tcp/p80``."""
    return f"{prefix}-{_b32_16(base)[:8]}-{base}"
