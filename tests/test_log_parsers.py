"""The log parsers on hand-written logs modelled on real runner output (pytest 3-8 `-rA`,
tox, Django's runtests.py, sympy's bin/test), and on ids taken from the datasets."""

import json
import random
import re
from pathlib import Path

import pandas as pd
import pytest

from evalharness.core.errors import UserError
from evalharness.scorers.log_parsers import (
    LOG_PARSERS,
    get_log_parser,
    parse_django,
    parse_pytest,
    parse_sympy,
    strip_ansi,
)

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


# ---- pytest variants -----------------------------------------------------------------------

def test_pytest3_classic_verbose_log_astropy_1_3():
    """pytest 3.3 (astropy 1.3): -rA unknown there, so results come from -vv lines only;
    "xfail" is lower case, and a test that writes to the terminal splits its line."""
    log = """\
============================= test session starts ==============================
platform linux -- Python 3.6.13, pytest-3.3.1, py-1.11.0, pluggy-0.6.0 -- /opt/venv/bin/python
cachedir: .cache

Running tests with Astropy version 1.4.dev21760.
Running tests in astropy/io/fits/tests/test_header.py.

rootdir: /testbed, inifile: setup.cfg
plugins: xdist-1.20.1, remotedata-0.2.0, openfiles-0.2.0, mock-1.6.3, cov-2.5.1, arraydiff-0.1
collecting ... collected 6 items

astropy/io/fits/tests/test_header.py::test_shallow_copy PASSED
astropy/io/fits/tests/test_header.py::TestHeaderFunctions::test_rename_keyword FAILED
astropy/io/fits/tests/test_header.py::TestRecordValuedKeywordCards::test_parse_field_specifier xfail
astropy/io/fits/tests/test_header.py::TestHeaderFunctions::test_card_image[a b] PASSED
astropy/io/fits/tests/test_header.py::TestHeaderFunctions::test_noisy WARNING: VerifyWarning: Card is too long [astropy.io.fits.card] PASSED
astropy/io/fits/tests/test_header.py::TestHeaderFunctions::test_newline_noise 
WARNING: header card written to the terminal
SKIPPED

=========================== short test summary info ============================
FAIL astropy/io/fits/tests/test_header.py::TestHeaderFunctions::test_rename_keyword
SKIP [1] astropy/io/fits/tests/test_header.py:30: needs scipy
========== 1 failed, 3 passed, 1 skipped, 1 xfailed in 0.31 seconds ===========
"""
    assert parse_pytest(log) == {
        "astropy/io/fits/tests/test_header.py::test_shallow_copy": "PASSED",
        "astropy/io/fits/tests/test_header.py::TestHeaderFunctions::test_rename_keyword": "FAILED",
        "astropy/io/fits/tests/test_header.py::TestRecordValuedKeywordCards::test_parse_field_specifier": "XFAIL",
        "astropy/io/fits/tests/test_header.py::TestHeaderFunctions::test_card_image[a b]": "PASSED",
        "astropy/io/fits/tests/test_header.py::TestHeaderFunctions::test_noisy": "PASSED",
        "astropy/io/fits/tests/test_header.py::TestHeaderFunctions::test_newline_noise": "SKIPPED",
    }


def test_old_summary_forms_fail_and_skip():
    log = """\
=========================== short test summary info ============================
FAIL tests/a.py::test_x
SKIP [2] tests/a.py:9: no network
PASSED tests/a.py::test_y
"""
    assert parse_pytest(log) == {"tests/a.py::test_x": "FAILED", "tests/a.py::test_y": "PASSED"}


