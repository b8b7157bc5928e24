"""Ray for ponder: one way to connect (`ponder sweep`, and `--ray` of `ponder eval` / `ponder curate`),
and a fleet of policy actors that sample units of work in parallel.

    started = connect(address, need={"CPU": 2, "GPU": 0}, hint="lower --ray-actors")
    with policy_fleet("local", model, "hf", actors=2) as fleet:
        for outs in fleet.map([(problems, n, sampling), ...]):   # in unit order
            ...

A *unit* is one `Policy.generate` call: (problems, n, sampling). An actor renders the problems
with its own policy and returns exactly what `generate` returns in a single process, so a stage
that cuts its work into units with their own seeds (eval: a batch; curate: a chunk of a round)
gets the same samples with or without Ray, whatever the number of actors. Why not shard inside a
call: the hf backend draws one noise tensor per decoding step for the whole batch, so a prompt's
sample depends on the other prompts of its call.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterable, Iterator

from ponder.errors import PonderError

LOCAL = ("", "local")  # --ray values that start a local instance rather than join a cluster


def require_ray(what: str = "this") -> None:
    """PonderError (one line) when Ray cannot be imported."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise PonderError(f"{what} runs on Ray, which is not installed: pip install 'ray>=2.40' "
                          "(ponder's dev or ray extra)") from None


