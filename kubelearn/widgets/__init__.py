"""Controls for notebooks: explore a Service, trace a packet, ask DNS, replay a timeline (issue 5).

Each widget is a thin layer over kubelearn's pure functions: a control changes a field of
a manifest or a configuration, the pipeline (apply, controllers, kube-proxy, simulate) runs
again, and the pictures of :mod:`kubelearn.plots` are redrawn in a fixed-height area.
Sliders only recompute when released (``continuous_update=False``).  A combination
Kubernetes would refuse shows the API server's message, never a traceback.  A widget shown
in a notebook carries, in the same output, a still of its current picture for readers
without a widget manager (GitHub, nbviewer, exported HTML); :meth:`figure` gives that picture
as a matplotlib figure.  The Kubernetes side of each widget (manifests built, the cluster
changed, traffic simulated) lives in :mod:`kubelearn.scenarios`; widgets only draw and explain.

``ipywidgets`` is optional and imported only when a widget is built:
``pip install kubelearn[notebooks]``.
"""

from ._base import MISSING_IPYWIDGETS, MissingExtraError, View
from .dnsview import DnsExplorer, plot_resolution
from .service import ServiceExplorer, ServiceSettings, explain_change, explore_service, service_manifest
from .timeline import TimelinePlayer
from .tracer import PacketTracer

__all__ = [
    "DnsExplorer",
    "PacketTracer",
    "TimelinePlayer",
    "plot_resolution",
    "MISSING_IPYWIDGETS",
    "MissingExtraError",
    "ServiceExplorer",
    "ServiceSettings",
    "View",
    "explain_change",
    "explore_service",
    "service_manifest",
]
