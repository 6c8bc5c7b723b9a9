"""parse_pytest on hand-written logs modelled on real pytest 8 `-rA` output."""

import pytest

from evalharness.errors import UserError
from evalharness.scorers.log_parsers import LOG_PARSERS, get_log_parser, parse_pytest, strip_ansi

# A typical non-verbose `pytest -rA` run, with the eval script's trace lines around it.
BASIC_LOG = """\
+ git apply -v -
Checking patch tests/test_calc.py...
Applied patch tests/test_calc.py cleanly.
+ : '>>>>> Start Test Output'
+ pytest -rA tests/test_calc.py
============================= test session starts ==============================
platform linux -- Python 3.11.7, pytest-8.3.3, pluggy-1.5.0
rootdir: /testbed
configfile: pyproject.toml
collected 7 items

tests/test_calc.py .F.sxXE                                               [100%]

==================================== ERRORS ====================================
_________________________ ERROR at setup of test_fixture _________________________

    @pytest.fixture
    def broken():
>       raise RuntimeError("boom")
E       RuntimeError: boom

tests/test_calc.py:30: RuntimeError
=================================== FAILURES ===================================
__________________________________ test_sub ___________________________________

    def test_sub():
>       assert sub(3, 1) == 1
E       assert 2 == 1
E        +  where 2 = sub(3, 1)

tests/test_calc.py:9: AssertionError
=================================== PASSES ====================================
=========================== short test summary info ============================
PASSED tests/test_calc.py::test_add
PASSED tests/test_calc.py::test_mul
SKIPPED [1] tests/test_calc.py:15: needs network
XFAIL tests/test_calc.py::test_div_zero - division is not defined
XPASS tests/test_calc.py::test_maybe - flaky upstream
ERROR tests/test_calc.py::test_fixture - RuntimeError: boom
FAILED tests/test_calc.py::test_sub - assert 2 == 1
= 1 failed, 2 passed, 1 skipped, 1 xfailed, 1 xpassed, 1 error in 0.12s =
+ : '>>>>> End Test Output'
"""


def test_basic_summary_statuses():
    assert parse_pytest(BASIC_LOG) == {
        "tests/test_calc.py::test_add": "PASSED",
        "tests/test_calc.py::test_mul": "PASSED",
        "tests/test_calc.py::test_div_zero": "XFAIL",
        "tests/test_calc.py::test_maybe": "XPASS",
        "tests/test_calc.py::test_fixture": "ERROR",
        "tests/test_calc.py::test_sub": "FAILED",
    }


def test_folded_skip_line_has_no_id_and_is_ignored():
    statuses = parse_pytest(BASIC_LOG)
    assert not any("15" in k or "needs network" in k for k in statuses)
    assert "SKIPPED" not in statuses.values()


PARAM_LOG = """\
============================= test session starts ==============================
collected 6 items

tests/t.py ..FF.F                                                        [100%]

=================================== FAILURES ===================================
_______________________________ test_g[x y] ________________________________
E       assert 1 == 2
=========================== short test summary info ============================
PASSED tests/t.py::test_f[a - b]
PASSED tests/t.py::test_f[q]]
FAILED tests/t.py::test_g[x y] - assert 1 == 2
FAILED tests/t.py::test_h[a - b] - AssertionError: assert x[0] - 1 == [2] - y
FAILED tests/t.py::TestK::test_m[[1, 2]-None]
PASSED tests/t.py::test_plain
========================= 3 failed, 3 passed in 0.05s ==========================
"""


def test_parametrized_ids_with_spaces_brackets_and_dashes():
    assert parse_pytest(PARAM_LOG) == {
        "tests/t.py::test_f[a - b]": "PASSED",
        "tests/t.py::test_f[q]]": "PASSED",
        "tests/t.py::test_g[x y]": "FAILED",
        "tests/t.py::test_h[a - b]": "FAILED",
        "tests/t.py::TestK::test_m[[1, 2]-None]": "FAILED",
        "tests/t.py::test_plain": "PASSED",
    }


def test_failed_without_message_and_message_with_brackets():
    log = """\
=========================== short test summary info ============================
FAILED tests/a.py::test_bare
FAILED tests/a.py::test_msg - assert [1] == [2]
FAILED tests/a.py::TestC::test_m - IndexError: list index out of range [0]
============================== 3 failed in 0.01s ===============================
"""
    assert parse_pytest(log) == {
        "tests/a.py::test_bare": "FAILED",
        "tests/a.py::test_msg": "FAILED",
        "tests/a.py::TestC::test_m": "FAILED",
    }


