"""The cluster before you apply anything: nodes, address ranges, kube-proxy's configuration.

Learners usually run `kind <https://kind.sigs.k8s.io/>`_: every node is a Docker container on
the ``kind`` Docker network (172.18.0.0/16).  A kind ``Cluster`` config
(``kind.x-k8s.io/v1alpha4``) lists the nodes by role and sets the networking:

- nodes are named ``<name>-control-plane``, ``<name>-control-plane2``..., ``<name>-worker``,
  ``<name>-worker2``... (cluster name ``kind`` by default);
- pods get addresses from ``podSubnet`` (10.244.0.0/16), one /24 per node handed out by
  kube-controller-manager's node IPAM (10.244.0.0/24 for the first node, 10.244.1.0/24...);
- Services get ClusterIPs from ``serviceSubnet``: kind uses 10.96.0.0/16 (kubeadm alone
  would use 10.96.0.0/12); the API server takes the first address (10.96.0.1) for
  ``default/kubernetes`` and kubeadm puts cluster DNS on the tenth (10.96.0.10);
- ``kubeProxyMode`` picks kube-proxy's backend: iptables (default), nftables or ipvs.

Every kubeadm cluster also starts with four namespaces, the ``kubernetes`` Service in front of
the API server, and CoreDNS behind a Service that is still called ``kube-dns``.
:func:`default_cluster` builds all of that.

Simplifications (said here because a real cluster differs): Docker hands out node IPs in
the order containers start, which is not fixed; kubelearn gives .2, .3, ... in node order
(control planes first) and pod CIDRs in the same order.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any

from . import objects
from .apiserver.admission import admit
from .cluster import Cluster, NodeSpec, Topology
from .controllers.manager import reconcile
from .errors import ApplyError, KubelearnError, ManifestError, TopologyError
from .manifest import KIND_API_VERSION, PROXY_API_VERSION, Document, Source, is_cluster_config, read_documents
from .versions import DEFAULT_VERSION, UnsupportedVersionError, image_version, parse_version, release

__all__ = [
    "IPVS_SCHEDULERS",
    "KIND_API_VERSION",
    "PROXY_API_VERSION",
    "PROXY_MODES",
    "TopologyError",
    "default_cluster",
    "default_proxy_config",
    "default_topology",
    "dry_run",
    "load",
    "system_objects",
    "topology_from_kind_config",
]


#: kube-proxy modes on Linux; "" means the default, iptables.
PROXY_MODES = ("iptables", "ipvs", "nftables")
#: IPVS schedulers kube-proxy accepts ("" means rr).
IPVS_SCHEDULERS = ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "sh", "dh", "sed", "nq", "mh")

#: The Kubernetes version of a cluster whose kind config names no node image (kind's default
#: image; kubelearn.versions.DEFAULT_VERSION).
KUBERNETES_VERSION = DEFAULT_VERSION
#: Allocatable CPU of every modelled node (kind nodes share the host's CPUs; the value itself
#: is arbitrary, only the proportions between zones count).  Pods: the kubelet's maxPods default.
NODE_CPU = "8"

# What kind's config accepts at each level. Fields that kind knows but kubelearn cannot model
# are refused with their own message rather than silently ignored.
_CLUSTER_FIELDS = {"apiVersion", "kind", "name", "nodes", "networking"}
_CLUSTER_UNSUPPORTED = {"featureGates", "runtimeConfig", "kubeadmConfigPatches", "kubeadmConfigPatchesJSON6902",
                        "containerdConfigPatches", "containerdConfigPatchesJSON6902"}
# extraMounts and extraPortMappings only concern the Docker host, not the cluster's network; image
# gives the Kubernetes version (kindest/node:vX.Y.Z, checked by kubelearn.versions.image_version).
_NODE_FIELDS = {"role", "image", "labels", "extraMounts", "extraPortMappings"}
_NODE_UNSUPPORTED = {"kubeadmConfigPatches", "kubeadmConfigPatchesJSON6902"}
_NET_FIELDS = {"ipFamily", "apiServerAddress", "apiServerPort", "podSubnet", "serviceSubnet", "kubeProxyMode",
               "disableDefaultCNI"}
_NET_UNSUPPORTED = {"dnsSearch"}


def _raise_all(errors: list[ManifestError]) -> None:
    """Raise the one error, or all of them together."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise TopologyError(errors)


