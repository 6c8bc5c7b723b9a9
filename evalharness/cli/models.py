"""`evalharness models` and `evalharness serve`: the model registry, and a local model server."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from evalharness.cli.common import _sigterm_as_ctrl_c
from evalharness.core.errors import UserError


def cmd_models(args) -> int:
    from evalharness.model.registry import ModelRegistry, api_key

    registry = ModelRegistry.load(args.models_files)
    if args.check:
        if args.check in registry:  # an unregistered id is a --base-url endpoint: eval checks it
            api_key(registry.get(args.check))
        return 0
    rows = [("name", "tool mode", "key", "model id", "endpoint")]
    for name in registry.names():
        m = registry.get(name)
        key = m.api_key_env or "(none)"
        if m.api_key_env:
            try:
                api_key(m)  # the environment, then .env
                key += " set"
            except UserError:
                key += " unset"
        rows.append((name, m.tool_mode, key, m.model, m.base_url))
    # Columns as wide as their widest cell: a long key variable ("DASHSCOPE_API_KEY unset") or a
    # user's model name must not push the rest of its row out of line.
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    return 0


def cmd_serve(args) -> int:
    """Foreground server: ready message, then wait; Ctrl-C or SIGTERM stops the whole process group."""
    from evalharness.model.registry import ModelRegistry
    from evalharness.model.serve import Server, parse_command

    config = ModelRegistry.load(args.models_files).get(args.serve_model)
    cache = Path(os.environ.get("EVALHARNESS_CACHE", Path.home() / ".cache" / "evalharness"))
    log_path = args.log or cache / "serve" / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', config.name)}.log"
    command = parse_command(args.serve_command) if args.serve_command else None
    server = Server(config, log_path=log_path, command=command, startup_timeout=args.startup_timeout)

    print(f"starting {config.name}: {' '.join(server.command)}\nlog: {log_path}", flush=True)
    ready = False
    with _sigterm_as_ctrl_c():
        try:
            server.start()
            ready = True
            print(f"serving {config.model} at {server.base_url} (Ctrl-C stops it)", flush=True)
            code = server.wait()
            print(f"evalharness: error: the server exited with code {code}; log: {log_path}\n{server.log_tail()}",
                  file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("stopping the server", file=sys.stderr, flush=True)
            return 0 if ready else 130
        finally:
            server.stop()