def test_progress_artifact_tokens_are_kept_like_swebench_does():
    """pytest's own suite: inner runs print "PASSED [100%]"; the dataset lists "[100%]"."""
    log = """\
============================= test session starts ==============================
collected 2 items

testing/test_terminal.py ..                                              [100%]

==================================== PASSES ====================================
_________________________ TestProgress.test_verbose __________________________
----------------------------- Captured stdout call -----------------------------
test_verbose.py::test_foo
PASSED [100%]
SKIPPED [1] test_verbose.py:3: unconditional skip
=========================== short test summary info ============================
PASSED testing/test_terminal.py::TestProgress::test_verbose
PASSED testing/test_terminal.py::TestProgress::test_normal
============================== 2 passed in 0.50s ===============================
"""
    assert parse_pytest(log) == {
        "testing/test_terminal.py::TestProgress::test_verbose": "PASSED",
        "testing/test_terminal.py::TestProgress::test_normal": "PASSED",
        "[100%]": "PASSED",
    }


SPHINX_TOX_LOG = """\
+ tox --current-env -epy39 -v -- tests/test_ext_autodoc.py
py39: commands[0]> python -X dev -m pytest -rA --durations 25 tests/test_ext_autodoc.py
============================= test session starts ==============================
platform linux -- Python 3.9.20, pytest-8.3.3, pluggy-1.5.0
cachedir: .tox/py39/.pytest_cache
libraries: Sphinx-3.5.0+/1f7fdc2, docutils-0.21.2
base tempdir: /tmp/pytest-of-root/pytest-0
rootdir: /testbed
configfile: setup.cfg
plugins: cov-5.0.0
collected 4 items

tests/test_ext_autodoc.py .F.x                                           [100%]

=================================== FAILURES ===================================
________________________________ test_autodoc _________________________________
E       AssertionError: assert '.. py:function:: func' in []
----------------------------- Captured stdout call -----------------------------
PASSED tests/test_ext_autodoc.py::test_autodoc
============================= slowest 25 durations =============================
0.52s setup    tests/test_ext_autodoc.py::test_autodoc
0.02s call     tests/test_ext_autodoc.py::test_parse_name
=========================== short test summary info ============================
PASSED tests/test_ext_autodoc.py::test_parse_name
PASSED tests/test_ext_autodoc.py::test_format_signature[None-(a, b)]
XFAIL tests/test_ext_autodoc.py::test_broken - reason: sphinx bug
FAILED tests/test_ext_autodoc.py::test_autodoc - AssertionError: assert '.. py:function:: func' in []
=================== 1 failed, 2 passed, 1 xfailed in 1.57s ====================
py39: exit 1 (2.10 seconds) /testbed> python -X dev -m pytest -rA --durations 25 tests/test_ext_autodoc.py pid=123
  py39: FAIL code 1 (2.20=setup[0.09]+cmd[2.10] seconds)
  evaluation failed :( (2.29 seconds)
"""


def test_sphinx_tox_output():
    parse = get_log_parser("parse_log_sphinx")
    assert parse(SPHINX_TOX_LOG) == {
        "tests/test_ext_autodoc.py::test_parse_name": "PASSED",
        "tests/test_ext_autodoc.py::test_format_signature[None-(a, b)]": "PASSED",
        "tests/test_ext_autodoc.py::test_broken": "XFAIL",
        "tests/test_ext_autodoc.py::test_autodoc": "FAILED",
    }


def test_seaborn_no_header_run():
    log = """\
============================= test session starts ==============================
collected 3 items

tests/test_axisgrid.py .F.                                               [100%]

=================================== FAILURES ===================================
__________________________ TestFacetGrid.test_legend __________________________
E   assert 2 == 3
=========================== short test summary info ============================
PASSED tests/test_axisgrid.py::TestFacetGrid::test_data_orders
PASSED tests/test_axisgrid.py::TestPairGrid::test_nondefault_index
FAILED tests/test_axisgrid.py::TestFacetGrid::test_legend - assert 2 == 3
========================= 1 failed, 2 passed in 3.21s ==========================
"""
    assert get_log_parser("parse_log_seaborn")(log) == {
        "tests/test_axisgrid.py::TestFacetGrid::test_data_orders": "PASSED",
        "tests/test_axisgrid.py::TestPairGrid::test_nondefault_index": "PASSED",
        "tests/test_axisgrid.py::TestFacetGrid::test_legend": "FAILED",
    }


