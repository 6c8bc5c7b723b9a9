"""A command killed for time reads as a timeout; one killed sooner (exit 137: an OOM kill, a
removed container, a test killing its own shell) does not."""

from __future__ import annotations

import pytest

from evalharness.env.base import killed_for_time

from evalharness.env.local import LocalEnvironment


def test_only_a_kill_at_the_limit_is_a_timeout():
    assert killed_for_time(137, 5.0, 5)
    assert killed_for_time(124, 4.7, 5)
    assert not killed_for_time(137, 2.0, 1800)  # killed after 2 s of 1800: not the timeout's doing
    assert not killed_for_time(0, 9.0, 5) and not killed_for_time(137, 9.0, None)


def test_a_command_that_kills_itself_is_not_a_timeout(tmp_path):
    env = LocalEnvironment(tmp_path)
    quick = env.exec("kill -9 $$", timeout=60)
    assert quick.exit_code in (-9, 137) and not quick.timed_out
    slow = env.exec("sleep 30", timeout=1)
    assert slow.timed_out


@pytest.mark.docker
def test_in_a_container_too(docker_client, cache_dir):
    from evalharness.env.docker import running_container
    from evalharness.env.images import BuildConfig, ImageBuilder

    image = ImageBuilder(docker_client, BuildConfig(cache_dir=cache_dir), []).base_image("3.11", print)
    with running_container(docker_client, image, run_id="timeouts", instance_id="i", purpose="eval") as env:
        quick = env.exec("kill -9 $$", timeout=60)
        assert quick.exit_code == 137 and not quick.timed_out
        assert env.exec("sleep 30", timeout=1).timed_out
