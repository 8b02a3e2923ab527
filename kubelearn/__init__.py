"""kubelearn: learn how Kubernetes Services really work.

A small, faithful model of a Kubernetes cluster (the API objects, the controllers, DNS and
environment-variable discovery) and of kube-proxy (iptables, nftables and IPVS rules), a
traffic simulator producing pandas request logs, and plots and widgets for notebooks.
"""

__version__ = "0.1.0"
