"""kube-proxy's own validation of the ``KubeProxyConfiguration`` fields kubelearn reads.

kube-proxy decodes its ``--config`` file into Go types (so a string where a number belongs,
or a duration Go cannot parse, is refused while decoding), converts the v1alpha1 file to its
internal form, then runs ``validation.Validate`` (kubernetes/kubernetes,
``pkg/proxy/apis/config/validation/validation.go``) and refuses to start with every error at
once.  Each error is an apimachinery ``field.Error``: a path of Go field names rooted at
``KubeProxyConfiguration`` (``KubeProxyConfiguration.KubeProxyIPTablesConfiguration.MasqueradeBit``,
not the YAML key), ``Invalid value:``, the value as Go prints it (strings quoted, durations
bare), and the rule.  The internal form explains some of the paths:

- ``clusterCIDR`` ("10.244.0.0/16" or a dual-stack pair "v4,v6") becomes
  ``DetectLocal.ClusterCIDRs`` (split on ","), checked only when ``detectLocalMode`` is
  ``ClusterCIDR`` (or blank, kube-proxy's default), as
  ``KubeProxyConfiguration.DetectLocalConfiguration.ClusterCIDRs[i]``;
- ``syncPeriod``/``minSyncPeriod`` are taken from the section of the mode in use
  (``nftables.*``, ``ipvs.*``, else ``iptables.*``) and checked as
  ``KubeProxyConfiguration.SyncPeriod``/``MinSyncPeriod``;
- ``conntrack`` lives under ``KubeProxyLinuxConfiguration.KubeProxyConntrackConfiguration``;
- ``iptables.masqueradeBit`` is always checked, ``nftables.masqueradeBit`` only in nftables mode.

Where kubelearn simplifies: kube-proxy knows every v1.33 feature gate and refuses an unknown
name ("unrecognized feature gate: X"); kubelearn knows only the gates it models, so it refuses
only names that cannot be a gate's (a gate is a CamelCase word: letters and digits).  IP
parsing uses Python's :mod:`ipaddress`, which (unlike Go's "sloppy" parser) refuses IPv4
octets with leading zeros.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any

from ..errors import ManifestError

__all__ = ["validate_proxy_config"]

_ROOT = "KubeProxyConfiguration"
_SOURCE = "KubeProxyConfiguration"
#: Go's time.ParseDuration grammar: a signed sequence of decimal numbers with unit suffixes.
_DURATION = re.compile(r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+|[-+]?0")
_UNIT_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
            "h": 3600 * 10**9}
_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
#: What a CIDR string may contain before :mod:`ipaddress` reads it (Go's ParseCIDR needs the "/").
_CIDR_TEXT = re.compile(r"[0-9A-Fa-f:.]+/[0-9]{1,3}")
_GATE_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")
_INT32 = (-(2**31), 2**31 - 1)


def _go_quote(s: str) -> str:
    """Go's ``%q`` for a string (close enough: JSON escapes, non-ASCII kept)."""
    return json.dumps(s, ensure_ascii=False)


def _go_value(v: Any) -> str:
    """A value the way ``field.Error`` prints it: strings quoted, numbers and bools bare."""
    if isinstance(v, str):
        return _go_quote(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, Mapping):
        items = ",".join(f"{_go_quote(str(k))}:{_go_value(x)}" for k, x in sorted(v.items(), key=lambda kv: str(kv[0])))
        return f"map[string]bool{{{items}}}"
    return str(v)


def _invalid(path: str, value: Any, detail: str, yaml_path: str) -> ManifestError:
    return ManifestError(f"{_ROOT}.{path}: Invalid value: {value}: {detail}", source=_SOURCE, path=yaml_path)


def _json_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, Mapping):
        return "object"
    if isinstance(v, list):
        return "array"
    return "null" if v is None else type(v).__name__


def _decode_error(value: Any, struct: str, yaml_path: str, go_type: str) -> ManifestError:
    """The decoder's refusal of a value of the wrong type (before any validation runs)."""
    return ManifestError(f"json: cannot unmarshal {_json_kind(value)} into Go struct field "
                         f"{struct}.{yaml_path} of type {go_type}", source=_SOURCE, path=yaml_path)


def _int32(section: Mapping[str, Any], key: str, struct: str, yaml_path: str,
           errors: list[ManifestError]) -> int | None:
    v = section.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not _INT32[0] <= v <= _INT32[1]:
        errors.append(_decode_error(v, struct, yaml_path, "int32"))
        return None
    return v


