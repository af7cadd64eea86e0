"""The one network probe: is a download host reachable right now, within a few seconds?

Every download dlzoo starts (tfds datasets, ImageNet weights) asks here first, so an offline
machine fails in seconds with a message saying where to put the file, instead of a library
retrying for minutes. `DLZOO_OFFLINE=1` answers "no" without touching the network.

    >>> from dlzoo.network import network_available
    >>> network_available("https://storage.googleapis.com/", timeout=5)
"""

from __future__ import annotations

import os
import threading

__all__ = ["PROBE_TIMEOUT_S", "network_available", "offline_forced"]

PROBE_TIMEOUT_S = 5.0


def offline_forced() -> bool:
    """True when the environment says not to use the network (`DLZOO_OFFLINE` set, not 0)."""
    return os.environ.get("DLZOO_OFFLINE", "").strip() not in ("", "0")


def network_available(url: str, timeout: float | None = None) -> bool:
    """Whether `url`'s host answers an HTTP(S) `HEAD` within `timeout` seconds in all.

    Goes through the proxies the environment configures (`urllib`'s rules), so a machine behind
    a proxy is judged by the proxy's answer. Any HTTP answer, an error status included, counts as
    reachable. A bare TCP connect is not enough (proxies accept connections they never forward),
    and DNS lookups ignore socket timeouts, so the request runs in a daemon thread that we stop
    waiting for after `timeout`.

    Args:
        url: the download URL (or any URL on its host).
        timeout: seconds to wait, `PROBE_TIMEOUT_S` (5) by default.

    Returns:
        False when offline is forced (`DLZOO_OFFLINE`), the host does not answer in time, or
        the connection fails; True otherwise.
    """
    if offline_forced():
        return False
    timeout = PROBE_TIMEOUT_S if timeout is None else float(timeout)
    result: list[bool] = []

    def probe() -> None:
        import urllib.error
        import urllib.request

        try:
            request = urllib.request.Request(url, method="HEAD")
            with urllib.request.urlopen(request, timeout=timeout):
                pass
            result.append(True)
        except urllib.error.HTTPError:  # the host answered, with an error status
            result.append(True)
        except (OSError, ValueError):  # URLError, timeouts, refused, a malformed URL
            result.append(False)

    thread = threading.Thread(target=probe, name="dlzoo-network-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])
