"""One in-process Ray for the executor tests (started on first use, shut down at the end),
listening on loopback only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def ray_session() -> Iterator[object]:
    """``ray.init(num_cpus=2)`` once for the session: Ray takes seconds to start.

    Ray binds its services to the address it believes other machines reach it at; on a
    single node (what it assumes off Linux) it takes loopback instead. The variable asks for
    that; Ray reads it when first imported (perhaps earlier in this session), so the flag it
    sets is patched too. Both are restored at the end.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        import ray
        from ray._private import ray_constants

        mp.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)
        # "local": a Ray of our own, whatever `ray start` left on this machine
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
        try:
            yield ray
        finally:
            ray.shutdown()
