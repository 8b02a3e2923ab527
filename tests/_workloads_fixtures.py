"""Hand-written, fully defaulted objects for the controller tests (tests of workloads,
scheduler, endpointslices and controllers), so they do not depend on apply/defaults/topology."""

from __future__ import annotations

import copy
from typing import Any

from kubelearn.cluster import Cluster, NodeSpec, Topology

NODES = (
    NodeSpec("kind-control-plane", "control-plane", "172.18.0.3", "10.244.0.0/24"),
    NodeSpec("kind-worker", "worker", "172.18.0.2", "10.244.1.0/24"),
    NodeSpec("kind-worker2", "worker", "172.18.0.4", "10.244.2.0/24"),
)


def node(spec: NodeSpec) -> dict[str, Any]:
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": spec.name,
        "kubernetes.io/os": "linux",
    }
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": spec.name, "labels": labels},
        "spec": {"podCIDR": spec.pod_cidr, "podCIDRs": [spec.pod_cidr], "providerID": f"kind://docker/kind/{spec.name}"},
        "status": {
            "addresses": [{"address": spec.ip, "type": "InternalIP"}, {"address": spec.name, "type": "Hostname"}],
            "conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
                 "message": "kubelet has sufficient memory available", "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                 "lastTransitionTime": "2026-01-01T00:00:00Z"},
                {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
                 "lastHeartbeatTime": "2026-01-01T00:00:00Z", "lastTransitionTime": "2026-01-01T00:00:00Z"},
            ],
        },
    }
    if spec.role == "control-plane":
        labels["node-role.kubernetes.io/control-plane"] = ""
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
        obj["spec"]["taints"] = [{"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}]
    return obj


def pod_template(labels: dict[str, str], image: str = "nginx:1.27", ports: list[dict[str, Any]] | None = None,
                 name: str = "web") -> dict[str, Any]:
    return {
        "metadata": {"labels": dict(labels)},
        "spec": {
            "containers": [{
                "name": name,
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "ports": ports if ports is not None else [{"containerPort": 9376, "protocol": "TCP"}],
                "resources": {},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
            }],
            "dnsPolicy": "ClusterFirst",
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "securityContext": {},
            "terminationGracePeriodSeconds": 30,
        },
    }


def deployment(name: str = "my-app", replicas: int = 3, labels: dict[str, str] | None = None,
               template: dict[str, Any] | None = None, namespace: str = "default",
               max_surge: Any = "25%", max_unavailable: Any = "25%") -> dict[str, Any]:
    labels = labels or {"app": "MyApp"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "generation": 1},
        "spec": {
            "progressDeadlineSeconds": 600,
            "replicas": replicas,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": dict(labels)},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxSurge": max_surge, "maxUnavailable": max_unavailable}},
            "template": template or pod_template(labels),
        },
    }


def statefulset(name: str = "web", replicas: int = 3, service: str = "nginx", parallel: bool = False) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": "default", "generation": 1},
        "spec": {
            "podManagementPolicy": "Parallel" if parallel else "OrderedReady",
            "replicas": replicas,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": labels},
            "serviceName": service,
            "template": pod_template(labels, ports=[{"containerPort": 80, "name": "web", "protocol": "TCP"}]),
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        },
    }


def service(name: str = "my-service", selector: dict[str, str] | None = None, port: int = 80,
            target_port: Any = 9376, port_name: str | None = None, cluster_ip: str = "10.96.100.10",
            publish_not_ready: bool = False, **spec: Any) -> dict[str, Any]:
    p: dict[str, Any] = {"port": port, "protocol": "TCP", "targetPort": target_port}
    if port_name is not None:
        p["name"] = port_name
    s: dict[str, Any] = {
        "clusterIP": cluster_ip,
        "clusterIPs": [cluster_ip] if cluster_ip != "None" else ["None"],
        "internalTrafficPolicy": "Cluster",
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "ports": [p],
        "sessionAffinity": "None",
        "type": "ClusterIP",
    }
    if selector is not None:
        s["selector"] = dict(selector)
    if publish_not_ready:
        s["publishNotReadyAddresses"] = True
    s.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"}, "spec": s}


def bare_pod(name: str, labels: dict[str, str], ports: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    t = pod_template(labels, ports=ports)
    pod_spec = copy.deepcopy(t["spec"])
    pod_spec.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default", "labels": dict(labels)},
            "spec": pod_spec, "status": {"phase": "Pending", "qosClass": "BestEffort"}}


def base_cluster(seed: int = 0, nodes: tuple[NodeSpec, ...] = NODES) -> Cluster:
    """Three kind nodes, no workloads."""
    return Cluster(topology=Topology(nodes=nodes), seed=seed).with_objects([node(n) for n in nodes])


def cluster_with(*objs: dict[str, Any], seed: int = 0) -> Cluster:
    """The base cluster plus ``objs``, reconciled."""
    from kubelearn.controllers.manager import reconcile

    return reconcile(base_cluster(seed).with_objects(objs))