def check_ray(address: str | None, actors: int = 0, what: str = "--ray") -> None:
    """The up-front check of a stage's --ray (writes nothing): Ray imports, a HOST:PORT answers, and
    a local instance (one CPU per core) can hold `actors` (a cluster's size is known only once joined)."""
    require_ray(what)
    import ray

    if address not in (None, *LOCAL):
        check_reachable(address)  # type: ignore[arg-type]
    elif not ray.is_initialized() and actors > (os.cpu_count() or 1):  # initialized: connect reuses it, and checks
        raise PonderError(f"--ray-actors {actors} do not fit a local Ray instance with {os.cpu_count() or 1} CPUs "
                          "(one per actor); lower --ray-actors or join a cluster with --ray ADDRESS")


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """A HOST:PORT that does not answer fails in seconds here; ray.init would retry for minutes."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit() or not host:
        return  # "auto" and other forms: Ray resolves them itself
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as e:
        raise PonderError(f"cannot reach Ray at {address}: {e.strerror or e} (is `ray start --head` running there?)") from None


def connect(address: str | None, need: dict[str, float] | None = None, hint: str = "", what: str = "this") -> bool:
    """Start a local Ray instance (one CPU per core; `address` None, "" or "local") or join
    `address`; PonderError when the cluster lacks `need` ({"CPU": x, "GPU": y}, the largest single
    request). Returns whether this call started Ray (the caller then shuts it down)."""
    import ray

    if ray.is_initialized():
        _check_need(need, hint, what, started=False)
        return False
    kwargs = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
    join = address not in (None, *LOCAL)
    if join:
        check_reachable(address)  # type: ignore[arg-type]
    try:
        if join:
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=os.cpu_count() or 1, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise PonderError(f"cannot start or reach Ray ({address if join else 'local'}): {str(e).splitlines()[0]}") from None
    _check_need(need, hint, what, started=True)
    return True


def _check_need(need: dict[str, float] | None, hint: str, what: str, *, started: bool) -> None:
    import ray

    have = ray.cluster_resources()
    for name, want in (need or {}).items():
        if want > 0 and want > have.get(name, 0):
            if started:
                ray.shutdown()
            raise PonderError(f"{what} requests {want:g} {name} but the Ray cluster has {have.get(name, 0):g}"
                              + (f"; {hint}" if hint else ""))


def check_ray_fields(cfg) -> None:
    """The --ray rules eval and curate share: counts not negative, the actor options only with
    --ray, and a backend that runs the model itself (an openai server batches requests already)."""
    if cfg.ray_actors < 0:
        raise PonderError(f"--ray-actors must be >= 0 (0 = one per CPU or GPU share), got {cfg.ray_actors}")
    if cfg.ray_gpus_per_actor < 0:
        raise PonderError(f"--ray-gpus-per-actor must be >= 0, got {cfg.ray_gpus_per_actor}")
    if cfg.ray is None and (cfg.ray_actors or cfg.ray_gpus_per_actor):
        raise PonderError("--ray-actors / --ray-gpus-per-actor need --ray local|ADDRESS (without it one process samples)")
    if cfg.ray is not None and cfg.backend not in ("hf", "vllm"):
        raise PonderError(f"--ray runs a policy in each actor; --backend {cfg.backend} sends requests to a server "
                          "(raise the server's concurrency instead, or use --backend hf or vllm)")


# -- policy actors ---------------------------------------------------------------------------
class PolicyWorker:
    """One policy in one Ray actor (`load_policy(model, backend)` in the actor's process)."""

    def __init__(self, model: str, backend: str, options: dict, threads: int):
        import torch

        from ponder.policy import load_policy

        torch.set_num_threads(max(1, threads))  # the actor's CPU request, not the node's core count
        self.policy = load_policy(model, backend=backend, **options)

    def num_params(self) -> int | None:
        return getattr(self.policy, "num_params", None)

    def generate(self, problems, n, sampling):
        return self.policy.generate([self.policy.render(p) for p in problems], n, sampling)


class Fleet:
    """Policy actors; `map(units)` yields each unit's completions in unit order, as they finish."""

    def __init__(self, actors: list):
        self.actors = actors

    def map(self, units: Iterable[tuple]) -> Iterator[list]:
        from ray.util import ActorPool

        return ActorPool(self.actors).map(lambda a, u: a.generate.remote(*u), list(units))

    def num_params(self) -> int | None:
        import ray

        return ray.get(self.actors[0].num_params.remote())


def default_actors(gpus_per_actor: float) -> int:
    """One actor per cluster CPU, or per GPU share when actors take GPUs."""
    import ray

    have = ray.cluster_resources()
    if gpus_per_actor > 0:
        return max(1, int(have.get("GPU", 0) // gpus_per_actor))
    return max(1, int(have.get("CPU", 1)))


@contextlib.contextmanager
def policy_fleet(address: str | None, model: str, backend: str, *, actors: int = 0, gpus_per_actor: float = 0.0,
                 options: dict | None = None, max_actors: int | None = None):
    """Connect (see `connect`), start the actors (`actors`, or `default_actors`, at most
    `max_actors`: no more than there are units), yield a `Fleet`; kill them (and the Ray instance
    this started) on the way out."""
    require_ray("--ray")
    import ray

    started = connect(address, {"CPU": 1, "GPU": gpus_per_actor}, "lower --ray-gpus-per-actor or join a bigger cluster",
                      what="each policy actor")
    handles: list = []
    try:
        count = actors or default_actors(gpus_per_actor)
        count = max(1, min(count, max_actors or count))
        _check_need({"CPU": count, "GPU": count * gpus_per_actor}, "lower --ray-actors", f"{count} policy actors",
                    started=False)
        cls = ray.remote(PolicyWorker).options(num_cpus=1, num_gpus=gpus_per_actor, max_restarts=0)
        handles = [cls.remote(model, backend, options or {}, 1) for _ in range(count)]
        try:
            ray.get([h.__ray_ready__.remote() for h in handles])
        except ray.exceptions.RayActorError as e:
            raise PonderError(f"a policy actor failed to load {model} ({backend}): {_first_line(e)}") from None
        yield Fleet(handles)
    finally:
        for h in handles:
            ray.kill(h)
        if started:
            ray.shutdown()


def _first_line(e: BaseException) -> str:
    lines = [x.strip() for x in str(e).strip().splitlines() if x.strip()]
    return lines[-1] if lines else type(e).__name__


def local_map(policy, units: Iterable[tuple]) -> Iterator[list]:
    """`Fleet.map` in this process: each unit's completions from `policy`, generated when asked for."""
    for problems, n, sampling in units:
        yield policy.generate([policy.render(p) for p in problems], n, sampling)
