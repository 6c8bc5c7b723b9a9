"""Environments for Agent RL: the eval's tasks, images, shells and graders behind reset / step /
reward, warm pools of them, a server for trainers, and black-box rollouts (issue 19).

The environment API (rl/env.py: `EnvHub`, `SWEEnv`; rl/types.py: actions, observations, step
results, errors) and the warm pool (rl/pool.py) import from here; the OpenEnv server
(rl/server.py, extra `rl`) and the Ray hub (rl/ray_envs.py, extra `ray`) import from their
modules, so the core install needs neither.
"""