def test_options_parser_cuts_absolute_path_parameters():
    log = """\
=========================== short test summary info ============================
PASSED tests/test_self.py::TestRunTC::test_stdin[/tmp/pytest-of-root/pytest-0/test_stdin0/mymodule.py]
PASSED tests/test_utils.py::TestExtractZippedPaths::test_unzipped_paths_unchanged[/]
PASSED tests/test_utils.py::test_prepend_scheme_if_needed[//example.com/path-http://example.com/path]
PASSED tests/test_x.py::test_glob[/tmp/*.py]
PASSED tests/test_x.py::test_plain
FAILED tests/test_x.py::test_rel[a/b.py] - assert 0
"""
    assert get_log_parser("parse_log_pylint")(log) == get_log_parser("requests")(log) == {
        "tests/test_self.py::TestRunTC::test_stdin[/mymodule.py]": "PASSED",
        "tests/test_utils.py::TestExtractZippedPaths::test_unzipped_paths_unchanged[/]": "PASSED",
        "tests/test_utils.py::test_prepend_scheme_if_needed[//example.com/path-http://example.com/path]": "PASSED",
        "tests/test_x.py::test_glob[/tmp/*.py]": "PASSED",
        "tests/test_x.py::test_plain": "PASSED",
        "tests/test_x.py::test_rel[a/b.py]": "FAILED",
    }


def test_matplotlib_mouse_buttons_become_numbers():
    log = """\
============================= test session starts ==============================
collected 3 items

lib/matplotlib/tests/test_widgets.py ..F                                 [100%]

=========================== short test summary info ============================
PASSED lib/matplotlib/tests/test_widgets.py::test_polygon_selector_remove[MouseButton.LEFT]
PASSED lib/matplotlib/tests/test_widgets.py::test_polygon_selector_remove[MouseButton.RIGHT]
FAILED lib/matplotlib/tests/test_axes.py::test_polar_rlim_bottom[png] - matplotlib.testing.exceptions.ImageComparisonFailure: images not close
========================= 1 failed, 2 passed in 5.10s ==========================
"""
    assert get_log_parser("parse_log_matplotlib")(log) == {
        "lib/matplotlib/tests/test_widgets.py::test_polygon_selector_remove[1]": "PASSED",
        "lib/matplotlib/tests/test_widgets.py::test_polygon_selector_remove[3]": "PASSED",
        "lib/matplotlib/tests/test_axes.py::test_polar_rlim_bottom[png]": "FAILED",
    }


# ---- Django --------------------------------------------------------------------------------

