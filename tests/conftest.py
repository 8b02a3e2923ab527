"""Test-suite settings shared by every test module."""

from hypothesis import settings

# Property tests are part of a deterministic suite: the same examples on every run and machine
# (derandomize), and no per-example time limit, because CI machines are sometimes busy.
settings.register_profile("kubelearn", derandomize=True, deadline=None)
settings.load_profile("kubelearn")
