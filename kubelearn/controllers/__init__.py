"""The controllers: pure functions from one cluster to the next.

Each controller watches the objects it cares about and writes API objects to close the gap
between what is desired and what is.  :func:`~kubelearn.controllers.manager.reconcile` runs
them until nothing changes:

* :mod:`~kubelearn.controllers.garbagecollector`: dependents of deleted owners;
* :mod:`~kubelearn.controllers.deployment`, :mod:`~kubelearn.controllers.replicaset`,
  :mod:`~kubelearn.controllers.statefulset`: workloads (helpers shared by them, such as pod
  names, graceful deletion and which pod goes first, in :mod:`~kubelearn.controllers.pods`);
* :mod:`~kubelearn.controllers.scheduler`: where pods run, and the kubelet's part (IPs, Ready);
* :mod:`~kubelearn.controllers.status`: the status each workload controller writes;
* :mod:`~kubelearn.controllers.endpointslice`: the EndpointSlice controller, with
  topology-aware hints;
* :mod:`~kubelearn.controllers.rollout`: a rolling update, one state per step.
"""
