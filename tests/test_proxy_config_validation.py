"""kube-proxy's own validation of a KubeProxyConfiguration document, at load time.

Cases quote kubernetes/kubernetes ``pkg/proxy/apis/config/validation/validation_test.go``
(v1.33) where one exists; the hostile values are issue 14's."""

from __future__ import annotations

import subprocess
import sys

import pytest

import kubelearn as kl
from kubelearn.errors import ManifestError

HEAD = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"


def _errors(body: str) -> str:
    with pytest.raises(ManifestError, match=r"KubeProxyConfiguration|time: invalid duration") as exc:
        kl.load(HEAD + body)
    return str(exc.value)


@pytest.mark.parametrize("body", [
    "",
    'clusterCIDR: "10.244.0.0/16"\n',
    'clusterCIDR: "10.244.0.0/16,fd00:10:244::/56"\n',          # validation_test.go: dual-stack pair
    'nodePortAddresses: ["primary"]\n',
    'nodePortAddresses: ["10.0.0.0/8", "127.0.0.0/8"]\n',
    "iptables: {masqueradeBit: 31, syncPeriod: 5s, minSyncPeriod: 1s}\n",
    "mode: nftables\nnftables: {masqueradeBit: 0, syncPeriod: 1m30s, minSyncPeriod: 0s}\n",
    "conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 24h, tcpCloseWaitTimeout: 1h}\n",
    "featureGates: {PreferSameTrafficDistribution: true}\n",
    "detectLocalMode: NodeCIDR\n",
])
def test_valid_configurations_load(body):
    c = kl.load(HEAD + body)
    assert c.proxy_config["kind"] == "KubeProxyConfiguration"


@pytest.mark.parametrize("body, expected", [
    # validation_test.go, TestValidateKubeProxyConfiguration "invalid ClusterCIDR"-style cases
    ('clusterCIDR: "1.2.3.0/24,1.2.4.0/24"\n',
     'KubeProxyConfiguration.DetectLocalConfiguration.ClusterCIDRs: Invalid value: []string{"1.2.3.0/24", '
     '"1.2.4.0/24"}: must be a either a single CIDR or dual-stack pair of CIDRs'),
    ('clusterCIDR: "192.168.59.0"\n',
     'KubeProxyConfiguration.DetectLocalConfiguration.ClusterCIDRs[0]: Invalid value: "192.168.59.0": '
     "must be a valid CIDR block (e.g. 10.100.0.0/16 or fde4:8dba:82e1::/48)"),
    # TestValidateKubeProxyIPTablesConfiguration: masqueradeBit out of [0, 31]
    ("iptables: {masqueradeBit: 32}\n",
     "KubeProxyConfiguration.KubeProxyIPTablesConfiguration.MasqueradeBit: Invalid value: 32: "
     "must be within the range [0, 31]"),
    ("mode: nftables\nnftables: {masqueradeBit: -1}\n",
     "KubeProxyConfiguration.KubeProxyNFTablesConfiguration.MasqueradeBit: Invalid value: -1: "
     "must be within the range [0, 31]"),
    # TestValidateKubeProxyConfiguration: SyncPeriod / MinSyncPeriod
    ("iptables: {syncPeriod: -5s}\n",
     "KubeProxyConfiguration.SyncPeriod: Invalid value: -5s: must be greater than 0"),
    ("iptables: {minSyncPeriod: -1s}\n",
     "KubeProxyConfiguration.MinSyncPeriod: Invalid value: -1s: must be greater than or equal to 0"),
    ("mode: ipvs\nipvs: {syncPeriod: 5s, minSyncPeriod: 10s}\n",
     "KubeProxyConfiguration.SyncPeriod: Invalid value: 10s: must be greater than or equal to "
     "KubeProxyConfiguration.MinSyncPeriod"),
    # TestValidateKubeProxyConntrackConfiguration
    ("conntrack: {maxPerCore: -1}\n",
     "KubeProxyConfiguration.KubeProxyLinuxConfiguration.KubeProxyConntrackConfiguration.MaxPerCore: "
     "Invalid value: -1: must be greater than or equal to 0"),
    ("conntrack: {tcpCloseWaitTimeout: -5s}\n",
     "KubeProxyConntrackConfiguration.TCPCloseWaitTimeout: Invalid value: -5s: must be greater than or equal to 0"),
    # TestValidateKubeProxyNodePortAddress
    ('nodePortAddresses: ["primary", "10.0.0.0/8"]\n',
     "KubeProxyConfiguration.NodePortAddresses[0]: Invalid value: \"primary\": can't use both 'primary' and CIDRs"),
    ('nodePortAddresses: ["10.0.0.0/8", "foo"]\n',
     'KubeProxyConfiguration.NodePortAddresses[1]: Invalid value: "foo": must be a valid CIDR'),
    # TestValidateDetectLocalConfiguration
    ("detectLocalMode: BridgeInterface\n",
     'KubeProxyConfiguration.DetectLocalConfiguration.InterfaceName: Invalid value: "": must not be empty'),
    ("iptables: {syncPeriod: abc}\n", 'time: invalid duration "abc"'),
    # validateProxyModeLinux: the path is fldPath.Child("ProxyMode") under newPath.Child("Mode")
    ("mode: userspace\n",
     'KubeProxyConfiguration.Mode.ProxyMode: Invalid value: "userspace": must be iptables, ipvs, nftables or blank '
     "(blank means the best-available proxy [currently iptables])"),
])
def test_upstream_cases_refused_in_kube_proxys_words(body, expected):
    assert expected in _errors(body)


def test_other_modes_sections_not_validated():
    """nftables.masqueradeBit is checked only in nftables mode (validation.go's switch on Mode)."""
    c = kl.load(HEAD + "mode: iptables\nnftables: {masqueradeBit: 40}\n")
    assert c.proxy_config["nftables"]["masqueradeBit"] == 40


HOSTILE = (HEAD + 'clusterCIDR: "10.244.0.0/16 -j ACCEPT"\n'
           'nodePortAddresses: ["0.0.0.0/0\\n"]\n'
           'conntrack: {maxPerCore: "x\\ny"}\n'
           'featureGates: {"a\\nb": true}\n')


def test_issue_14_hostile_values_all_refused_at_once(tmp_path):
    f = tmp_path / "kp.yaml"
    f.write_text(HOSTILE)
    r = subprocess.run([sys.executable, "-m", "kubelearn", "validate", "-f", str(f)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert "Traceback" not in out and "valid" not in r.stdout
    assert ('KubeProxyConfiguration.DetectLocalConfiguration.ClusterCIDRs[0]: Invalid value: '
            '"10.244.0.0/16 -j ACCEPT": must be a valid CIDR block (e.g. 10.100.0.0/16 or fde4:8dba:82e1::/48)') in out
    assert 'KubeProxyConfiguration.NodePortAddresses[0]: Invalid value: "0.0.0.0/0\\n": must be a valid CIDR' in out
    assert ("json: cannot unmarshal string into Go struct field "
            "KubeProxyConntrackConfiguration.conntrack.maxPerCore of type int32") in out
    assert 'unrecognized feature gate: a\\nb' in out
    # one line per error, each with its file line: no raw newline from the input splits a message
    lines = [x for x in out.splitlines() if x.strip()]
    assert len(lines) == 4 and all(x.startswith(str(f)) for x in lines), out