VERBOSE_LOG = """\
============================= test session starts ==============================
platform linux -- Python 3.11.7, pytest-8.3.3, pluggy-1.5.0 -- /usr/bin/python
cachedir: .pytest_cache
rootdir: /testbed
collecting ... collected 8 items

tests/a.py::test_x PASSED                                                [ 12%]
tests/a.py::test_y FAILED                                                [ 25%]
tests/a.py::test_p[a - b] PASSED                                         [ 37%]
tests/a.py::test_p[x y] FAILED                                           [ 50%]
tests/a.py::test_s SKIPPED (needs network)                               [ 62%]
tests/a.py::test_xf XFAIL (known bug)                                    [ 75%]
tests/a.py::test_td PASSED                                               [ 87%]
tests/a.py::test_td ERROR                                                [ 87%]
tests/a.py::TestK::test_m[1-2] PASSED                                    [100%]

=================================== FAILURES ===================================
___________________________________ test_y ____________________________________
E       assert 1 == 2
=========================== short test summary info ============================
PASSED tests/a.py::test_x
PASSED tests/a.py::test_p[a - b]
PASSED tests/a.py::test_td
PASSED tests/a.py::TestK::test_m[1-2]
SKIPPED [1] tests/a.py:20: needs network
XFAIL tests/a.py::test_xf - known bug
ERROR tests/a.py::test_td - ValueError: teardown went wrong
FAILED tests/a.py::test_y - assert 1 == 2
FAILED tests/a.py::test_p[x y] - assert 'x y' != 'x y'
============== 2 failed, 4 passed, 1 skipped, 1 xfailed, 1 error in 0.30s ==============
"""


def test_verbose_lines_give_skips_and_summary_agrees():
    statuses = parse_pytest(VERBOSE_LOG)
    assert statuses == {
        "tests/a.py::test_x": "PASSED",
        "tests/a.py::test_y": "FAILED",
        "tests/a.py::test_p[a - b]": "PASSED",
        "tests/a.py::test_p[x y]": "FAILED",
        "tests/a.py::test_s": "SKIPPED",
        "tests/a.py::test_xf": "XFAIL",
        "tests/a.py::test_td": "ERROR",  # passed, then errored in teardown: later wins
        "tests/a.py::TestK::test_m[1-2]": "PASSED",
    }


def test_later_status_for_same_id_wins():
    log = """\
=========================== short test summary info ============================
PASSED tests/a.py::test_x
ERROR tests/a.py::test_x - RuntimeError: teardown failed
FAILED tests/b.py::test_y - boom
=========================== short test summary info ============================
PASSED tests/b.py::test_y
"""
    assert parse_pytest(log) == {"tests/a.py::test_x": "ERROR", "tests/b.py::test_y": "PASSED"}


def test_collection_error_marks_the_file():
    log = """\
============================= test session starts ==============================
collected 3 items / 1 error

==================================== ERRORS ====================================
____________________ ERROR collecting tests/test_broken.py _____________________
ImportError while importing test module '/testbed/tests/test_broken.py'.
Hint: make sure your test modules/packages have valid Python names.
Traceback:
tests/test_broken.py:1: in <module>
    import nonexistent_mod
E   ModuleNotFoundError: No module named 'nonexistent_mod'
=========================== short test summary info ============================
ERROR tests/test_broken.py - ImportError while importing test module '/testbed/tests/test_broken.py'.
ERROR tests/test_other.py
!!!!!!!!!!!!!!!!!!!! Interrupted: 2 errors during collection !!!!!!!!!!!!!!!!!!!!
=============================== 2 errors in 0.24s ===============================
"""
    assert parse_pytest(log) == {"tests/test_broken.py": "ERROR", "tests/test_other.py": "ERROR"}


def test_prints_inside_captured_output_do_not_create_results():
    log = """\
============================= test session starts ==============================
collected 2 items

tests/a.py .F                                                            [100%]

=================================== FAILURES ===================================
___________________________________ test_y ____________________________________

    def test_y():
        print("PASSED tests/a.py::test_y")
>       assert 0
E       assert 0

tests/a.py:6: AssertionError
----------------------------- Captured stdout call -----------------------------
PASSED tests/a.py::test_y
PASSED tests/a.py::test_forged
tests/a.py::test_forged2 PASSED                                          [100%]
=================================== PASSES ====================================
___________________________________ test_x ____________________________________
----------------------------- Captured stdout call -----------------------------
XPASS tests/a.py::test_invented
ERROR tests/a.py::test_x - not really
=========================== short test summary info ============================
PASSED tests/a.py::test_x
FAILED tests/a.py::test_y - assert 0
========================= 1 failed, 1 passed in 0.02s ==========================
"""
    assert parse_pytest(log) == {"tests/a.py::test_x": "PASSED", "tests/a.py::test_y": "FAILED"}


def test_lines_before_the_session_are_not_trusted():
    log = """\
+ git apply -v -
PASSED tests/a.py::test_from_preamble
tests/a.py::test_also_preamble PASSED
============================= test session starts ==============================
collected 1 item

tests/a.py .                                                             [100%]

=========================== short test summary info ============================
PASSED tests/a.py::test_real
============================== 1 passed in 0.01s ===============================
PASSED tests/a.py::test_after_the_end
"""
    assert parse_pytest(log) == {"tests/a.py::test_real": "PASSED"}


