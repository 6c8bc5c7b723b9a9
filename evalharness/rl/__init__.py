"""Environments for Agent RL: the eval's tasks, images, shells and graders behind reset / step /
reward, warm pools of them, a server for trainers, and black-box rollouts (issue 19)."""
