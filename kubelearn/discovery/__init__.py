"""Service discovery: how a pod finds a Service.

Two mechanisms, both visible from inside a pod:

* :mod:`~kubelearn.discovery.envvars`: the kubelet's ``<SERVICE>_SERVICE_HOST`` and Docker-link
  variables, for the Services that existed when the pod started;
* :mod:`~kubelearn.discovery.dns`: CoreDNS's answers and the pod's ``resolv.conf`` (search
  path, ``ndots:5``).
"""
