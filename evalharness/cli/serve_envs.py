"""`evalharness serve-envs`: the selected tasks as RL environments over the OpenEnv protocol
(evalharness/rl/server.py), until Ctrl-C. Needs the `rl` extra: pip install 'evalharness[rl]'.

Its options are its own (cli/parser.py imports this module, so this one may not import that one):
the task selection and environment options carry the names `eval` gives them, so the shared
helpers of cli/common.py read them alike.
"""

from __future__ import annotations

import argparse
import os
import secrets
from pathlib import Path

from evalharness.core.errors import UserError

EPILOG = """examples:
  evalharness serve-envs --dataset builtin --port 8000 --max-envs 16
  EVALHARNESS_ENV_TOKEN=s3cret evalharness serve-envs --dataset verified --repos django/django --host 0.0.0.0

a trainer connects with OpenEnv's client, the token as the URL's password:
  from openenv.core.generic_client import GenericEnvClient
  with GenericEnvClient(base_url="http://rl:TOKEN@host:8000").sync() as env:
      env.reset(instance_id="evalharness__confini-1"); env.step({"tool": "submit"})"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("serve-envs", help="serve tasks as RL environments (reset/step/reward) over the OpenEnv "
                                          "protocol, with a warm pool of containers",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    s = p.add_argument_group("server")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    s.add_argument("--token", default=os.environ.get("EVALHARNESS_ENV_TOKEN", ""),
                   help="clients' token ($EVALHARNESS_ENV_TOKEN; default: a random one, printed)")
    s.add_argument("--max-envs", type=int, default=8, help="sessions (environments) at once (default 8)")
    s.add_argument("--reap-timeout", type=float, default=300.0,
                   help="seconds without a message before a session and its container are reclaimed (default 300)")
    s.add_argument("--warm", type=int, default=1, help="ready environments kept per task in use (default 1)")
    s.add_argument("--idle-timeout", type=float, default=300.0,
                   help="seconds a ready environment waits unused before it is removed (default 300)")
    s.add_argument("--max-steps", type=int, default=100, help="tool calls per episode before it is graded (default 100)")
    s.add_argument("--command-timeout", type=float, default=120, help="seconds per bash command (default 120)")
    s.add_argument("--logs-dir", type=Path, help="keep each episode's grading logs here (default: not kept)")
    s.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="environments on this machine (default), or on every Ray node offering `docker`")
    s.add_argument("--ray-address", help="Ray cluster to join (default: $RAY_ADDRESS, else a new local one "
                                         "offering this machine's Docker for --max-envs environments)")
    g = p.add_argument_group("tasks")
    g.add_argument("--dataset", default="builtin", help="builtin | verified | lite | full | HF name | file")
    g.add_argument("--split", default="test", help="split of a Hugging Face dataset")
    g.add_argument("--instance-ids", action="append", default=[], metavar="IDS", help="comma-separated ids")
    g.add_argument("--repos", action="append", default=[], metavar="REPOS", help="owner/name, comma-separated")
    g.add_argument("--filter", dest="regex", help="regex on instance_id")
    g.add_argument("--slice", help="python slice of the selection, e.g. 0:10")
    e = p.add_argument_group("environments")
    e.add_argument("--specs", action="append", type=Path, default=[], help="extra spec TOML file(s)")
    e.add_argument("--repo-mirror", action="append", type=Path, default=[], help="folder of bare git mirrors")
    e.add_argument("--cache-dir", type=Path,
                   default=Path(os.environ.get("EVALHARNESS_CACHE", Path.home() / ".cache" / "evalharness")),
                   help="images' build contexts and repo clones ($EVALHARNESS_CACHE)")
    e.add_argument("--no-pull", action="store_true", help="never pull from a registry (air-gapped)")
    e.add_argument("--namespace", help="pull official SWE-bench images from this namespace")
    e.add_argument("--registry", help="registry (host:port[/prefix]) nodes share images through")
    e.add_argument("--memory", help="memory limit per container (default 4g)")
    e.add_argument("--cpus", help="CPU quota per container (default: the host's cores)")
    e.add_argument("--pids", help="process limit per container (default 4096)")
    e.add_argument("--allow-network", action="store_true", help="give the containers network")
    p.set_defaults(func=run, shuffle=False, seed=0, base_image=None, ca_bundle=None, no_host_ca=False,
                   build_workers=2)
    return p


def run(args: argparse.Namespace) -> int:
    from evalharness.cli.common import _limits, _select, log

    try:
        from evalharness.rl.server import EnvServer
    except ImportError as exc:
        raise UserError(f"serve-envs needs the rl extra ({exc.name} is missing): pip install 'evalharness[rl]'") from None
    from evalharness.rl.env import EnvConfig

    for name in ("max_envs", "warm", "max_steps", "port"):
        if getattr(args, name) < (1 if name != "warm" else 0):
            raise UserError(f"--{name.replace('_', '-')} must be positive")
    tasks = _select(args)
    token = args.token or secrets.token_hex(16)
    config = EnvConfig(run_id=f"serve-envs-{os.getpid()}", limits=_limits(args), pool_size=args.max_envs,
                       warm=args.warm, idle_timeout=args.idle_timeout, max_steps=args.max_steps,
                       command_timeout=args.command_timeout, logs_dir=args.logs_dir)
    with _hub(args, tasks, config) as hub:
        server = EnvServer(hub, token=token, host=args.host, port=args.port, max_envs=args.max_envs,
                           reap_timeout=args.reap_timeout)
        shown = token if not args.token else "<--token>"
        log.warning("serving %d task(s) at ws://%s:%d/ws, up to %d environments; connect with "
                    "base_url=http://rl:%s@%s:%d", len(tasks), args.host, args.port, args.max_envs, shown,
                    args.host, args.port)
        print(f"serve-envs: http://rl:{shown}@{args.host}:{args.port} ({len(tasks)} tasks)", flush=True)
        server.serve()
    return 0


def _hub(args, tasks, config):
    """The environments: a hub on this machine, or one per Ray node offering `docker`."""
    from evalharness.cli.common import _build_setup, _environment
    from evalharness.rl.env import EnvHub

    if args.executor == "local":
        builder, specs, client = _environment(args)
        return EnvHub(tasks, client=client, builder=builder, specs=specs, config=config)
    try:
        from evalharness.rl.ray_envs import HubRecipe, RayEnvHub
        from evalharness.run.executors.ray import connect
    except ImportError as exc:
        raise UserError(f"--executor ray needs the ray extra ({exc.name} is missing): pip install 'evalharness[ray]'") from None
    build, sources, specs = _build_setup(args)
    local = not (args.ray_address or os.environ.get("RAY_ADDRESS"))  # a new local cluster: this machine's Docker
    connect(args.ray_address, **({"resources": {"docker": args.max_envs}} if local else {}))
    return RayEnvHub(HubRecipe(tasks=tasks, build=build, specs=specs, repo_sources=sources, config=config))
