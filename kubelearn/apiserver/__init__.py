"""The API server: what happens to a manifest's object between ``kubectl apply`` and storage.

One module per stage, in the order the API server runs them for each document:

* :mod:`~kubelearn.apiserver.schema`: strict decoding against the kind's OpenAPI schema
  (unknown fields, wrong types: ``400 BadRequest``);
* :mod:`~kubelearn.apiserver.defaults`: the fields the server fills in;
* :mod:`~kubelearn.apiserver.allocation`: ClusterIPs and node ports (the ``BeginCreate`` hook);
* :mod:`~kubelearn.apiserver.validation`: every field error at once (``422 Invalid``), and
  :mod:`~kubelearn.apiserver.workload` for kubelearn's own ``Workload`` kind, served like a
  custom resource;
* :mod:`~kubelearn.apiserver.admission`: the stages in order, all documents or none.

The API server only stores; the controllers (:mod:`kubelearn.controllers`) react afterwards.
"""