#: kind's own rule for a cluster name (sigs.k8s.io/kind, pkg/internal/apis/config/validate.go).
_KIND_NAME = re.compile(r"[a-z0-9.-]+")
#: kind's ``clusterNameMax``, above which it warns that the name is probably too long.
KIND_NAME_MAX = 50


def _fail(message: str, path: str = "") -> ManifestError:
    return ManifestError(message, source="kind Cluster config", path=path)


def _check_fields(obj: Mapping[str, Any], allowed: set[str], unsupported: set[str], prefix: str,
                  errors: list[ManifestError]) -> None:
    for key in obj:
        path = f"{prefix}{key}"
        if key in unsupported:
            errors.append(_fail("this kind setting is not modelled by kubelearn", path))
        elif key not in allowed:
            errors.append(_fail(f'unknown field "{path}"', path))


def _subnet(value: Any, path: str) -> ipaddress.IPv4Network:
    if not isinstance(value, str):
        raise _fail(f"must be a CIDR string, not {type(value).__name__}", path)
    if "," in value:
        raise _fail("dual-stack subnets are not modelled by kubelearn (IPv4 single-stack only)", path)
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise _fail(f'invalid CIDR address: "{value}"', path) from None
    if not isinstance(net, ipaddress.IPv4Network):
        raise _fail("IPv6 subnets are not modelled by kubelearn (IPv4 single-stack only)", path)
    return net


def _nodes(name: str, roles: list[tuple[str, Mapping[str, str]]], pod_subnet: str, node_subnet: str) -> tuple[NodeSpec, ...]:
    """Name and address nodes the way kind and node IPAM do (control planes first)."""
    ordered = [r for r in roles if r[0] == "control-plane"] + [r for r in roles if r[0] == "worker"]
    counts = {"control-plane": 0, "worker": 0}
    pod_net = ipaddress.ip_network(pod_subnet)
    per_node = list(pod_net.subnets(new_prefix=max(24, pod_net.prefixlen)))
    node_net = ipaddress.ip_network(node_subnet)
    out = []
    for i, (role, labels) in enumerate(ordered):
        counts[role] += 1
        node_name = f"{name}-{role}" + (str(counts[role]) if counts[role] > 1 else "")
        if i >= len(per_node):
            raise _fail(f"the pod subnet {pod_subnet} has no /24 left for node {node_name}", "networking.podSubnet")
        out.append(NodeSpec(name=node_name, role=role, ip=str(node_net.network_address + 2 + i),
                            pod_cidr=str(per_node[i]), labels=dict(labels)))
    return tuple(out)


def default_topology() -> Topology:
    """The course's default cluster: one control plane and two workers, kind's networking.

    ``kind create cluster`` without a config builds a single node; the course uses three so
    that traffic can cross nodes and ``externalTrafficPolicy: Local`` has something to show.
    """
    roles: list[tuple[str, Mapping[str, str]]] = [("control-plane", {}), ("worker", {}), ("worker", {})]
    return Topology(name="kind", nodes=_nodes("kind", roles, "10.244.0.0/16", "172.18.0.0/16"),
                    pod_subnet="10.244.0.0/16", service_subnet="10.96.0.0/16", dns_ip="10.96.0.10")