DJANGO_LOG = """\
+ : '>>>>> Start Test Output'
+ ./tests/runtests.py --verbosity 2 --settings=test_sqlite --parallel 1 auth_tests.test_validators
Testing against Django installed in '/testbed/django' with up to 2 processes
Importing application auth_tests
Skipping setup of unused database(s): other.
Operations to perform:
  Synchronize unmigrated apps: auth, auth_tests, contenttypes, messages, sessions, staticfiles
  Apply all migrations: admin, sites
Synchronizing apps without migrations:
  Creating tables...
    Creating table django_content_type
    Running deferred SQL...
Running migrations:
  Applying admin.0001_initial... OK
  Applying sites.0001_initial... OK
System check identified no issues (0 silenced).
test_help_text (auth_tests.test_validators.MinimumLengthValidatorTest) ... ok
test_validate (auth_tests.test_validators.MinimumLengthValidatorTest) ...  OK
test_ascii_validator (auth_tests.test_validators.UsernameValidatorsTests) ... FAIL
test_unicode_validator (auth_tests.test_validators.UsernameValidatorsTests) ... ERROR
test_needs_pil (auth_tests.test_validators.ImageTests) ... skipped 'Requires Pillow'
test_known_bug (auth_tests.test_validators.BugTests) ... expected failure
test_fixed_bug (auth_tests.test_validators.BugTests) ... unexpected success
test_empty_password_validator_help_text_html (auth_tests.test_validators.PasswordValidationTest)
CommonPasswordValidator has a help text. ... ok
test_check_framework (auth_tests.test_validators.CheckTests) ... System check identified no issues (0 silenced).
ok
test_prints (auth_tests.test_validators.NoisyTests) ... Internal Server Error: /admin/
Traceback (most recent call last):
  File "/testbed/django/core/handlers/exception.py", line 47, in inner
ValueError: raised on purpose
ok
  Applying sites.0002_alter_domain_unique...test_no_migrations (migrations.test_executor.ExecutorTests) ... ok
test_subtests (auth_tests.test_validators.SubTests) ... test_after_subtests (auth_tests.test_validators.SubTests) ... ok
test_cut_off (auth_tests.test_validators.TimeoutTests) ... 

======================================================================
ERROR: test_unicode_validator (auth_tests.test_validators.UsernameValidatorsTests)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "/testbed/tests/auth_tests/test_validators.py", line 240, in test_unicode_validator
    self.assertEqual(msg, "test_forged (auth_tests.Forged) ... ok")
test_forged (auth_tests.test_validators.Forged) ... ok
======================================================================
FAIL: test_ascii_validator (auth_tests.test_validators.UsernameValidatorsTests)
----------------------------------------------------------------------
AssertionError: ValidationError not raised

----------------------------------------------------------------------
Ran 14 tests in 0.123s

FAILED (failures=1, errors=1, skipped=1, expected failures=1, unexpected successes=1)
Destroying test database for alias 'default'...
+ : '>>>>> End Test Output'
"""


def test_django_runner_log():
    assert get_log_parser("parse_log_django")(DJANGO_LOG) == {
        "test_help_text (auth_tests.test_validators.MinimumLengthValidatorTest)": "PASSED",
        "test_validate (auth_tests.test_validators.MinimumLengthValidatorTest)": "PASSED",
        "test_ascii_validator (auth_tests.test_validators.UsernameValidatorsTests)": "FAILED",
        "test_unicode_validator (auth_tests.test_validators.UsernameValidatorsTests)": "ERROR",
        "test_needs_pil (auth_tests.test_validators.ImageTests)": "SKIPPED",
        "test_known_bug (auth_tests.test_validators.BugTests)": "XFAIL",
        "test_fixed_bug (auth_tests.test_validators.BugTests)": "XPASS",
        # a test with a docstring is known by its first line, as in the datasets
        "CommonPasswordValidator has a help text.": "PASSED",
        "test_check_framework (auth_tests.test_validators.CheckTests)": "PASSED",
        "test_prints (auth_tests.test_validators.NoisyTests)": "PASSED",
        "test_no_migrations (migrations.test_executor.ExecutorTests)": "PASSED",
        # its subtests failed: no result word after it; the next test starts on its line
        "test_after_subtests (auth_tests.test_validators.SubTests)": "PASSED",
    }


def test_django_python311_descriptions_and_subtests():
    log = """\
test_zero_values (template_tests.filter_tests.test_floatformat.FunctionTests.test_zero_values) ... ok
test_inputs (template_tests.filter_tests.test_floatformat.FunctionTests.test_inputs) ... 
  test_inputs (template_tests.filter_tests.test_floatformat.FunctionTests.test_inputs) (value='1.5') ... FAIL
test_floatformat01 (template_tests.filter_tests.test_floatformat.FloatformatTests.test_floatformat01) ... ok
"""
    assert parse_django(log) == {
        "test_zero_values (template_tests.filter_tests.test_floatformat.FunctionTests.test_zero_values)": "PASSED",
        "test_inputs (template_tests.filter_tests.test_floatformat.FunctionTests.test_inputs) (value='1.5')": "FAILED",
        "test_floatformat01 (template_tests.filter_tests.test_floatformat.FloatformatTests.test_floatformat01)": "PASSED",
    }