def _duration_ns(section: Mapping[str, Any], key: str, struct: str, yaml_path: str,
                 errors: list[ManifestError]) -> tuple[int, str] | None:
    """A Go duration string as nanoseconds and its text, or None (error recorded) if Go refuses it."""
    v = section.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        errors.append(_decode_error(v, struct, yaml_path, "v1.Duration"))
        return None
    if not _DURATION.fullmatch(v):
        errors.append(ManifestError(f"time: invalid duration {_go_quote(v)}", source=_SOURCE, path=yaml_path))
        return None
    ns = sum(int(float(num) * _UNIT_NS[unit]) for num, unit in _PART.findall(v))
    return (-ns if v.startswith("-") else ns), v


def _cidr_ok(text: Any) -> bool:
    if not isinstance(text, str) or not _CIDR_TEXT.fullmatch(text):
        return False
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def _section(cfg: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    v = cfg.get(key)
    return v if isinstance(v, Mapping) else {}


def validate_proxy_config(cfg: Mapping[str, Any]) -> list[ManifestError]:
    """Every error kube-proxy v1.33 would report for the fields kubelearn reads.

    ``cfg`` is the merged configuration (defaults filled in, ``mode`` and ``detectLocalMode``
    as written, possibly blank).  ``mode``, ``detectLocalMode`` and ``ipvs.scheduler`` are
    checked by :func:`kubelearn.kind.default_proxy_config` itself.  Each error's ``path``
    is the YAML field path, so the caller can add the line.
    """
    errors: list[ManifestError] = []
    mode = cfg.get("mode") if isinstance(cfg.get("mode"), str) else ""

    gates = cfg.get("featureGates")
    if isinstance(gates, Mapping):
        for name in sorted(gates, key=str):
            if not isinstance(name, str) or not _GATE_NAME.fullmatch(name):
                errors.append(_invalid("featureGates", _go_value(gates), f"unrecognized feature gate: {_go_quote(str(name))[1:-1]}",
                                       "featureGates"))
                break  # SetFromMap stops at the first bad gate

    ipt = _section(cfg, "iptables")
    bit = _int32(ipt, "masqueradeBit", "KubeProxyIPTablesConfiguration", "iptables.masqueradeBit", errors)
    if bit is not None and not 0 <= bit <= 31:
        errors.append(_invalid("KubeProxyIPTablesConfiguration.MasqueradeBit", bit,
                               "must be within the range [0, 31]", "iptables.masqueradeBit"))
    nft = _section(cfg, "nftables")
    nbit = _int32(nft, "masqueradeBit", "KubeProxyNFTablesConfiguration", "nftables.masqueradeBit", errors)
    if mode == "nftables" and nbit is not None and not 0 <= nbit <= 31:
        errors.append(_invalid("KubeProxyNFTablesConfiguration.MasqueradeBit", nbit,
                               "must be within the range [0, 31]", "nftables.masqueradeBit"))

    ct = _section(cfg, "conntrack")
    ct_path = "KubeProxyLinuxConfiguration.KubeProxyConntrackConfiguration"
    for key, field in (("maxPerCore", "MaxPerCore"), ("min", "Min")):
        n = _int32(ct, key, "KubeProxyConntrackConfiguration", f"conntrack.{key}", errors)
        if n is not None and n < 0:
            errors.append(_invalid(f"{ct_path}.{field}", n, "must be greater than or equal to 0", f"conntrack.{key}"))
    for key, field in (("tcpEstablishedTimeout", "TCPEstablishedTimeout"), ("tcpCloseWaitTimeout", "TCPCloseWaitTimeout"),
                       ("udpTimeout", "UDPTimeout"), ("udpStreamTimeout", "UDPStreamTimeout")):
        d = _duration_ns(ct, key, "KubeProxyConntrackConfiguration", f"conntrack.{key}", errors)
        if d is not None and d[0] < 0:
            errors.append(_invalid(f"{ct_path}.{field}", d[1], "must be greater than or equal to 0", f"conntrack.{key}"))
    v = ct.get("tcpBeLiberal")
    if v is not None and not isinstance(v, bool):
        errors.append(_decode_error(v, "KubeProxyConntrackConfiguration", "conntrack.tcpBeLiberal", "bool"))

    # The sync periods of every section are decoded; those of the mode in use are validated.
    periods: dict[str, tuple[tuple[int, str] | None, tuple[int, str] | None]] = {}
    for sec, struct in (("iptables", "KubeProxyIPTablesConfiguration"), ("ipvs", "KubeProxyIPVSConfiguration"),
                        ("nftables", "KubeProxyNFTablesConfiguration")):
        s = _section(cfg, sec)
        periods[sec] = (_duration_ns(s, "syncPeriod", struct, f"{sec}.syncPeriod", errors),
                        _duration_ns(s, "minSyncPeriod", struct, f"{sec}.minSyncPeriod", errors))
    sec = mode if mode in ("ipvs", "nftables") else "iptables"
    sync, min_sync = periods[sec]
    if sync is not None and sync[0] <= 0:
        errors.append(_invalid("SyncPeriod", sync[1], "must be greater than 0", f"{sec}.syncPeriod"))
    if min_sync is not None and min_sync[0] < 0:
        errors.append(_invalid("MinSyncPeriod", min_sync[1], "must be greater than or equal to 0", f"{sec}.minSyncPeriod"))
    if sync is not None and min_sync is not None and min_sync[0] > sync[0]:
        errors.append(_invalid("SyncPeriod", min_sync[1], f"must be greater than or equal to {_ROOT}.MinSyncPeriod",
                               f"{sec}.syncPeriod"))

    npa = cfg.get("nodePortAddresses")
    if npa is not None:
        if not isinstance(npa, list) or not all(isinstance(a, str) for a in npa):
            errors.append(_decode_error(npa, _ROOT, "nodePortAddresses", "[]string"))
        else:
            for i, a in enumerate(npa):
                if a == "primary":
                    if i != 0 or len(npa) != 1:
                        errors.append(_invalid(f"NodePortAddresses[{i}]", _go_quote(a), "can't use both 'primary' and CIDRs",
                                               "nodePortAddresses"))
                    break
                if not _cidr_ok(a):
                    errors.append(_invalid(f"NodePortAddresses[{i}]", _go_quote(a), "must be a valid CIDR",
                                           "nodePortAddresses"))

    detect = cfg.get("detectLocalMode")
    dl = _section(cfg, "detectLocal")
    for key in ("bridgeInterface", "interfaceNamePrefix"):
        if dl.get(key) is not None and not isinstance(dl.get(key), str):
            errors.append(_decode_error(dl.get(key), "DetectLocalConfiguration", f"detectLocal.{key}", "string"))
    if detect == "BridgeInterface" and not dl.get("bridgeInterface"):
        errors.append(_invalid("DetectLocalConfiguration.InterfaceName", '""', "must not be empty",
                               "detectLocal.bridgeInterface"))
    elif detect == "InterfaceNamePrefix" and not dl.get("interfaceNamePrefix"):
        errors.append(_invalid("DetectLocalConfiguration.InterfacePrefix", '""', "must not be empty",
                               "detectLocal.interfaceNamePrefix"))

    cidr = cfg.get("clusterCIDR")
    if cidr is not None and not isinstance(cidr, str):
        errors.append(_decode_error(cidr, _ROOT, "clusterCIDR", "string"))
    elif cidr and detect in ("", "ClusterCIDR", None):
        errors += _cluster_cidrs(cidr.split(","))
    return errors


def _cluster_cidrs(cidrs: list[str]) -> list[ManifestError]:
    """``validateDualStackCIDRStrings`` on ``DetectLocal.ClusterCIDRs``."""
    path = "DetectLocalConfiguration.ClusterCIDRs"
    listed = "[]string{" + ", ".join(_go_quote(c) for c in cidrs) + "}"
    pair = "must be a either a single CIDR or dual-stack pair of CIDRs (e.g. [10.100.0.0/16, fde4:8dba:82e1::/48]"
    if len(cidrs) > 2:
        return [_invalid(path, listed, pair, "clusterCIDR")]
    errors = [_invalid(f"{path}[{i}]", _go_quote(c), "must be a valid CIDR block (e.g. 10.100.0.0/16 or "
                       "fde4:8dba:82e1::/48)", "clusterCIDR") for i, c in enumerate(cidrs) if not _cidr_ok(c)]
    if len(cidrs) == 2 and not errors:
        families = {ipaddress.ip_network(c, strict=False).version for c in cidrs}
        if families != {4, 6}:
            errors.append(_invalid(path, listed, pair, "clusterCIDR"))
    return errors