def topology_from_kind_config(doc: Mapping[str, Any]) -> Topology:
    """Build the topology a kind ``Cluster`` config describes.

    Args:
        doc: a ``kind.x-k8s.io/v1alpha4`` ``Cluster`` document.

    Returns:
        The :class:`~kubelearn.cluster.Topology` (node names, IPs, pod CIDRs, subnets, proxy mode).

    Raises:
        ManifestError: unknown fields or roles, bad subnets, or settings kubelearn cannot model
            (dual-stack, IPv6, ``kubeProxyMode: none``, kubeadm patches), with the field path;
            a :class:`TopologyError` listing every one when there are several.
    """
    if not isinstance(doc, Mapping):
        raise _fail("a kind Cluster config must be a mapping")
    if doc.get("apiVersion") != KIND_API_VERSION or doc.get("kind") != "Cluster":
        raise _fail(f'expected apiVersion "{KIND_API_VERSION}" and kind "Cluster", got '
                    f'"{doc.get("apiVersion")}" "{doc.get("kind")}"')
    # Every check below records its error and goes on, so one run reports them all.
    errors: list[ManifestError] = []
    _check_fields(doc, _CLUSTER_FIELDS, _CLUSTER_UNSUPPORTED, "", errors)
    name = doc.get("name") or "kind"
    if not isinstance(name, str):
        errors.append(_fail("must be a string", "name"))
        name = "kind"
    elif not _KIND_NAME.fullmatch(name):
        errors.append(_fail(f"'{name}' is not a valid cluster name, cluster names must match `^[a-z0-9.-]+$`", "name"))
        name = "kind"
    elif len(name) > KIND_NAME_MAX:
        # kind only warns ("probably too long"); its node names, <name>-control-plane, become
        # host names and label values, which stop at 63 characters.
        errors.append(_fail(f"cluster name {name!r} is too long: kubelearn takes at most {KIND_NAME_MAX} characters "
                            "(kind warns above that; node names must stay valid host names)", "name"))
        name = "kind"
    nodes = doc.get("nodes")
    if nodes is None:
        nodes = [{"role": "control-plane"}]  # kind's default: a single node
    if not isinstance(nodes, list):
        errors.append(_fail("must be a list of nodes", "nodes"))
        nodes = []
    roles: list[tuple[str, Mapping[str, str]]] = []
    versions: dict[str, list[int]] = {}  # Kubernetes version -> the nodes that run it
    nodes_ok = True
    for i, node in enumerate(nodes):
        if not isinstance(node, Mapping):
            errors.append(_fail("must be a mapping", f"nodes[{i}]"))
            nodes_ok = False
            continue
        _check_fields(node, _NODE_FIELDS, _NODE_UNSUPPORTED, f"nodes[{i}].", errors)
        role = node.get("role") or "control-plane"  # kind defaults a node's role to control-plane
        if role not in ("control-plane", "worker"):
            errors.append(_fail(f'Unsupported value: "{role}": supported values: "control-plane", "worker"',
                                f"nodes[{i}].role"))
            nodes_ok = False
            continue
        # kind picks the Kubernetes version by the node image (its default image without one).
        version: str | None = DEFAULT_VERSION
        if node.get("image") is not None:
            version = None  # unless the image names a release kubelearn models
            try:
                found = image_version(node.get("image"))
                if found is None:
                    errors.append(_fail("must be a kind node image, kindest/node:vX.Y.Z (kubelearn reads the "
                                        "Kubernetes version from its tag)", f"nodes[{i}].image"))
                else:
                    version = "v{}.{}.{}".format(*found)
            except UnsupportedVersionError as exc:
                errors.append(_fail(str(exc), f"nodes[{i}].image"))
        if version is not None:
            versions.setdefault(version, []).append(i)
        labels = node.get("labels") or {}
        if not isinstance(labels, Mapping) or not all(isinstance(v, str) for v in labels.values()):
            errors.append(_fail("must be a mapping of strings to strings", f"nodes[{i}].labels"))
            labels = {}
        roles.append((role, labels))
    if len(versions) > 1:
        # kind would start them (within the version-skew policy); kubelearn models one release.
        listed = ", ".join(f"{v} (nodes[{', '.join(map(str, ix))}])" for v, ix in sorted(versions.items()))
        errors.append(_fail(f"nodes run different Kubernetes versions: {listed}; kubelearn models one "
                            "release per cluster: give every node the same kindest/node image", "nodes"))
    if nodes_ok and not any(r == "control-plane" for r, _ in roles):
        errors.append(_fail("must have at least one control-plane node", "nodes"))
    net = doc.get("networking") or {}
    if not isinstance(net, Mapping):
        errors.append(_fail("must be a mapping", "networking"))
        net = {}
    _check_fields(net, _NET_FIELDS, _NET_UNSUPPORTED, "networking.", errors)
    family = net.get("ipFamily", "ipv4") or "ipv4"
    if family != "ipv4":
        if family in ("ipv6", "dual"):
            errors.append(_fail(f'ipFamily "{family}" is not modelled by kubelearn (IPv4 single-stack only)',
                                "networking.ipFamily"))
        else:
            errors.append(_fail(f'Unsupported value: "{family}": supported values: "dual", "ipv4", "ipv6"',
                                "networking.ipFamily"))
    if net.get("disableDefaultCNI"):
        errors.append(_fail("a cluster without a CNI gives pods no network; not modelled by kubelearn",
                            "networking.disableDefaultCNI"))
    pod_net: ipaddress.IPv4Network | None = None
    svc_net: ipaddress.IPv4Network | None = None
    try:
        pod_net = _subnet(net.get("podSubnet") or "10.244.0.0/16", "networking.podSubnet")
    except ManifestError as exc:
        errors.append(exc)
    try:
        svc_net = _subnet(net.get("serviceSubnet") or "10.96.0.0/16", "networking.serviceSubnet")
    except ManifestError as exc:
        errors.append(exc)
    if svc_net is not None and svc_net.num_addresses < 16:
        errors.append(_fail("the service subnet must hold at least 16 addresses (kubelearn needs .1 and .10)",
                            "networking.serviceSubnet"))
    elif svc_net is not None and pod_net is not None and svc_net.overlaps(pod_net):
        errors.append(_fail("the service subnet overlaps the pod subnet", "networking.serviceSubnet"))
    mode = net.get("kubeProxyMode") or "iptables"
    if mode == "none":
        errors.append(_fail('kubeProxyMode "none" (no kube-proxy; another dataplane serves Services) is not '
                            "modelled by kubelearn", "networking.kubeProxyMode"))
    elif mode not in PROXY_MODES:
        errors.append(_fail(f'Unsupported value: "{mode}": supported values: "iptables", "ipvs", "nftables", "none"',
                            "networking.kubeProxyMode"))
    if not errors and pod_net is not None and svc_net is not None:
        try:
            node_specs = _nodes(name, roles, str(pod_net), "172.18.0.0/16")
        except ManifestError as exc:
            errors.append(exc)
    _raise_all(errors)
    assert pod_net is not None and svc_net is not None  # _raise_all raised otherwise
    pod_subnet = str(pod_net)
    return Topology(
        name=name,
        nodes=node_specs,
        pod_subnet=pod_subnet,
        service_subnet=str(svc_net),
        dns_ip=str(svc_net.network_address + 10),
        kube_proxy_mode=mode,
        kubernetes_version=next(iter(versions), DEFAULT_VERSION),
    )