def test_warnings_and_warnings_summary_are_ignored():
    log = """\
============================= test session starts ==============================
collected 2 items

tests/a.py::test_x PASSED                                                [ 50%]
/testbed/pkg/mod.py:3: DeprecationWarning: value PASSED
  warnings.warn("value PASSED", DeprecationWarning)
tests/a.py::test_w PASSED                                                [100%]

=============================== warnings summary ===============================
tests/a.py::test_w
  /testbed/pkg/mod.py:3: DeprecationWarning: careful
    warnings.warn("careful", DeprecationWarning)

tests/a.py::test_w FAILED
FAILED tests/a.py::test_w

-- Docs: https://docs.pytest.org/en/stable/how-to/capture-warnings.html
=========================== short test summary info ============================
PASSED tests/a.py::test_x
PASSED tests/a.py::test_w
======================== 2 passed, 1 warning in 0.01s =========================
"""
    assert parse_pytest(log) == {"tests/a.py::test_x": "PASSED", "tests/a.py::test_w": "PASSED"}


def test_ansi_colour_codes_are_stripped():
    log = (
        "\x1b[1m============================= test session starts ==============================\x1b[0m\n"
        "collected 3 items\n\n"
        "tests/a.py::test_x \x1b[32mPASSED\x1b[0m\x1b[32m                                   [ 33%]\x1b[0m\n"
        "tests/a.py::test_s \x1b[33mSKIPPED\x1b[0m (why)\x1b[31m                           [ 66%]\x1b[0m\n"
        "\x1b[36m\x1b[1m=========================== short test summary info ============================\x1b[0m\n"
        "\x1b[32mPASSED\x1b[0m tests/a.py::\x1b[1mtest_x\x1b[0m\n"
        "\x1b[31mFAILED\x1b[0m tests/a.py::\x1b[1mtest_p[x y]\x1b[0m - assert 1 == 2\n"
        "\x1b[31m= \x1b[31m\x1b[1m1 failed\x1b[0m, \x1b[32m1 passed\x1b[0m\x1b[31m in 0.37s\x1b[0m\x1b[31m =\x1b[0m\n"
    )
    assert parse_pytest(log) == {
        "tests/a.py::test_x": "PASSED",
        "tests/a.py::test_s": "SKIPPED",
        "tests/a.py::test_p[x y]": "FAILED",
    }
    assert strip_ansi("\x1b[31mFAILED\x1b[0m") == "FAILED"


def test_crlf_log():
    log = BASIC_LOG.replace("\n", "\r\n")
    assert parse_pytest(log) == parse_pytest(BASIC_LOG)


def test_older_pytest_formats():
    # pytest 7: XFAIL reason on the next line, XPASS reason without " - ".
    log = """\
=========================== short test summary info ============================
XFAIL tests/a.py::test_xf
  reason: known bug
XPASS tests/a.py::test_xp flaky upstream
XPASS tests/a.py::test_xq[a b] flaky upstream
XFAIL at setup of tests/a.py::test_xs - setup xfail
SKIPPED tests/a.py::test_s - unfolded skip (--no-fold-skipped)
============ 2 xfailed, 2 xpassed in 0.01s =============
"""
    assert parse_pytest(log) == {
        "tests/a.py::test_xf": "XFAIL",
        "tests/a.py::test_xp": "XPASS",
        "tests/a.py::test_xq[a b]": "XPASS",
        "tests/a.py::test_xs": "XFAIL",
        "tests/a.py::test_s": "SKIPPED",
    }


def test_xdist_verbose_lines():
    log = """\
============================= test session starts ==============================
created: 2/2 workers
2 workers [2 items]

[gw0] [ 50%] PASSED tests/a.py::test_x
[gw1] [100%] SKIPPED tests/a.py::test_s
"""
    assert parse_pytest(log) == {"tests/a.py::test_x": "PASSED", "tests/a.py::test_s": "SKIPPED"}


def test_bare_excerpt_without_headers_is_read_whole():
    log = "PASSED tests/a.py::test_x\nFAILED tests/a.py::test_y - nope\ntests/a.py::test_z SKIPPED [ 50%]\n"
    assert parse_pytest(log) == {
        "tests/a.py::test_x": "PASSED",
        "tests/a.py::test_y": "FAILED",
        "tests/a.py::test_z": "SKIPPED",
    }


def test_empty_and_timeout_cut_logs():
    assert parse_pytest("") == {}
    cut = "============================= test session starts ==============================\ncollected 2 items\n\ntests/a.py::test_x PASSED [ 50%]\ntests/a.py::test_loop "
    assert parse_pytest(cut) == {"tests/a.py::test_x": "PASSED"}


def test_registry():
    assert get_log_parser("pytest") is parse_pytest
    assert LOG_PARSERS["pytest"] is parse_pytest
    with pytest.raises(UserError, match="known: .*pytest"):
        get_log_parser("nose")


def test_registry_is_open(monkeypatch):
    monkeypatch.setitem(LOG_PARSERS, "custom", lambda log: {"x": "PASSED"})
    assert get_log_parser("custom")("") == {"x": "PASSED"}