# ---- sympy ---------------------------------------------------------------------------------

SYMPY_LOG = """\
+ PYTHONWARNINGS=ignore::UserWarning,ignore::SyntaxWarning
+ bin/test -C --verbose sympy/core/tests/test_basic.py sympy/core/tests/test_exprtools.py
test_forged_before ok
============================= test process starts ==============================
executable:         /opt/venv/bin/python  (3.9.20-final-0) [CPython]
architecture:       64-bit
cache:              no
ground types:       python 
numpy:              None
random seed:        48727632
hash randomization: on (PYTHONHASHSEED=2981431212)

sympy/core/tests/test_basic.py[5] 
test__aresame ok
test_structure ok
test_printing hello from the test
ok
test_no_reason  - s
test_matches_basic F                                                      [FAIL]

sympy/core/tests/test_exprtools.py[7] 
test_decompose_power ok
test_Factors E
test_issue_xfail f
test_issue_xpass X
test_needs_numpy numpy not installed. s
test_slow_one Slow w
test_hangs T                                                                [FAIL]

________________________________________________________________________________
____________ sympy/core/tests/test_basic.py:test_matches_basic _________________
Traceback (most recent call last):
  File "/testbed/sympy/core/tests/test_basic.py", line 80, in test_matches_basic
    assert b21.match(b20) is None
AssertionError
test_forged_in_traceback ok

 tests finished: 6 passed, 1 failed, 3 skipped, 1 expected to fail,
1 expected to fail but passed, 2 exceptions, in 1.23 seconds 
DO *NOT* COMMIT!
"""


def test_sympy_bin_test_log():
    assert get_log_parser("parse_log_sympy")(SYMPY_LOG) == {
        "test__aresame": "PASSED",
        "test_structure": "PASSED",
        "test_printing": "PASSED",
        "test_no_reason": "SKIPPED",
        "test_matches_basic": "FAILED",
        "test_decompose_power": "PASSED",
        "test_Factors": "ERROR",
        "test_issue_xfail": "XFAIL",
        "test_issue_xpass": "XPASS",
        "test_needs_numpy": "SKIPPED",
        "test_slow_one": "SKIPPED",
        "test_hangs": "ERROR",
    }


def test_sympy_last_test_of_a_file_carries_ok():
    log = "sympy/a/tests/test_a.py[2] \ntest_one ok\ntest_two ok                                  [OK]\n"
    assert parse_sympy(log) == {"test_one": "PASSED", "test_two": "PASSED"}


# ---- ids from the datasets -------------------------------------------------------------------

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _dataset_ids() -> dict[str, list[str]]:
    frames = [pd.read_parquet(DATA / name / "test.parquet") for name in ("SWE-bench_Verified", "SWE-bench_Lite")]
    ids: dict[str, list[str]] = {}
    for row in pd.concat(frames).itertuples():
        for test_id in json.loads(row.FAIL_TO_PASS) + json.loads(row.PASS_TO_PASS):
            ids.setdefault(row.log_parser, []).append(test_id)
    rng = random.Random(4)
    return {parser: rng.sample(sorted(set(found)), min(150, len(set(found)))) for parser, found in ids.items()}


DATASET_IDS = _dataset_ids()


def test_every_dataset_parser_name_is_registered():
    assert len(DATASET_IDS) == 12
    for name in DATASET_IDS:
        assert name in LOG_PARSERS
    for short in ("pytest", "django", "sympy", "matplotlib", "seaborn", "sphinx", "astropy", "scikit",
                  "xarray", "flask", "requests", "pylint"):
        assert get_log_parser(short) is get_log_parser(f"parse_log_{short}")