def _base_proxy_config() -> dict[str, Any]:
    """kube-proxy's v1alpha1 defaults (SetDefaults_KubeProxyConfiguration), Linux, v1.33."""
    return {
        "apiVersion": PROXY_API_VERSION,
        "kind": "KubeProxyConfiguration",
        "bindAddress": "0.0.0.0",
        "bindAddressHardFail": False,
        "clientConnection": {"acceptContentTypes": "", "burst": 10,
                             "contentType": "application/vnd.kubernetes.protobuf", "kubeconfig": "", "qps": 5},
        "clusterCIDR": "",
        "configSyncPeriod": "15m0s",
        "conntrack": {"maxPerCore": 32768, "min": 131072, "tcpBeLiberal": False, "tcpCloseWaitTimeout": "1h0m0s",
                      "tcpEstablishedTimeout": "24h0m0s", "udpStreamTimeout": "0s", "udpTimeout": "0s"},
        "detectLocal": {"bridgeInterface": "", "interfaceNamePrefix": ""},
        "detectLocalMode": "",
        "enableProfiling": False,
        "healthzBindAddress": "0.0.0.0:10256",
        "hostnameOverride": "",
        "iptables": {"localhostNodePorts": True, "masqueradeAll": False, "masqueradeBit": 14,
                     "minSyncPeriod": "1s", "syncPeriod": "30s"},
        "ipvs": {"excludeCIDRs": None, "minSyncPeriod": "0s", "scheduler": "", "strictARP": False,
                 "syncPeriod": "30s", "tcpFinTimeout": "0s", "tcpTimeout": "0s", "udpTimeout": "0s"},
        "metricsBindAddress": "127.0.0.1:10249",
        "mode": "",
        "nftables": {"masqueradeAll": False, "masqueradeBit": 14, "minSyncPeriod": "1s", "syncPeriod": "30s"},
        "nodePortAddresses": None,
        "oomScoreAdj": -999,
        "portRange": "",
    }


