"""grade(): the SWE-bench verdict rules (v5 where v4 and v5 differ)."""

from evalharness.scorers.grading import Grade, grade


def test_all_pass_resolves():
    g = grade({"t::a": "PASSED", "t::b": "PASSED", "t::c": "PASSED"}, ["t::a"], ["t::b", "t::c"])
    assert g == Grade(True, 1, 1, 2, 2, [], [])


def test_xfail_passes_in_both_lists():
    g = grade({"t::a": "XFAIL", "t::b": "XFAIL"}, ["t::a"], ["t::b"])
    assert g.resolved and g.f2p_passed == 1 and g.p2p_passed == 1


def test_failed_error_and_missing_fail():
    statuses = {"t::f": "FAILED", "t::e": "ERROR", "t::ok": "PASSED"}
    g = grade(statuses, ["t::f", "t::ok"], ["t::e", "t::missing", "t::ok"])
    assert not g.resolved
    assert (g.f2p_passed, g.f2p_total, g.f2p_failed) == (1, 2, ["t::f"])
    assert (g.p2p_passed, g.p2p_total, g.p2p_failed) == (1, 3, ["t::e", "t::missing"])


def test_one_failing_p2p_blocks_resolution():
    g = grade({"t::a": "PASSED", "t::b": "FAILED"}, ["t::a"], ["t::b"])
    assert not g.resolved and g.f2p_failed == [] and g.p2p_failed == ["t::b"]


def test_skipped_f2p_fails_skipped_p2p_is_fine():
    g = grade({"t::a": "SKIPPED", "t::b": "PASSED"}, ["t::a"], ["t::b"])
    assert not g.resolved and g.f2p_failed == ["t::a"]
    g = grade({"t::a": "PASSED", "t::b": "SKIPPED"}, ["t::a"], ["t::b"])
    assert g.resolved and g.p2p_passed == 1 and g.p2p_failed == []


def test_xpass_fails():
    # Unrecognised by the official parsers (= missing there): a fail in both lists.
    assert not grade({"t::a": "XPASS"}, ["t::a"], []).resolved
    g = grade({"t::a": "PASSED", "t::b": "XPASS"}, ["t::a"], ["t::b"])
    assert not g.resolved and g.p2p_failed == ["t::b"]


def test_unknown_status_fails():
    assert not grade({"t::a": "RERUN"}, ["t::a"], []).resolved


def test_empty_p2p_counts_as_passing():
    g = grade({"t::a": "PASSED"}, ["t::a"], [])
    assert g.resolved and (g.p2p_passed, g.p2p_total) == (0, 0)


def test_empty_f2p_counts_as_passing():
    g = grade({"t::b": "PASSED"}, [], ["t::b"])
    assert g.resolved and (g.f2p_passed, g.f2p_total) == (0, 0)


def test_both_lists_empty_is_not_resolvable():
    g = grade({"t::a": "PASSED"}, [], [])
    assert g == Grade(False, 0, 0, 0, 0, [], [])


def test_no_statuses_at_all():
    g = grade({}, ["t::a"], ["t::b"])
    assert not g.resolved and g.f2p_failed == ["t::a"] and g.p2p_failed == ["t::b"]


def test_ids_truncated_at_first_space_match_full_ids():
    statuses = {"t.py::test_f[a b]": "PASSED", "t.py::test_g[x y]": "PASSED", "t.py::test_g[x z]": "FAILED"}
    # exact ids first
    assert grade(statuses, ["t.py::test_f[a b]"], []).resolved
    # a dataset id cut at the first space, as the official parser made them
    assert grade(statuses, ["t.py::test_f[a"], []).resolved
    # ambiguous truncation: passes only if every test it may stand for passes
    g = grade(statuses, ["t.py::test_g[x"], [])
    assert not g.resolved and g.f2p_failed == ["t.py::test_g[x"]


def test_inputs_may_be_tuples_and_duplicates_count():
    g = grade({"t::a": "PASSED"}, ("t::a", "t::a"), ())
    assert g.resolved and g.f2p_total == 2 and g.f2p_passed == 2