def _runner_log(parser: str, ids: list[str], statuses: list[str]) -> str:
    """A log in the runner's own format with one result per id."""
    if parser == "parse_log_django":
        words = {"PASSED": "ok", "FAILED": "FAIL", "ERROR": "ERROR", "SKIPPED": "skipped 'why'"}
        lines = ["System check identified no issues (0 silenced)."]
        for test_id, status in zip(ids, statuses):
            if re.fullmatch(r"\w+ \([\w.]+\)", test_id):
                lines.append(f"{test_id} ... {words[status]}")
            else:  # a docstring line: the description comes first, on a line of its own
                lines += ["test_documented (app.tests.DocumentedTests)", f"{test_id} ... {words[status]}"]
        return "\n".join(lines) + "\n"
    if parser == "parse_log_sympy":
        words = {"PASSED": "ok", "FAILED": "F", "ERROR": "E", "SKIPPED": "needs numpy s"}
        lines = ["=" * 29 + " test process starts " + "=" * 30, "", f"sympy/core/tests/test_x.py[{len(ids)}] "]
        lines += [f"{test_id} {words[status]}" for test_id, status in zip(ids, statuses)]
        lines[-1] += "                                       [FAIL]"
        return "\n".join(lines) + "\n"
    lines = ["=" * 29 + " test session starts " + "=" * 30, f"collected {len(ids)} items", "",
             "=" * 27 + " short test summary info " + "=" * 28]
    for test_id, status in zip(ids, statuses):
        lines.append(f"{status} {test_id}" + (" - AssertionError: assert 1 == 2" if status == "FAILED" else ""))
    lines.append("=" * 30 + " 3 failed in 0.10s " + "=" * 30)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("parser", sorted(DATASET_IDS))
def test_parsers_return_exactly_the_dataset_ids(parser):
    ids = [i for i in DATASET_IDS[parser] if parser in ("parse_log_django", "parse_log_sympy") or "::" in i]
    cycle = ["PASSED", "FAILED", "PASSED", "SKIPPED", "ERROR"]
    statuses = [cycle[n % len(cycle)] for n in range(len(ids))]
    assert get_log_parser(parser)(_runner_log(parser, ids, statuses)) == dict(zip(ids, statuses))


def test_summary_ids_with_a_closing_bracket_and_a_space_inside_the_parameters():
    # Found by the differential test against swebench (pylint's ids hold messages such as
    # "...py:4:4: [warning] text"): a passed test's summary line carries no message, so its id
    # is the whole rest; for the others the id ends at the "]" that ends the line or precedes " - ".
    log = """\
=========================== short test summary info ============================
PASSED tests/test_self.py::TestRunTC::test_out[text-unused_variable.py:4:4: [W0612(unused-variable), ] Unused]
FAILED tests/test_self.py::TestRunTC::test_out[json-x: [warning] y] - AssertionError: [1] - [2]
XFAIL tests/test_self.py::TestRunTC::test_out[a] b] - reason
XPASS tests/test_self.py::TestRunTC::test_out[c] d] old-style reason
============================== 1 passed in 0.01s ===============================
"""
    assert parse_pytest(log) == {
        "tests/test_self.py::TestRunTC::test_out[text-unused_variable.py:4:4: [W0612(unused-variable), ] Unused]": "PASSED",
        "tests/test_self.py::TestRunTC::test_out[json-x: [warning] y]": "FAILED",
        "tests/test_self.py::TestRunTC::test_out[a] b]": "XFAIL",
        "tests/test_self.py::TestRunTC::test_out[c]": "XPASS",  # no " - ": the first "]" before a space
    }


def test_django_skip_reason_holding_dots_keeps_the_test():
    log = (
        "test_needs_db (forms_tests.tests.T) ... skipped 'Database has feature(s) a ... or b'\n"
        "test_widget (forms_tests.tests.T) ... skipped 'needs x ... y'\n"
        "ok\n"  # a bare result word: no test is running, nothing may claim it
    )
    assert get_log_parser("parse_log_django")(log) == {
        "test_needs_db (forms_tests.tests.T)": "SKIPPED",
        "test_widget (forms_tests.tests.T)": "SKIPPED",
    }