def _merge(base: dict[str, Any], over: Mapping[str, Any], path: str, errors: list[ManifestError]) -> None:
    for key, value in over.items():
        here = f"{path}{key}"
        if not path and key == "featureGates":  # map[string]bool: any gate name, bool values
            if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, bool)
                                                          for k, v in value.items()):
                errors.append(ManifestError("must be a mapping of feature gate names to true or false",
                                            source="KubeProxyConfiguration", path=here))
            else:
                base[key] = dict(value)
            continue
        if key not in base:
            errors.append(ManifestError(f'strict decoding error: unknown field "{here}"',
                                        source="KubeProxyConfiguration", path=here))
        elif isinstance(base[key], dict) and value is not None:
            if not isinstance(value, Mapping):
                errors.append(ManifestError(f"must be a mapping, not {type(value).__name__}",
                                            source="KubeProxyConfiguration", path=here))
            else:
                _merge(base[key], value, here + ".", errors)
        else:
            base[key] = copy.deepcopy(value)


def default_proxy_config(topology: Topology, doc: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``KubeProxyConfiguration`` every node runs, defaults filled in.

    Starts from kube-proxy's own defaults, applies what kind's kubeadm config sets
    (``clusterCIDR`` = the pod subnet, ``iptables.minSyncPeriod: 1s``, ``conntrack.maxPerCore: 0``
    so kube-proxy leaves the host's conntrack table size alone, ``tcpBeLiberal`` for nftables),
    then ``doc``.  ``mode: ""`` becomes ``iptables`` and ``detectLocalMode: ""`` becomes
    ``ClusterCIDR``, as kube-proxy decides at start-up.  ``nodePortAddresses`` stays ``null``
    as in the real file: iptables and ipvs then accept NodePorts on every local address,
    nftables only on the node's primary IP (its ``["primary"]`` default).

    Args:
        topology: the cluster's topology (its ``kube_proxy_mode`` is kind's ``kubeProxyMode``).
        doc: a ``kubeproxy.config.k8s.io/v1alpha1`` ``KubeProxyConfiguration`` to merge in.

    Raises:
        ManifestError: unknown fields, or a value kube-proxy refuses (its decoder's and its
            ``Validate``'s words, see :mod:`kubelearn.proxy.config_validation`; a
            :class:`TopologyError` listing every one when there are several).
    """
    cfg = _base_proxy_config()
    cfg["clusterCIDR"] = topology.pod_subnet
    cfg["mode"] = topology.kube_proxy_mode
    cfg["conntrack"]["maxPerCore"] = 0
    if topology.kube_proxy_mode == "nftables":
        cfg["conntrack"]["tcpBeLiberal"] = True
    if doc is not None:
        if doc.get("apiVersion") != PROXY_API_VERSION or doc.get("kind") != "KubeProxyConfiguration":
            raise ManifestError(f'expected apiVersion "{PROXY_API_VERSION}" and kind "KubeProxyConfiguration"',
                                source="KubeProxyConfiguration")
    errors: list[ManifestError] = []
    if doc is not None:
        _merge(cfg, {k: v for k, v in doc.items() if k not in ("apiVersion", "kind")}, "", errors)
        from .proxy.config_validation import validate_proxy_config  # kube-proxy's Validate, its words

        errors += validate_proxy_config(cfg)
    mode = cfg["mode"] or "iptables"
    if mode not in PROXY_MODES:
        errors.append(ManifestError(
            f'KubeProxyConfiguration.Mode.ProxyMode: Invalid value: "{mode}": must be iptables, ipvs, nftables or blank '
            "(blank means the best-available proxy [currently iptables])", source="KubeProxyConfiguration",
            path="mode"))
    cfg["mode"] = mode
    scheduler = cfg["ipvs"].get("scheduler") or ""
    if scheduler and scheduler not in IPVS_SCHEDULERS:
        errors.append(ManifestError(
            f'KubeProxyConfiguration.IPVS.Scheduler: Invalid value: "{scheduler}": must be in '
            f"[{' '.join(IPVS_SCHEDULERS)}], blank means the default algorithm method (currently rr)",
            source="KubeProxyConfiguration", path="ipvs.scheduler"))
    if not cfg["detectLocalMode"]:
        cfg["detectLocalMode"] = "ClusterCIDR"
    if cfg["detectLocalMode"] not in ("ClusterCIDR", "NodeCIDR", "BridgeInterface", "InterfaceNamePrefix"):
        errors.append(ManifestError(
            f'KubeProxyConfiguration.DetectLocalMode: Unsupported value: "{cfg["detectLocalMode"]}": supported values: '
            '"BridgeInterface", "ClusterCIDR", "InterfaceNamePrefix", "NodeCIDR"',
            source="KubeProxyConfiguration", path="detectLocalMode"))
    _raise_all(errors)
    return cfg


# ----------------------------------------------------------------------------- objects
def _node(spec: NodeSpec, single: bool, cluster_name: str, version: str) -> dict[str, Any]:
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": spec.name,
        "kubernetes.io/os": "linux",
    }
    spec_obj: dict[str, Any] = {"podCIDR": spec.pod_cidr, "podCIDRs": [spec.pod_cidr],
                                "providerID": f"kind://docker/{cluster_name}/{spec.name}"}
    if spec.role == "control-plane":
        labels["node-role.kubernetes.io/control-plane"] = ""
        # kubeadm taints the control plane and keeps it out of external load balancers; kind
        # removes both only when there are no workers (so a one-node cluster still works).
        if not single:
            spec_obj["taints"] = [{"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}]
            labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
    labels.update(spec.labels)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": spec.name, "labels": labels},
        "spec": spec_obj,
        "status": {
            "addresses": [{"address": spec.ip, "type": "InternalIP"}, {"address": spec.name, "type": "Hostname"}],
            # kind's nodes are containers on one host: each reports the host's CPUs.  kubelearn
            # gives every node the same NODE_CPU; only proportions matter (topology-aware routing).
            "allocatable": {"cpu": NODE_CPU, "pods": "110"},
            "capacity": {"cpu": NODE_CPU, "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "kubelet is posting ready status"}],
            "nodeInfo": {"architecture": "amd64", "containerRuntimeVersion": "containerd://2.1.1",
                         "kubeProxyVersion": version, "kubeletVersion": version,
                         "operatingSystem": "linux", "osImage": "Debian GNU/Linux 12 (bookworm)"},
        },
    }


def _namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def system_objects(topology: Topology) -> list[dict[str, Any]]:
    """The objects every kubeadm/kind cluster starts with, fully defaulted, in creation order."""
    svc_net = ipaddress.ip_network(topology.service_subnet)
    api_ip = str(svc_net.network_address + 1)
    control = [n for n in topology.nodes if n.role == "control-plane"]
    single = len(topology.nodes) == 1
    version = topology.kubernetes_version
    minor = parse_version(version)[1]
    objs: list[dict[str, Any]] = [_node(n, single, topology.name, version) for n in topology.nodes]
    objs += [_namespace(n) for n in ("default", "kube-node-lease", "kube-public", "kube-system")]
    objs.append({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"clusterIP": api_ip, "clusterIPs": [api_ip], "internalTrafficPolicy": "Cluster",
                 "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
                 "sessionAffinity": "None", "type": "ClusterIP"},
        "status": {"loadBalancer": {}},
    })
    # The API server writes this slice itself (not the EndpointSlice controller, which skips
    # selectorless Services, nor the mirroring controller: the matching Endpoints object carries
    # endpointslice.kubernetes.io/skip-mirror: "true"), so it has no managed-by label.
    objs.append({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "endpoints": [{"addresses": [n.ip], "conditions": {"ready": True}} for n in control],
        "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}],
    })
    objs.append({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system",
                     "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"},
                     "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
                                "kubernetes.io/name": "CoreDNS"}},
        "spec": {"clusterIP": topology.dns_ip, "clusterIPs": [topology.dns_ip], "internalTrafficPolicy": "Cluster",
                 "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                 "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                           {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                           {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}],
                 "selector": {"k8s-app": "kube-dns"}, "sessionAffinity": "None", "type": "ClusterIP"},
        "status": {"loadBalancer": {}},
    })
    objs.append(_coredns(release(minor).coredns))
    return objs


def _coredns(tag: str) -> dict[str, Any]:
    """kubeadm's CoreDNS Deployment, with the fields the model uses (``tag``: its release's CoreDNS)."""
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "coredns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
        "spec": {
            "progressDeadlineSeconds": 600,
            "replicas": 2,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
            "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}, "type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": {"k8s-app": "kube-dns"}},
                "spec": {
                    "containers": [{
                        "name": "coredns",
                        "image": f"registry.k8s.io/coredns/coredns:{tag}",
                        "imagePullPolicy": "IfNotPresent",
                        "args": ["-conf", "/etc/coredns/Corefile"],
                        "ports": [{"containerPort": 53, "name": "dns", "protocol": "UDP"},
                                  {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
                                  {"containerPort": 9153, "name": "metrics", "protocol": "TCP"}],
                        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181, "scheme": "HTTP"}},
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File",
                    }],
                    "dnsPolicy": "Default",
                    "enableServiceLinks": True,
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "priorityClassName": "system-cluster-critical",
                    "restartPolicy": "Always",
                    "schedulerName": "default-scheduler",
                    "serviceAccountName": "coredns",
                    "terminationGracePeriodSeconds": 30,
                    "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"},
                                    {"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}],
                },
            },
        },
    }


def default_cluster(seed: int = 0, topology: Topology | None = None,
                    proxy_config: Mapping[str, Any] | None = None) -> Cluster:
    """A fresh cluster: nodes, the four namespaces, ``kubernetes``, ``kube-dns`` and CoreDNS.

    Args:
        seed: seed for every random choice made later (ClusterIPs, pod names).
        topology: from :func:`topology_from_kind_config`; default :func:`default_topology`
            (one control plane, two workers).
        proxy_config: a full configuration from :func:`default_proxy_config`; default: the
            defaults for ``topology``.

    Returns:
        The cluster with CoreDNS's pods created, scheduled and ready when the controllers
        module is available (otherwise the Deployment only).
    """
    topo = topology or default_topology()
    cfg = dict(proxy_config) if proxy_config is not None else default_proxy_config(topo)
    system = system_objects(topo)
    control_planes = {n.name for n in topo.nodes if n.role == "control-plane"}
    # kind starts the control plane first and CoreDNS is scheduled before the workers join, so
    # on a fresh kind cluster both CoreDNS pods run on the control plane (10.244.0.2 and .3).
    # Reproduce that order: reconcile with only the control-plane nodes, then add the workers.
    first = [o for o in system if o["kind"] != "Node" or objects.name(o) in control_planes]
    rest = [o for o in system if o["kind"] == "Node" and objects.name(o) not in control_planes]
    cluster = reconcile(Cluster(topology=topo, proxy_config=cfg, seed=seed).with_objects(first))
    return reconcile(cluster.with_objects(rest)) if rest else cluster


# ----------------------------------------------------------------------------- load
def load(*sources: Source, seed: int = 0) -> Cluster:
    """Build a cluster from manifests, as ``kind create cluster`` + ``kubectl apply -f`` would.

    A kind ``Cluster`` config and a ``KubeProxyConfiguration`` (wherever they appear) shape the
    cluster first; everything else is then applied in order onto
    :func:`~kubelearn.kind.default_cluster`.

    Args:
        *sources: paths (files or directories), YAML text, or object dicts.
        seed: seed for every random choice (ClusterIPs, node ports, pod names).

    Raises:
        ManifestError: YAML that is not Kubernetes objects, or a bad topology document.
        ApplyError: every object the API server would refuse; nothing is applied.

    >>> c = load('''
    ... apiVersion: v1
    ... kind: Service
    ... metadata: {name: web}
    ... spec: {selector: {app: web}, ports: [{port: 80}]}
    ... ''')
    >>> c.get("Service", "web")["spec"]["clusterIP"].startswith("10.96.")
    True
    """
    docs = read_documents(*sources)
    kind_docs = [d for d in docs if (d.obj.get("apiVersion"), d.kind) == (KIND_API_VERSION, "Cluster")]
    proxy_docs = [d for d in docs if (d.obj.get("apiVersion"), d.kind) == (PROXY_API_VERSION, "KubeProxyConfiguration")]
    for found in (kind_docs, proxy_docs):
        if len(found) > 1:
            second = found[1]
            raise ManifestError(f"a second {second.kind} document; a cluster has only one", source=second.source,
                                document=second.index, line=second.line)
    topo = None
    if kind_docs:
        d = kind_docs[0]
        topo = _located(lambda: topology_from_kind_config(d.obj), d)
    topo = topo or default_topology()
    proxy = _located(lambda: default_proxy_config(topo, proxy_docs[0].obj), proxy_docs[0]) if proxy_docs else None
    cluster = default_cluster(seed=seed, topology=topo, proxy_config=proxy)
    return _apply_and_reconcile(cluster, [d for d in docs if not is_cluster_config(d)])


def _located(fn: Callable[[], Any], doc: Document) -> Any:
    """Run fn, adding the document's file and each faulty field's line to the ManifestError
    (or every error of a :class:`~kubelearn.kind.TopologyError`) it raises."""
    try:
        return fn()
    except ManifestError as exc:
        errors = exc.errors if isinstance(exc, TopologyError) else [exc]
        located = [ManifestError(e.message, source=doc.source, document=doc.index, line=doc.line_of(e.path),
                                 path=e.path) for e in errors]
        raise (located[0] if len(located) == 1 else TopologyError(located)) from None


def dry_run(cluster: Cluster | None, *sources: Source, seed: int = 0) -> list[KubelearnError]:
    """Server-side dry run (``kubectl apply --dry-run=server``): every error, nothing stored.

    Args:
        cluster: the cluster to check against; ``None`` checks the sources as :func:`load`
            would (topology documents allowed).
        *sources: paths, YAML text or object dicts.
        seed: used when ``cluster`` is None.

    Returns:
        The errors (ManifestError, InvalidError, NotFoundError, ...); empty when all is valid.
    """
    try:
        if cluster is None:
            load(*sources, seed=seed)
        else:
            docs = read_documents(*sources)
            admit(cluster, [d for d in docs if not is_cluster_config(d)])
    except ApplyError as exc:
        return list(exc.errors)
    except KubelearnError as exc:
        return [exc]
    return []


def _apply_and_reconcile(cluster: Cluster, docs: list[Document]) -> Cluster:
    return reconcile(admit(cluster, docs))


