"""Ray for facegen: start a local Ray on loopback only, or join ``RAY_ADDRESS``'s cluster.

Both users of Ray call this one module: ``facegen predict/evaluate --ray``
(``predict.on_ray``) and the training sweeps (``runs.sweep``). Ray is an optional extra, so
nothing here imports it at module level.
"""

from __future__ import annotations

import logging
import os

from facegen.errors import UsageError

RAY_EXTRA = 'pip install "facegen[ray]"'
LOOPBACK_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
"""Ray turns ``_node_ip_address="127.0.0.1"`` into the machine's external address and binds its
servers there (or on every interface), except where clusters are off, as on macOS and Windows:
with this set to 0 the node's address stays 127.0.0.1 and every server binds to loopback. It is
read when ``ray`` is imported, and inherited by the processes a local Ray starts."""


def require_ray(needed_by: str = "--ray", *, tune: bool = False):
    """The ``ray`` module, or a one-line usage error saying how to install it, naming what
    ``needed_by`` it. Without ``RAY_ADDRESS`` (a local Ray), it is imported set to stay on
    loopback (``LOOPBACK_ONLY``). ``ray.tune`` is imported (and checked) only with ``tune``:
    the sweeps need it, ``--ray`` does not, and it costs a few tenths of a second."""
    if not os.environ.get("RAY_ADDRESS"):
        os.environ.setdefault(LOOPBACK_ONLY, "0")
    try:
        import ray
        import ray.data  # the extra is ray[data,tune]: pyarrow and pandas come with it

        if tune:
            import ray.tune
    except ImportError:
        raise UsageError(f"{needed_by} needs Ray, an optional extra: {RAY_EXTRA}") from None
    return ray


def start_ray(ray, *, verbose: bool) -> bool:
    """Join ``RAY_ADDRESS``'s cluster, else start a local Ray on 127.0.0.1 only. True when this
    call started it (and so must stop it)."""
    if ray.is_initialized():
        return False
    quiet = {} if verbose else {"log_to_driver": False, "logging_level": logging.ERROR}
    if address := os.environ.get("RAY_ADDRESS"):
        try:
            ray.init(**quiet)
        except ConnectionError as exc:
            message = f"RAY_ADDRESS={address}: cannot join that Ray cluster ({exc})"
            raise UsageError(message) from None
    else:
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False  # when ray was imported before require_ray
        os.environ[LOOPBACK_ONLY] = "0"  # for the processes ray.init starts
        ray.init(_node_ip_address="127.0.0.1", include_dashboard=False, **quiet)
    return True
