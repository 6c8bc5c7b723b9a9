#!/usr/bin/env python3
"""Regenerate tasks/swebench_specs.toml: how to build and test the 12 SWE-bench repos.

    python tools/make_swebench_specs.py            # write tasks/swebench_specs.toml
    python tools/make_swebench_specs.py --check    # exit 1 if the file is out of date

One entry per (repo, version) of SWE-bench Verified and Lite. The data below are
facts published by SWE-bench (github.com/SWE-bench/SWE-bench), translated from its
conda environments to a pip virtual environment on Debian:

* Python version, install / pre_install / eval commands and test command: the harness
  constants (MAP_REPO_VERSION_TO_SPECS, swebench/harness/constants/python.py, v4.1)
  and the eval scripts the Verified and Lite datasets carry, which a test checks
  this file against command for command.
* pip pins: the conda environments exported from the official evaluation images
  (swebench/resources/swebench-og/<repo>/<number>/environment.yml, one per Verified
  instance). Per (repo, version) we take the environment most of its instances share
  (they differ only where images were built on different days); its pip section as
  is, and its conda packages that are Python distributions under their PyPI names
  (matplotlib-base -> matplotlib, python-tzdata -> tzdata, ...). Conda packages that
  are C libraries or programs become Debian packages in `apt` where the tests use
  them; compilers and headers are added where a pin or the repo itself builds from
  source. The repo's own package is never pinned: `install` builds it from the
  checkout, and pip then moves any pin the checkout's requirements exclude.
* Not carried over: GUI toolkit bindings (PyQt5, sip, wxPython, PyGObject; their
  backend tests skip without a display either way), conda-only packages with no
  PyPI distribution (xarray's cdms2, cdat_info, cdtime, libcf, distarray, esmpy), and
  the few pins pip cannot install next to SWE-bench's own (see xarray below).
* Lite-only versions (no exported environment) take the environment of the nearest
  Verified version of the same repo, with the pins SWE-bench lists for them, as each
  entry notes.

Commands run in /testbed with the environment's python first on PATH: `python -m pip`
is the venv's pip, as `python` was the conda env's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "tasks" / "swebench_specs.toml"
TIMEOUT = 1800  # seconds, the official harness's default per instance

PYTEST = "pytest -rA"
# pylint's tests marked needs_two_cores in the Verified versions (2.14-3.0), as test-id patterns.
PYLINT_TWO_CORES = [
    "tests/benchmark/test_baseline_benchmarks.py::*_j2*",
    "tests/lint/unittest_lint.py::test_custom_should_analyze_file",
    "tests/lint/unittest_lint.py::test_multiprocessing*",
    "tests/test_check_parallel.py::*::test_worker_initialize_pickling",
    "tests/test_check_parallel.py::*::test_cyclic_import_parallel*",
    "tests/test_self.py::*::test_jobs_score",
    "tests/test_similar.py::*::test_duplicate_code_parallel",
]
DJANGO = "./tests/runtests.py --verbosity 2 --settings=test_sqlite --parallel 1"
SYMPY = "PYTHONWARNINGS='ignore::UserWarning,ignore::SyntaxWarning' bin/test -C --verbose"
SPHINX = "tox --current-env -epy39 -v --"
PIP_E = "python -m pip install -e ."
BUILD = ["build-essential", "pkg-config"]  # C/C++ compilers for repos and pins built from source

# Locale setup: SWE-bench's images have every locale; Debian generates the one asked for.
DJANGO_LOCALE_EXPORTS = [
    "export LANG=en_US.UTF-8",
    "export LC_ALL=en_US.UTF-8",
    "export PYTHONIOENCODING=utf8",
    "export LANGUAGE=en_US:en",
]
DJANGO_3_EVAL = [
    "sed -i '/en_US.UTF-8/s/^# //g' /etc/locale.gen && locale-gen",
    "export LANG=en_US.UTF-8",
    "export LANGUAGE=en_US:en",
    "export LC_ALL=en_US.UTF-8",
]
# qhull sources where matplotlib's build looks for them (one command: each is a RUN).
QHULL = (
    "mkdir -p build && wget -q -O /tmp/qhull-2020-src-8.0.2.tgz "
    "http://www.qhull.org/download/qhull-2020-src-8.0.2.tgz && "
    "tar -xzf /tmp/qhull-2020-src-8.0.2.tgz -C build"
)
TEX = ["texlive", "texlive-latex-extra", "texlive-fonts-recommended", "texlive-xetex", "texlive-luatex", "cm-super"]
SPHINX_PYTEST_RA = "sed -i 's/pytest/pytest -rA/' tox.ini"
# sphinx 3.4+ run their tests through tox-current-env, which links .tox/py39/bin/python to the
# running interpreter; a link to a venv's python starts outside the venv (no pytest). Small
# scripts that exec the venv's python keep it (.tox is git-ignored there: the tree stays clean).
SPHINX_INSTALL_TOX = [
    "python -m pip install -e .[test]",
    "mkdir -p .tox/py39/bin && for n in python python3 python3.9; do printf '#!/bin/sh\\nexec %s \"$@\"\\n' "
    "\"$(command -v python)\" > .tox/py39/bin/$n && chmod +x .tox/py39/bin/$n; done",
]
SPHINX_3 = [  # sphinx 3.0-4.3: cap dependencies that dropped support for them
    SPHINX_PYTEST_RA,
    "sed -i 's/Jinja2>=2.3/Jinja2<3.0/' setup.py",
    "sed -i 's/sphinxcontrib-applehelp/sphinxcontrib-applehelp<=1.0.7/' setup.py",
    "sed -i 's/sphinxcontrib-devhelp/sphinxcontrib-devhelp<=1.0.5/' setup.py",
    "sed -i 's/sphinxcontrib-qthelp/sphinxcontrib-qthelp<=1.0.6/' setup.py",
    "sed -i 's/alabaster>=0.7,<0.8/alabaster>=0.7,<0.7.12/' setup.py",
    "sed -i \"s/'packaging',/'packaging', 'markupsafe<=2.0.1',/\" setup.py",
]
SPHINX_HELP_CAPS = [
    "sed -i 's/sphinxcontrib-htmlhelp/sphinxcontrib-htmlhelp<=2.0.4/' setup.py",
    "sed -i 's/sphinxcontrib-serializinghtml/sphinxcontrib-serializinghtml<=1.1.9/' setup.py",
]
SPHINX_HELP_CAPS_41 = [
    "grep -q 'sphinxcontrib-htmlhelp>=2.0.0' setup.py && "
    "sed -i 's/sphinxcontrib-htmlhelp>=2.0.0/sphinxcontrib-htmlhelp>=2.0.0,<=2.0.4/' setup.py || "
    "sed -i 's/sphinxcontrib-htmlhelp/sphinxcontrib-htmlhelp<=2.0.4/' setup.py",
    "grep -q 'sphinxcontrib-serializinghtml>=1.1.5' setup.py && "
    "sed -i 's/sphinxcontrib-serializinghtml>=1.1.5/sphinxcontrib-serializinghtml>=1.1.5,<=1.1.9/' setup.py || "
    "sed -i 's/sphinxcontrib-serializinghtml/sphinxcontrib-serializinghtml<=1.1.9/' setup.py",
]
SPHINX_HELP_CAPS_42 = [
    "sed -i 's/sphinxcontrib-htmlhelp>=2.0.0/sphinxcontrib-htmlhelp>=2.0.0,<=2.0.4/' setup.py",
    "sed -i 's/sphinxcontrib-serializinghtml>=1.1.5/sphinxcontrib-serializinghtml>=1.1.5,<=1.1.9/' setup.py",
]
ASTROPY_SETUPTOOLS = (
    "sed -i 's/requires = \\[\"setuptools\",/requires = \\[\"setuptools==68.0.0\",/' pyproject.toml"
)

# Per repo: the fields every version shares. Per version: `python`, `pins` (a key of
# PINS), optional `pin` (pins added, or replacing those of the same name), `apt_extra`,
# and any field that differs from the repo's. `unpin` (repo or version) drops pins pip
# cannot install together, leaving those packages to the resolver; `nodeps` (repo) moves
# pins to a `pip install --no-deps` run before `install`, for packages whose declared
# requirements the exported environment did not meet.
REPOS: dict[str, dict] = {
    "astropy/astropy": dict(
        log_parser="astropy", test_cmd=PYTEST, apt=BUILD,
        install=["python -m pip install -e .[test] --verbose"],
    ),
    "django/django": dict(
        log_parser="django", test_cmd=DJANGO, test_directives="django",
        # libmemcached, zlib, libffi: pylibmc, and cffi on Python 3.5, build from source
        apt=["locales", *BUILD, "libffi-dev", "libmemcached-dev", "zlib1g-dev"], install=[PIP_E],
    ),
    # ImageMagick, FFmpeg (animation writers) and TeX as SWE-bench installs them; Ghostscript
    # for the `ghostscript` pin, cairo headers for `pycairo`, wget for the qhull sources.
    "matplotlib/matplotlib": dict(
        log_parser="matplotlib", test_cmd=PYTEST, install=[PIP_E], pre_install=[QHULL],
        apt=[*BUILD, "wget", "imagemagick", "ffmpeg", "ghostscript", "libcairo2-dev"],
    ),
    "mwaskom/seaborn": dict(
        log_parser="seaborn", test_cmd="pytest --no-header -rA", install=["python -m pip install -e .[dev]"],
    ),
    "pallets/flask": dict(log_parser="flask", test_cmd=PYTEST, install=[PIP_E]),
    # Its tests send real requests to httpbin.org: a local httpbin answers under that name.
    # One test follows a redirect to a real internet host (psf__requests-2317's PASS_TO_PASS).
    "psf/requests": dict(log_parser="requests", test_cmd=PYTEST, install=["python -m pip install ."],
                         sidecars=["httpbin"],
                         host_sensitive={"network": ["test_requests.py::*::test_auth_is_stripped_on_redirect_off_host"]}),
    # ecCodes: the C library behind cfgrib (conda's eccodes); without it cfgrib's import fails.
    # The exported environment is conda's (dask 2024, distributed, dask-expr, iris,
    # pytest-env) with SWE-bench's pip pins on top (dask 2022.8.1, numpy 1.23.0, pandas
    # 1.5.3, pytest 7.4.0), which pip will not install together. SWE-bench's pins win:
    # distributed and dask-expr, which need the newer dask (so their tests skip there
    # too), are left out; packages whose metadata asks for newer versions than those
    # pins are installed without their dependencies, as they sat in that environment;
    # antlr4 is left to PyPI's cf-units, which pins 4.7.2.
    "pydata/xarray": dict(log_parser="xarray", test_cmd=PYTEST, install=[PIP_E], apt=[*BUILD, "libeccodes-dev"],
                          unpin=["antlr4-python3-runtime", "dask-expr", "distributed"],
                          nodeps=["pytest-env", "rasterio", "scitools-iris", "zarr"]),
    # Tests marked needs_two_cores skip when pylint's _query_cpu sees one CPU (on cgroup v1 it
    # reads the CFS quota, else cpu.shares: 1024 -> 1); a skipped listed test fails.
    "pylint-dev/pylint": dict(log_parser="pylint", test_cmd=PYTEST, install=[PIP_E], apt=BUILD,
                              host_sensitive={"cpus": PYLINT_TWO_CORES}),
    "pytest-dev/pytest": dict(log_parser="pytest", test_cmd=PYTEST, install=[PIP_E]),
    "scikit-learn/scikit-learn": dict(
        log_parser="scikit", test_cmd=PYTEST, apt=BUILD,
        install=["python -m pip install -v --no-use-pep517 --no-build-isolation -e ."],
    ),
    "sphinx-doc/sphinx": dict(
        log_parser="sphinx", test_cmd=SPHINX, install=["python -m pip install -e .[test]"],
        pre_install=[SPHINX_PYTEST_RA],
    ),
    "sympy/sympy": dict(log_parser="sympy", test_cmd=SYMPY, install=[PIP_E]),
}

PY39 = dict(python="3.9")
VERSIONS: dict[str, dict[str, dict]] = {
    "astropy/astropy": {
        "1.3": dict(python="3.6", pins="astropy-1.3",
                    test_cmd="pytest -rA -vv -o console_output_style=classic --tb=no"),
        # setuptools < 60: astropy 3.1 turns the DeprecationWarning newer setuptools
        # raises at collection into an error (SWE-bench pull request 605).
        "3.1": dict(python="3.9", pins="astropy-3.1", pin=["setuptools==59.8.0"]),
        **{v: dict(python="3.9", pins="astropy-4.3", pre_install=[ASTROPY_SETUPTOOLS])
           for v in ("4.3", "5.0", "5.1", "5.2")},
    },
    "django/django": {
        **{v: dict(python="3.5", pins=f"django-{v}", install=["python setup.py install"],
                   pre_install=["echo 'en_US.UTF-8 UTF-8' > /etc/locale.gen && locale-gen"],
                   eval_commands=DJANGO_LOCALE_EXPORTS) for v in ("1.11", "2.2")},
        "3.0": dict(python="3.6", pins="django-3.0", eval_commands=DJANGO_3_EVAL),
        "3.1": dict(python="3.6", pins="django-3.0", eval_commands=DJANGO_3_EVAL),
        "3.2": dict(python="3.6", pins="django-3.2", eval_commands=DJANGO_3_EVAL),
        "4.0": dict(python="3.8", pins="django-4.0"),
        "4.1": dict(python="3.9", pins="django-4.1"),
        "4.2": dict(python="3.9", pins="django-4.1"),
        "5.0": dict(python="3.11", pins="django-5.0"),
    },
    "matplotlib/matplotlib": {
        "3.0": dict(python="3.7", pins="matplotlib-3.0", apt_extra=["libfreetype6-dev"]),
        "3.1": dict(python="3.8", pins="matplotlib-3.1", apt_extra=["libfreetype6-dev", *TEX]),
        # Lite only: the environment of 3.4 (the same requirements files, Python 3.8).
        "3.3": dict(python="3.8", pins="matplotlib-3.4", apt_extra=["libfreetype6-dev", *TEX]),
        "3.4": dict(python="3.8", pins="matplotlib-3.4", apt_extra=["libfreetype6-dev", *TEX]),
        **{v: dict(python="3.11", pins=f"matplotlib-{v}", apt_extra=[*TEX, "dvipng"]) for v in ("3.5", "3.6", "3.7")},
    },
    "mwaskom/seaborn": {
        "0.12": dict(PY39, pins="seaborn-0.12"),
        # Lite only: SWE-bench lists the same pins for 0.12 and 0.13.
        "0.13": dict(PY39, pins="seaborn-0.12"),
    },
    "pallets/flask": {
        # Lite only: requirements/dev.txt at the environment commit, then SWE-bench's pins.
        "2.0": dict(PY39, pins="flask-2.0"),
        "2.3": dict(python="3.11", pins="flask-2.3"),
    },
    "psf/requests": {
        **{v: dict(PY39, pins="requests-1.1") for v in ("0.14", "1.1", "2.0", "2.3", "2.4", "2.7", "2.9", "2.10")},
        **{v: dict(PY39, pins="requests-2.26") for v in ("2.26", "2.27")},
    },  # 0.14, 2.7, 2.10: Lite only, the environment every other version shares
    "pydata/xarray": {v: dict(python="3.10", pins=f"xarray-{v}") for v in ("0.12", "2022.03", "2022.06", "2022.09")},
    "pylint-dev/pylint": {
        "2.9": dict(PY39, pins="pylint-2.9"),
        # appdirs: pylint-dev__pylint-4661's gold patch adds it to install_requires; the
        # exported environment predates it (2.9's has it), and the eval's re-install is offline.
        "2.10": dict(PY39, pins="pylint-2.10", pin=["appdirs==1.4.4"]),
        # Lite only: the environment of 2.14 with the pins of 2.13's requirements files.
        "2.13": dict(PY39, pins="pylint-2.14", pin=[
            "astroid==2.11.3", "black==22.3.0", "flake8==4.0.1", "flake8-typing-imports==1.12.0",
            "isort==5.10.1", "mypy==0.941"]),
        "2.14": dict(PY39, pins="pylint-2.14"),
        "2.15": dict(PY39, pins="pylint-2.15"),
        "3.0": dict(PY39, pins="pylint-3.0"),
    },
    "pytest-dev/pytest": {
        "4.4": dict(PY39, pins="pytest-4.4"),  # Lite only: SWE-bench's pins
        "4.5": dict(PY39, pins="pytest-4.5"),
        "4.6": dict(PY39, pins="pytest-4.6"),
        "5.0": dict(PY39, pins="pytest-5.0"),
        "5.1": dict(PY39, pins="pytest-5.1"),
        "5.2": dict(PY39, pins="pytest-5.1"),
        "5.4": dict(PY39, pins="pytest-5.4"),
        "6.0": dict(PY39, pins="pytest-6.0"),
        "6.2": dict(PY39, pins="pytest-6.2"),
        "6.3": dict(PY39, pins="pytest-6.2", pre_install=["sed -i 's/>=>=/>=/' setup.cfg"]),
        "7.0": dict(PY39, pins="pytest-7.0"),  # Lite only: SWE-bench's pins
        "7.2": dict(PY39, pins="pytest-7.2"),
        "8.0": dict(PY39, pins="pytest-8.0"),  # Lite only: SWE-bench's pins
    },
    "scikit-learn/scikit-learn": {
        "0.20": dict(python="3.6", pins="scikit-learn-0.20"),
        "0.21": dict(python="3.6", pins="scikit-learn-0.20"),
        "0.22": dict(python="3.6", pins="scikit-learn-0.22"),
        "1.3": dict(PY39, pins="scikit-learn-1.3"),
    },
    "sphinx-doc/sphinx": {
        **{v: dict(PY39, pins="sphinx-3.0", pre_install=[*SPHINX_3, *SPHINX_HELP_CAPS]) for v in ("3.0", "3.1", "3.2", "3.3")},
        **{v: dict(PY39, pins="sphinx-3.4", pre_install=[*SPHINX_3, *SPHINX_HELP_CAPS], install=SPHINX_INSTALL_TOX)
           for v in ("3.4", "3.5", "4.0")},
        "4.1": dict(PY39, pins="sphinx-4.1", pre_install=[*SPHINX_3, *SPHINX_HELP_CAPS_41], install=SPHINX_INSTALL_TOX),
        **{v: dict(PY39, pins="sphinx-4.1", pre_install=[*SPHINX_3, *SPHINX_HELP_CAPS_42], install=SPHINX_INSTALL_TOX)
           for v in ("4.2", "4.3")},
        "5.0": dict(PY39, pins="sphinx-5.0", install=SPHINX_INSTALL_TOX),
        "5.1": dict(PY39, pins="sphinx-5.0", install=SPHINX_INSTALL_TOX),
        "5.2": dict(PY39, pins="sphinx-5.2", install=SPHINX_INSTALL_TOX),
        "7.1": dict(PY39, pins="sphinx-7.1", install=SPHINX_INSTALL_TOX),
        "7.2": dict(PY39, pins="sphinx-7.1", apt_extra=["graphviz"], install=SPHINX_INSTALL_TOX),
    },
    "sympy/sympy": {
        **{v: dict(PY39, pins="sympy-1.0") for v in
           ("1.0", "1.1", "1.2", "1.4", "1.5", "1.6", "1.7", "1.8", "1.9", "1.10", "1.11", "1.12")},
        # Lite only: requirements-dev.txt at the environment commit (pins as of the
        # other sympy environments) and SWE-bench's mpmath==1.3.0.
        "1.13": dict(PY39, pins="sympy-1.0", pin=[
            "pytest==8.3.3", "pytest-xdist==3.6.1", "pytest-timeout==2.3.1", "pytest-split==0.10.0",
            "pytest-doctestplus==1.2.1", "hypothesis==6.115.0"]),
    },
}

# pip pins per environment, from SWE-bench's exported environments (see the module doc).
PINS: dict[str, str] = {
    "astropy-1.3": """
        apipkg==2.1.1 async-generator==1.10 attrs==17.3.0 certifi==2021.5.30 contextvars==2.4
        coverage==6.2 cython==0.27.3 exceptiongroup==0.0.0a0 execnet==1.5.0 hypothesis==3.44.2
        idna==3.10 immutables==0.19 jinja2==2.10 markupsafe==1.0 numpy==1.16.0 outcome==1.0.0
        packaging==16.8 pip==21.2.2 pluggy==0.6.0 psutil==5.4.2 py==1.11.0 pyerfa==1.7.0
        pyparsing==3.1.4 pytest-arraydiff==0.1 pytest-astropy-header==0.1 pytest-astropy==0.2.1
        pytest-cov==2.5.1 pytest-doctestplus==0.1.2 pytest-filter-subpackage==0.1 pytest-forked==0.2
        pytest-mock==1.6.3 pytest-openfiles==0.2.0 pytest-remotedata==0.2.0 pytest-xdist==1.20.1
        pytest==3.3.1 pyyaml==3.12 setuptools==38.2.4 six==1.16.0 sniffio==1.2.0 sortedcontainers==1.5.9
        tomli==0.2.0 trio==0.8.0 typing-extensions==4.1.1 wheel==0.37.1
    """,
    "astropy-3.1": """
        asttokens==2.4.1 attrs==23.1.0 certifi==2024.8.30 contourpy==1.3.0 coverage==7.6.2
        cycler==0.12.1 decorator==5.1.1 exceptiongroup==1.1.3 execnet==2.0.2 executing==2.1.0
        fonttools==4.54.1 hypothesis==6.82.6 importlib-resources==6.4.5 iniconfig==2.0.0 ipython==8.18.1
        jedi==0.19.1 jinja2==3.1.4 jplephem==2.22 kiwisolver==1.4.7 markupsafe==3.0.2
        matplotlib-inline==0.1.7 matplotlib==3.9.2 numpy==1.25.2 objgraph==3.6.2 packaging==23.1
        parso==0.8.4 pexpect==4.9.0 pillow==11.0.0 pip==24.2 pluggy==1.3.0 prompt-toolkit==3.0.48
        psutil==5.9.5 ptyprocess==0.7.0 pure-eval==0.2.3 pyerfa==2.0.0.3 pygments==2.18.0
        pyparsing==3.2.0 pytest-arraydiff==0.5.0 pytest-astropy-header==0.2.2 pytest-astropy==0.10.0
        pytest-cov==4.1.0 pytest-doctestplus==1.0.0 pytest-filter-subpackage==0.1.2 pytest-mock==3.11.1
        pytest-mpl==0.17.0 pytest-openfiles==0.5.0 pytest-remotedata==0.4.0 pytest-xdist==3.3.1
        pytest==7.4.0 python-dateutil==2.9.0.post0 pyyaml==6.0.1 setuptools==68.0.0 sgp4==2.23
        six==1.16.0 skyfield==1.49 sortedcontainers==2.4.0 stack-data==0.6.3 tomli==2.0.1
        traitlets==5.14.3 typing-extensions==4.12.2 wcwidth==0.2.13 wheel==0.44.0 zipp==3.20.2
    """,
    "astropy-4.3": """
        attrs==23.1.0 coverage==7.6.2 exceptiongroup==1.1.3 execnet==2.0.2 hypothesis==6.82.6
        iniconfig==2.0.0 numpy==1.25.2 packaging==23.1 pip==24.2 pluggy==1.3.0 psutil==5.9.5
        pyerfa==2.0.0.3 pytest-arraydiff==0.5.0 pytest-astropy-header==0.2.2 pytest-astropy==0.10.0
        pytest-cov==4.1.0 pytest-doctestplus==1.0.0 pytest-filter-subpackage==0.1.2 pytest-mock==3.11.1
        pytest-openfiles==0.5.0 pytest-remotedata==0.4.0 pytest-xdist==3.3.1 pytest==7.4.0 pyyaml==6.0.1
        setuptools==68.0.0 sortedcontainers==2.4.0 tomli==2.0.1 wheel==0.44.0
    """,
    "django-1.11": """
        argon2-cffi==21.1.0 bcrypt==3.1.7 certifi==2020.6.20 cffi==1.15.1 chardet==4.0.0
        docutils==0.18.1 geoip2==3.0.0 idna==2.10 jinja2==2.11.3 markupsafe==1.1.1 maxminddb==2.0.0
        numpy==1.18.5 pillow==7.2.0 pip==10.0.1 pycparser==2.21 pylibmc==1.6.1 python3-memcached==1.51
        pytz==2024.2 pyyaml==5.3.1 requests==2.25.1 selenium==3.141.0 setuptools==40.2.0 six==1.16.0
        sqlparse==0.4.4 tblib==1.7.0 urllib3==1.26.9 wheel==0.37.1
    """,
    "django-2.2": """
        argon2-cffi==21.1.0 bcrypt==3.1.7 certifi==2020.6.20 cffi==1.15.1 chardet==4.0.0
        docutils==0.18.1 geoip2==3.0.0 idna==2.10 jinja2==2.11.3 markupsafe==1.1.1 maxminddb==2.0.0
        numpy==1.18.5 pillow==7.2.0 pip==10.0.1 pycparser==2.21 pylibmc==1.6.1 python-memcached==1.62
        pytz==2024.2 pywatchman==1.4.1 pyyaml==5.3.1 requests==2.25.1 selenium==3.141.0
        setuptools==40.2.0 six==1.16.0 sqlparse==0.4.4 tblib==1.7.0 urllib3==1.26.9 wheel==0.37.1
    """,
    "django-3.0": """
        aiohttp==3.8.6 aiosignal==1.2.0 argon2-cffi-bindings==21.2.0 argon2-cffi==21.3.0 asgiref==3.4.1
        async-timeout==4.0.2 asynctest==0.13.0 attrs==22.2.0 bcrypt==4.0.1 certifi==2021.5.30
        cffi==1.15.1 charset-normalizer==2.0.12 dataclasses==0.8 docutils==0.18.1 frozenlist==1.2.0
        geoip2==4.6.0 idna-ssl==1.1.0 idna==3.10 jinja2==3.0.3 markupsafe==2.0.1 maxminddb==2.2.0
        multidict==5.2.0 numpy==1.19.5 pillow==8.4.0 pip==21.2.2 pycparser==2.21 pylibmc==1.6.3
        python-memcached==1.62 pytz==2024.2 pywatchman==1.4.1 pyyaml==6.0.1 requests==2.27.1
        selenium==3.141.0 setuptools==58.0.4 sqlparse==0.4.4 tblib==1.7.0 typing-extensions==4.1.1
        urllib3==1.26.20 wheel==0.37.1 yarl==1.7.2
    """,
    "django-3.2": """
        aiohttp==3.8.6 aiosignal==1.2.0 argon2-cffi-bindings==21.2.0 argon2-cffi==21.3.0 asgiref==3.4.1
        async-timeout==4.0.2 asynctest==0.13.0 attrs==22.2.0 backports-zoneinfo==0.2.1 bcrypt==4.0.1
        certifi==2021.5.30 cffi==1.15.1 charset-normalizer==2.0.12 dataclasses==0.8 docutils==0.18.1
        frozenlist==1.2.0 geoip2==4.6.0 idna-ssl==1.1.0 idna==3.10 importlib-resources==5.4.0
        jinja2==3.0.3 markupsafe==2.0.1 maxminddb==2.2.0 multidict==5.2.0 numpy==1.19.5 pillow==8.4.0
        pip==21.2.2 pycparser==2.21 pylibmc==1.6.3 pymemcache==3.5.2 python-memcached==1.62 pytz==2024.2
        pywatchman==1.4.1 pyyaml==6.0.1 requests==2.27.1 selenium==3.141.0 setuptools==58.0.4
        six==1.16.0 sqlparse==0.4.4 tblib==1.7.0 typing-extensions==4.1.1 tzdata==2024.2
        urllib3==1.26.20 wheel==0.37.1 yarl==1.7.2 zipp==3.6.0
    """,
    "django-4.0": """
        aiohappyeyeballs==2.4.3 aiohttp==3.10.9 aiosignal==1.3.1 argon2-cffi-bindings==21.2.0
        argon2-cffi==23.1.0 asgiref==3.8.1 async-timeout==4.0.3 attrs==24.2.0 backports-zoneinfo==0.2.1
        bcrypt==4.2.0 certifi==2024.8.30 cffi==1.17.1 charset-normalizer==3.4.0 docutils==0.20.1
        exceptiongroup==1.2.2 frozenlist==1.4.1 geoip2==4.8.0 h11==0.14.0 idna==3.10 jinja2==3.1.4
        markupsafe==2.1.5 maxminddb==2.6.2 multidict==6.1.0 numpy==1.24.4 outcome==1.3.0.post0
        pillow==10.4.0 pip==24.2 propcache==0.2.0 pycparser==2.22 pylibmc==1.6.3 pymemcache==4.0.0
        pysocks==1.7.1 python-memcached==1.62 pytz==2024.2 pywatchman==2.0.0 pyyaml==6.0.2 redis==5.1.1
        requests==2.32.3 selenium==4.25.0 setuptools==75.1.0 sniffio==1.3.1 sortedcontainers==2.4.0
        sqlparse==0.5.1 tblib==3.0.0 trio-websocket==0.11.1 trio==0.26.2 typing-extensions==4.12.2
        tzdata==2024.2 urllib3==2.2.3 websocket-client==1.8.0 wheel==0.44.0 wsproto==1.2.0 yarl==1.14.0
    """,
    "django-4.1": """
        aiohappyeyeballs==2.4.3 aiohttp==3.10.9 aiosignal==1.3.1 aiosmtpd==1.4.6
        argon2-cffi-bindings==21.2.0 argon2-cffi==23.1.0 asgiref==3.8.1 async-timeout==4.0.3
        atpublic==5.0 attrs==24.2.0 bcrypt==4.2.0 black==24.10.0 certifi==2024.8.30 cffi==1.17.1
        charset-normalizer==3.4.0 click==8.1.7 docutils==0.21.2 exceptiongroup==1.2.2 frozenlist==1.4.1
        geoip2==4.8.0 h11==0.14.0 idna==3.10 jinja2==3.1.4 markupsafe==3.0.1 maxminddb==2.6.2
        multidict==6.1.0 mypy-extensions==1.0.0 numpy==2.0.2 outcome==1.3.0.post0 packaging==24.1
        pathspec==0.12.1 pillow==10.4.0 pip==24.2 platformdirs==4.3.6 propcache==0.2.0 pycparser==2.22
        pylibmc==1.6.3 pymemcache==4.0.0 pysocks==1.7.1 pytz==2024.2 pywatchman==2.0.0 pyyaml==6.0.2
        redis==5.1.1 requests==2.32.3 selenium==4.25.0 setuptools==75.1.0 sniffio==1.3.1
        sortedcontainers==2.4.0 sqlparse==0.5.1 tblib==3.0.0 tomli==2.0.2 trio-websocket==0.11.1
        trio==0.26.2 typing-extensions==4.12.2 tzdata==2024.2 urllib3==2.2.3 websocket-client==1.8.0
        wheel==0.44.0 wsproto==1.2.0 yarl==1.14.0
    """,
    "django-5.0": """
        aiohappyeyeballs==2.4.3 aiohttp==3.10.9 aiosignal==1.3.1 aiosmtpd==1.4.6
        argon2-cffi-bindings==21.2.0 argon2-cffi==23.1.0 asgiref==3.8.1 atpublic==5.0 attrs==24.2.0
        bcrypt==4.2.0 black==24.10.0 certifi==2024.8.30 cffi==1.17.1 charset-normalizer==3.4.0
        click==8.1.7 docutils==0.21.2 frozenlist==1.4.1 geoip2==4.8.0 h11==0.14.0 idna==3.10
        jinja2==3.1.4 markupsafe==3.0.1 maxminddb==2.6.2 multidict==6.1.0 mypy-extensions==1.0.0
        numpy==2.1.2 outcome==1.3.0.post0 packaging==24.1 pathspec==0.12.1 pillow==10.4.0 pip==24.2
        platformdirs==4.3.6 propcache==0.2.0 pycparser==2.22 pylibmc==1.6.3 pymemcache==4.0.0
        pysocks==1.7.1 pywatchman==2.0.0 pyyaml==6.0.2 redis==5.1.1 requests==2.32.3 selenium==4.25.0
        setuptools==75.1.0 sniffio==1.3.1 sortedcontainers==2.4.0 sqlparse==0.5.1 tblib==3.0.0
        trio-websocket==0.11.1 trio==0.26.2 typing-extensions==4.12.2 tzdata==2024.2 urllib3==2.2.3
        websocket-client==1.8.0 wheel==0.44.0 wsproto==1.2.0 yarl==1.14.0
    """,
    "matplotlib-3.0": """
        cachetools==5.5.2 certifi==2022.12.7 chardet==5.2.0 charset-normalizer==3.4.1 codecov==2.1.13
        colorama==0.4.6 coverage==7.2.7 cycler==0.11.0 distlib==0.3.9 exceptiongroup==1.2.2
        execnet==2.0.2 filelock==3.12.2 idna==3.10 importlib-metadata==6.7.0 iniconfig==2.0.0
        kiwisolver==1.4.5 numpy==1.21.6 packaging==24.0 pillow==9.5.0 pip==22.3.1 platformdirs==4.0.0
        pluggy==1.2.0 pyparsing==3.1.4 pyproject-api==1.5.3 pytest-cov==4.1.0 pytest-faulthandler==2.0.1
        pytest-rerunfailures==13.0 pytest-timeout==2.3.1 pytest-xdist==3.5.0 pytest==7.4.4
        python-dateutil==2.9.0.post0 requests==2.31.0 setuptools==65.6.3 six==1.17.0 tomli==2.0.1
        tornado==6.2 tox==4.8.0 typing-extensions==4.7.1 urllib3==2.0.7 virtualenv==20.26.6
        wheel==0.38.4 zipp==3.15.0
    """,
    "matplotlib-3.1": """
        asttokens==3.0.0 backcall==0.2.0 coverage==7.6.1 cycler==0.12.1 decorator==5.2.1
        exceptiongroup==1.2.2 execnet==2.1.1 executing==2.2.0 iniconfig==2.0.0 ipython==8.12.3
        jedi==0.19.2 kiwisolver==1.4.7 numpy==1.24.4 packaging==24.2 parso==0.8.4 pexpect==4.9.0
        pickleshare==0.7.5 pip==24.2 pluggy==1.5.0 prompt-toolkit==3.0.50 ptyprocess==0.7.0
        pure-eval==0.2.3 pygments==2.19.1 pyparsing==3.1.4 pytest-cov==5.0.0 pytest-rerunfailures==14.0
        pytest-timeout==2.3.1 pytest-xdist==3.6.1 pytest==8.3.4 python-dateutil==2.9.0.post0
        setuptools==75.1.0 six==1.17.0 stack-data==0.6.3 tomli==2.2.1 tornado==6.4.2 traitlets==5.14.3
        typing-extensions==4.12.2 wcwidth==0.2.13 wheel==0.44.0
    """,
    "matplotlib-3.4": """
        accessible-pygments==0.0.4 alabaster==0.7.13 asttokens==3.0.0 attrs==25.1.0 babel==2.17.0
        backcall==0.2.0 beautifulsoup4==4.13.3 bleach==6.1.0 certifi==2025.1.31
        charset-normalizer==3.4.1 colorspacious==1.1.2 comm==0.2.2 contourpy==1.1.1 coverage==7.6.1
        cycler==0.12.1 debugpy==1.8.12 decorator==5.2.1 defusedxml==0.7.1 deprecated==1.2.18
        docutils==0.17.1 exceptiongroup==1.2.2 execnet==2.1.1 executing==2.2.0 fastjsonschema==2.21.1
        flake8-docstrings==1.7.0 flake8==7.1.2 fonttools==4.56.0 idna==3.10 imagesize==1.4.1
        importlib-metadata==8.5.0 importlib-resources==6.4.5 iniconfig==2.0.0 ipykernel==6.29.5
        ipython==8.12.3 ipywidgets==8.1.5 jedi==0.19.2 jinja2==3.1.5
        jsonschema-specifications==2023.12.1 jsonschema==4.23.0 jupyter-client==8.6.3
        jupyter-core==5.7.2 jupyterlab-pygments==0.3.0 jupyterlab-widgets==3.0.13 kiwisolver==1.4.7
        lxml==5.3.1 markupsafe==2.1.5 mccabe==0.7.0 mistune==3.1.2 mpl-sphinx-theme==3.9.0
        nbclient==0.10.1 nbconvert==7.16.6 nbformat==5.10.4 nest-asyncio==1.6.0 numpy==1.24.4
        numpydoc==1.5.0 packaging==24.2 pandas==2.0.3 pandocfilters==1.5.1 parso==0.8.4 pexpect==4.9.0
        pickleshare==0.7.5 pikepdf==9.2.1 pillow==10.4.0 pip==24.2 pkgutil-resolve-name==1.3.10
        platformdirs==4.3.6 pluggy==1.5.0 prompt-toolkit==3.0.50 psutil==7.0.0 ptyprocess==0.7.0
        pure-eval==0.2.3 pycodestyle==2.12.1 pydata-sphinx-theme==0.13.3 pydocstyle==6.3.0
        pyflakes==3.2.0 pygments==2.19.1 pyparsing==2.4.7 pytest-cov==5.0.0 pytest-rerunfailures==14.0
        pytest-timeout==2.3.1 pytest-xdist==3.6.1 pytest==8.3.4 python-dateutil==2.9.0.post0
        pytz==2025.1 pyzmq==26.2.1 referencing==0.35.1 requests==2.32.3 rpds-py==0.20.1 scipy==1.10.1
        setuptools-scm==8.2.0 setuptools==75.1.0 six==1.17.0 snowballstemmer==2.2.0 soupsieve==2.6
        sphinx-copybutton==0.5.2 sphinx-gallery==0.16.0 sphinx-panels==0.6.0 sphinx==4.2.0
        sphinxcontrib-applehelp==1.0.4 sphinxcontrib-devhelp==1.0.2 sphinxcontrib-htmlhelp==2.0.1
        sphinxcontrib-jsmath==1.0.1 sphinxcontrib-qthelp==1.0.3 sphinxcontrib-serializinghtml==1.1.5
        sphinxcontrib-svg2pdfconverter==1.2.3 stack-data==0.6.3 tinycss2==1.2.1 tomli==2.2.1
        tornado==6.4.2 traitlets==5.14.3 typing-extensions==4.12.2 tzdata==2025.1 urllib3==2.2.3
        wcwidth==0.2.13 webencodings==0.5.1 wheel==0.44.0 widgetsnbextension==4.0.13 wrapt==1.17.2
        zipp==3.20.2
    """,
    "matplotlib-3.5": """
        accessible-pygments==0.0.5 alabaster==1.0.0 asttokens==3.0.0 attrs==25.1.0 babel==2.17.0
        beautifulsoup4==4.13.3 bleach==6.2.0 bottleneck==1.4.2 brotli==1.0.9 cairocffi==1.7.1
        certifi==2025.1.31 cffi==1.17.1 cfgv==3.3.1 charset-normalizer==3.4.1 colorama==0.4.6
        colorspacious==1.1.2 comm==0.2.2 contourpy==1.1.0 coverage==7.6.9 cycler==0.11.0 debugpy==1.8.11
        decorator==5.2.1 defusedxml==0.7.1 deprecation==2.1.0 distlib==0.3.9 docutils==0.21.2
        exceptiongroup==1.2.2 execnet==2.1.1 executing==2.1.0 fastjsonschema==2.21.1 filelock==3.17.0
        flake8-docstrings==1.7.0 flake8==7.1.2 fonttools==4.42.1 ghostscript==0.7 h2==4.2.0 hpack==4.1.0
        hyperframe==6.1.0 identify==2.6.8 idna==3.10 imagesize==1.4.1 importlib-metadata==8.6.1
        importlib-resources==6.5.2 iniconfig==2.0.0 ipykernel==6.29.5 ipython==8.32.0 ipywidgets==8.1.5
        jedi==0.19.2 jinja2==3.1.5 jsonschema-specifications==2024.10.1 jsonschema==4.23.0
        jupyter-client==8.6.3 jupyter-core==5.7.2 jupyterlab-pygments==0.3.0 jupyterlab-widgets==3.0.13
        kiwisolver==1.4.5 lxml==5.3.1 markupsafe==3.0.2 mccabe==0.7.0 mistune==3.1.2 munkres==1.1.4
        nbclient==0.10.2 nbconvert==7.16.6 nbformat==5.10.4 nest-asyncio==1.6.0 nodeenv==1.9.1
        numexpr==2.10.1 numpy==1.25.2 numpydoc==1.8.0 packaging==23.1 pandas==2.2.3 pandocfilters==1.5.0
        parso==0.8.4 pexpect==4.9.0 pickleshare==0.7.5 pikepdf==8.4.1 pillow==10.0.0 pip==25.0
        pkgutil-resolve-name==1.3.10 platformdirs==4.3.6 pluggy==1.5.0 ply==3.11 pre-commit==4.1.0
        prompt-toolkit==3.0.50 psutil==5.9.0 ptyprocess==0.7.0 pure-eval==0.2.3 pycairo==1.23.0
        pycodestyle==2.12.1 pycparser==2.22 pydata-sphinx-theme==0.16.1 pydocstyle==6.3.0
        pyflakes==3.2.0 pygments==2.19.1 pyparsing==3.0.9 pysocks==1.7.1 pytest-cov==6.0.0
        pytest-rerunfailures==15.0 pytest-timeout==2.3.1 pytest-xdist==3.6.1 pytest==8.3.4
        python-dateutil==2.8.2 pytz==2024.1 pyyaml==6.0.2 pyzmq==26.2.0 referencing==0.36.2
        requests==2.32.3 roman-numerals-py==3.1.0 rpds-py==0.22.3 setuptools-scm==7.1.0
        setuptools==68.1.2 six==1.16.0 snowballstemmer==2.2.0 soupsieve==2.5 sphinx-copybutton==0.5.2
        sphinx-design==0.6.1 sphinx-gallery==0.19.0 sphinx==8.2.1 sphinxcontrib-applehelp==2.0.0
        sphinxcontrib-devhelp==2.0.0 sphinxcontrib-htmlhelp==2.1.0 sphinxcontrib-jsmath==1.0.1
        sphinxcontrib-qthelp==2.0.0 sphinxcontrib-serializinghtml==1.1.10 stack-data==0.6.3
        tabulate==0.9.0 tinycss2==1.4.0 toml==0.10.2 tomli==2.2.1 tornado==6.4.2 traitlets==5.14.3
        typing-extensions==4.7.1 tzdata==2025.1 ukkonen==1.0.1 unicodedata2==15.1.0 urllib3==2.3.0
        virtualenv==20.29.2 wcwidth==0.2.13 webencodings==0.5.1 wheel==0.45.1 widgetsnbextension==4.0.13
        zipp==3.21.0 zstandard==0.23.0
    """,
    "matplotlib-3.6": """
        accessible-pygments==0.0.5 alabaster==1.0.0 asttokens==3.0.0 attrs==25.1.0 babel==2.17.0
        beautifulsoup4==4.13.3 bleach==6.2.0 bottleneck==1.4.2 brotli==1.0.9 cairocffi==1.7.1
        certifi==2025.1.31 cffi==1.17.1 cfgv==3.3.1 charset-normalizer==3.4.1 colorama==0.4.6
        colorspacious==1.1.2 comm==0.2.2 contourpy==1.1.0 coverage==7.6.9 cycler==0.11.0 debugpy==1.8.11
        decorator==5.2.1 defusedxml==0.7.1 deprecation==2.1.0 distlib==0.3.9 docutils==0.21.2
        exceptiongroup==1.2.2 execnet==2.1.1 executing==2.1.0 fastjsonschema==2.21.1 filelock==3.17.0
        flake8-docstrings==1.7.0 flake8==7.1.2 fonttools==4.42.1 ghostscript==0.7 h2==4.2.0 hpack==4.1.0
        hyperframe==6.1.0 identify==2.6.8 idna==3.10 imagesize==1.4.1 importlib-metadata==8.6.1
        importlib-resources==6.5.2 iniconfig==2.0.0 ipykernel==6.29.5 ipython==8.32.0 ipywidgets==8.1.5
        jedi==0.19.2 jinja2==3.1.5 jsonschema-specifications==2024.10.1 jsonschema==4.23.0
        jupyter-client==8.6.3 jupyter-core==5.7.2 jupyterlab-pygments==0.3.0 jupyterlab-widgets==3.0.13
        kiwisolver==1.4.5 lxml==5.3.1 markupsafe==3.0.2 mccabe==0.7.0 mistune==3.1.2 munkres==1.1.4
        nbclient==0.10.2 nbconvert==7.16.6 nbformat==5.10.4 nest-asyncio==1.6.0 nodeenv==1.9.1
        numexpr==2.10.1 numpy==1.25.2 numpydoc==1.8.0 packaging==23.1 pandas==2.2.3 pandocfilters==1.5.0
        parso==0.8.4 pexpect==4.9.0 pickleshare==0.7.5 pikepdf==8.4.1 pillow==10.0.0 pip==25.0
        pkgutil-resolve-name==1.3.10 platformdirs==4.3.6 pluggy==1.5.0 ply==3.11 pre-commit==4.1.0
        prompt-toolkit==3.0.50 psutil==5.9.0 ptyprocess==0.7.0 pure-eval==0.2.3 pybind11-global==2.13.6
        pybind11==2.13.6 pycairo==1.23.0 pycodestyle==2.12.1 pycparser==2.22 pydata-sphinx-theme==0.16.1
        pydocstyle==6.3.0 pyflakes==3.2.0 pygments==2.19.1 pyparsing==3.0.9 pysocks==1.7.1
        pytest-cov==6.0.0 pytest-rerunfailures==15.0 pytest-timeout==2.3.1 pytest-xdist==3.6.1
        pytest==8.3.4 python-dateutil==2.8.2 pytz==2024.1 pyyaml==6.0.2 pyzmq==26.2.0
        referencing==0.36.2 requests==2.32.3 roman-numerals-py==3.1.0 rpds-py==0.22.3
        setuptools-scm==7.1.0 setuptools==68.1.2 six==1.16.0 snowballstemmer==2.2.0 soupsieve==2.5
        sphinx-copybutton==0.5.2 sphinx-design==0.6.1 sphinx-gallery==0.19.0 sphinx==8.2.1
        sphinxcontrib-applehelp==2.0.0 sphinxcontrib-devhelp==2.0.0 sphinxcontrib-htmlhelp==2.1.0
        sphinxcontrib-jsmath==1.0.1 sphinxcontrib-qthelp==2.0.0 sphinxcontrib-serializinghtml==1.1.10
        stack-data==0.6.3 tabulate==0.9.0 tinycss2==1.4.0 toml==0.10.2 tomli==2.2.1 tornado==6.4.2
        traitlets==5.14.3 typing-extensions==4.7.1 tzdata==2025.1 ukkonen==1.0.1 unicodedata2==15.1.0
        urllib3==2.3.0 virtualenv==20.29.2 wcwidth==0.2.13 webencodings==0.5.1 wheel==0.45.1
        widgetsnbextension==4.0.13 zipp==3.21.0 zstandard==0.23.0
    """,
    "matplotlib-3.7": """
        accessible-pygments==0.0.5 alabaster==1.0.0 asttokens==3.0.0 attrs==25.1.0 babel==2.17.0
        beautifulsoup4==4.13.3 black==24.10.0 bleach==6.2.0 bottleneck==1.4.2 brotli==1.0.9
        cairocffi==1.7.1 certifi==2025.1.31 cffi==1.17.1 cfgv==3.3.1 charset-normalizer==3.4.1
        click==8.1.8 colorama==0.4.6 colorspacious==1.1.2 comm==0.2.2 contourpy==1.1.0 coverage==7.6.9
        cycler==0.11.0 debugpy==1.8.11 decorator==5.2.1 defusedxml==0.7.1 deprecation==2.1.0
        distlib==0.3.9 docutils==0.21.2 exceptiongroup==1.2.2 execnet==2.1.1 executing==2.1.0
        fastjsonschema==2.21.1 filelock==3.17.0 flake8-docstrings==1.7.0 flake8==7.1.2 fonttools==4.42.1
        ghostscript==0.7 h2==4.2.0 hpack==4.1.0 hyperframe==6.1.0 identify==2.6.8 idna==3.10
        imagesize==1.4.1 importlib-metadata==8.6.1 importlib-resources==6.5.2 iniconfig==2.0.0
        ipykernel==6.29.5 ipython==8.32.0 ipywidgets==8.1.5 jedi==0.19.2 jinja2==3.1.5
        jsonschema-specifications==2024.10.1 jsonschema==4.23.0 jupyter-client==8.6.3
        jupyter-core==5.7.2 jupyterlab-pygments==0.3.0 jupyterlab-widgets==3.0.13 kiwisolver==1.4.5
        lxml==5.3.1 markupsafe==3.0.2 mccabe==0.7.0 mistune==3.1.2 munkres==1.1.4 mypy-extensions==1.0.0
        nbclient==0.10.2 nbconvert==7.16.6 nbformat==5.10.4 nest-asyncio==1.6.0 nodeenv==1.9.1
        numexpr==2.10.1 numpy==1.25.2 numpydoc==1.8.0 packaging==23.1 pandas==2.2.3 pandocfilters==1.5.0
        parso==0.8.4 pathspec==0.12.1 pexpect==4.9.0 pickleshare==0.7.5 pikepdf==8.4.1 pillow==10.0.0
        pip==25.0 pkgutil-resolve-name==1.3.10 platformdirs==4.3.6 pluggy==1.5.0 ply==3.11
        pre-commit==4.1.0 prompt-toolkit==3.0.50 psutil==5.9.0 ptyprocess==0.7.0 pure-eval==0.2.3
        pybind11-global==2.13.6 pybind11==2.13.6 pycairo==1.23.0 pycodestyle==2.12.1 pycparser==2.22
        pydata-sphinx-theme==0.16.1 pydocstyle==6.3.0 pyflakes==3.2.0 pygments==2.19.1 pyparsing==3.0.9
        pysocks==1.7.1 pytest-cov==6.0.0 pytest-rerunfailures==15.0 pytest-timeout==2.3.1
        pytest-xdist==3.6.1 pytest==8.3.4 python-dateutil==2.8.2 pytz==2024.1 pyyaml==6.0.2
        pyzmq==26.2.0 referencing==0.36.2 requests==2.32.3 roman-numerals-py==3.1.0 rpds-py==0.22.3
        setuptools-scm==7.1.0 setuptools==68.1.2 six==1.16.0 snowballstemmer==2.2.0 soupsieve==2.5
        sphinx-copybutton==0.5.2 sphinx-design==0.6.1 sphinx-gallery==0.19.0 sphinx==8.2.1
        sphinxcontrib-applehelp==2.0.0 sphinxcontrib-devhelp==2.0.0 sphinxcontrib-htmlhelp==2.1.0
        sphinxcontrib-jsmath==1.0.1 sphinxcontrib-qthelp==2.0.0 sphinxcontrib-serializinghtml==1.1.10
        stack-data==0.6.3 tabulate==0.9.0 tinycss2==1.4.0 toml==0.10.2 tomli==2.2.1 tornado==6.4.2
        traitlets==5.14.3 typing-extensions==4.7.1 tzdata==2025.1 ukkonen==1.0.1 unicodedata2==15.1.0
        urllib3==2.3.0 virtualenv==20.29.2 wcwidth==0.2.13 webencodings==0.5.1 wheel==0.45.1
        widgetsnbextension==4.0.13 zipp==3.21.0 zstandard==0.23.0
    """,
    "seaborn-0.12": """
        cfgv==3.4.0 contourpy==1.1.0 coverage==7.6.4 cycler==0.11.0 distlib==0.3.9 exceptiongroup==1.2.2
        execnet==2.1.1 filelock==3.16.1 flake8==7.1.1 fonttools==4.42.1 identify==2.6.1
        importlib-resources==6.0.1 iniconfig==2.0.0 kiwisolver==1.4.5 matplotlib==3.7.2 mccabe==0.7.0
        mypy-extensions==1.0.0 mypy==1.13.0 nodeenv==1.9.1 numpy==1.25.2 packaging==23.1
        pandas-stubs==2.2.2.240807 pandas==2.0.0 pillow==10.0.0 pip==24.2 platformdirs==4.3.6
        pluggy==1.5.0 pre-commit==4.0.1 pycodestyle==2.12.1 pyflakes==3.2.0 pyparsing==3.0.9
        pytest-cov==5.0.0 pytest-xdist==3.6.1 pytest==8.3.3 python-dateutil==2.8.2 pytz==2023.3.post1
        pyyaml==6.0.2 scipy==1.11.2 setuptools==75.1.0 six==1.16.0 tomli==2.0.2
        types-pytz==2024.2.0.20241003 typing-extensions==4.12.2 tzdata==2023.1 virtualenv==20.27.0
        wheel==0.44.0 zipp==3.16.2
    """,
    "flask-2.3": """
        alabaster==0.7.13 asgiref==3.6.0 babel==2.12.1 build==0.10.0 cachetools==5.3.0
        certifi==2022.12.7 cffi==1.15.1 cfgv==3.3.1 chardet==5.1.0 charset-normalizer==3.1.0
        click==8.1.3 colorama==0.4.6 cryptography==40.0.1 distlib==0.3.6 docutils==0.17.1
        filelock==3.11.0 identify==2.5.22 idna==3.4 imagesize==1.4.1 iniconfig==2.0.0
        itsdangerous==2.1.2 jinja2==3.1.2 markupsafe==2.1.1 mypy-extensions==1.0.0 mypy==1.2.0
        nodeenv==1.7.0 packaging==23.0 pallets-sphinx-themes==2.0.3 pip-compile-multi==2.6.2
        pip-tools==6.13.0 pip==24.2 platformdirs==3.2.0 pluggy==1.0.0 pre-commit==3.2.2 pycparser==2.21
        pygments==2.15.0 pyproject-api==1.5.1 pyproject-hooks==1.0.0 pytest==7.3.0 python-dotenv==1.0.0
        pyyaml==6.0 requests==2.28.2 setuptools==75.1.0 snowballstemmer==2.2.0 sphinx-issues==3.0.1
        sphinx-tabs==3.3.1 sphinx==4.5.0 sphinxcontrib-applehelp==1.0.4 sphinxcontrib-devhelp==1.0.2
        sphinxcontrib-htmlhelp==2.0.1 sphinxcontrib-jsmath==1.0.1 sphinxcontrib-log-cabinet==1.0.1
        sphinxcontrib-qthelp==1.0.3 sphinxcontrib-serializinghtml==1.1.5 toposort==1.10 tox==4.4.11
        types-contextvars==2.4.7.2 types-dataclasses==0.6.6 types-setuptools==67.6.0.7
        typing-extensions==4.5.0 urllib3==1.26.15 virtualenv==20.21.0 werkzeug==2.3.7 wheel==0.40.0
    """,
    "requests-1.1": """
        exceptiongroup==1.2.0 iniconfig==1.1.1 packaging==24.1 pip==24.2 pluggy==1.0.0 pytest==7.4.4
        setuptools==75.1.0 tomli==2.0.1 wheel==0.44.0
    """,
    "requests-2.26": """
        certifi==2024.8.30 charset-normalizer==2.0.12 exceptiongroup==1.2.0 idna==3.10 iniconfig==1.1.1
        packaging==24.1 pip==24.2 pluggy==1.0.0 pytest==7.4.4 setuptools==75.1.0 tomli==2.0.1
        urllib3==1.26.20 wheel==0.44.0
    """,
    "xarray-0.12": """
        affine==2.4.0 aiobotocore==2.15.1 aiohappyeyeballs==2.4.3 aiohttp==3.10.9 aioitertools==0.12.0
        aiosignal==1.3.1 antlr4-python3-runtime==4.11.1 appdirs==1.4.4 asciitree==0.3.3
        async-timeout==4.0.3 attrs==24.2.0 backports-zoneinfo==0.2.1 beautifulsoup4==4.12.3 bokeh==3.5.2
        boto3==1.35.23 bottleneck==1.4.0 brotli==1.1.0 cached-property==1.5.2 cartopy==0.24.0
        certifi==2024.8.30 cf-units==3.2.0 cffi==1.17.1 cfgrib==0.9.14.1 cfgv==3.3.1 cftime==1.6.4
        charset-normalizer==3.4.0 click-plugins==1.1.1 click==8.1.7 cligj==0.7.2 cloudpickle==3.0.0
        colorama==0.4.6 contourpy==1.3.0 coverage==7.6.1 cycler==0.12.1 cytoolz==1.0.0 dask-expr==1.1.15
        dask==2022.8.1 distlib==0.3.8 distributed==2024.9.1 docopt-ng==0.9.0 eccodes==2.37.0
        exceptiongroup==1.2.2 execnet==2.1.1 fasteners==0.17.3 fastjsonschema==2.20.0 filelock==3.16.1
        findlibs==0.0.5 flexcache==0.3 flexparser==0.3.1 fonttools==4.54.1 frozenlist==1.4.1
        fsspec==2024.9.0 future==1.0.0 h2==4.1.0 h5netcdf==1.4.0 h5py==3.11.0 hpack==4.0.0
        hyperframe==6.0.1 hypothesis==6.114.0 identify==2.6.1 idna==3.10 importlib-metadata==8.5.0
        importlib-resources==6.4.5 iniconfig==2.0.0 jinja2==3.1.4 jmespath==1.0.1
        jsonschema-specifications==2024.10.1 jsonschema==4.23.0 jupyter-core==5.7.2 kiwisolver==1.4.7
        lazy-object-proxy==1.10.0 llvmlite==0.43.0 locket==1.0.0 lxml==5.3.0 lz4==4.3.3
        markupsafe==3.0.1 matplotlib==3.9.2 msgpack==1.1.0 multidict==6.1.0 munkres==1.1.4
        nbformat==5.10.4 nc-time-axis==1.4.1 netcdf4==1.7.1 nodeenv==1.9.1 numba==0.60.0 numbagg==0.8.2
        numcodecs==0.13.0 numexpr==2.10.0 numpy==1.23.0 packaging==23.1 pandas==1.5.3 partd==1.4.2
        patsy==0.5.6 pillow==10.4.0 pint==0.24.3 pip==24.2 pkgutil-resolve-name==1.3.10
        platformdirs==4.3.6 pluggy==1.5.0 pooch==1.8.2 pre-commit==4.0.1 pseudonetcdf==3.4.0
        psutil==6.0.0 pyarrow-hotfix==0.6 pyarrow==17.0.0 pycparser==2.22 pydap==3.5 pyparsing==3.1.4
        pyproj==3.7.0 pyshp==2.3.1 pysocks==1.7.1 pytest-cov==5.0.0 pytest-env==1.1.5
        pytest-xdist==3.6.1 pytest==7.4.0 python-dateutil==2.8.2 pytz==2023.3 pyyaml==6.0.2
        rasterio==1.4.1 referencing==0.35.1 requests==2.32.3 rpds-py==0.20.0 s3transfer==0.10.3
        scipy==1.11.1 scitools-iris==3.10.0 seaborn==0.13.2 setuptools==68.0.0 shapely==2.0.6
        six==1.16.0 snuggs==1.4.7 sortedcontainers==2.4.0 soupsieve==2.5 sparse==0.15.4
        statsmodels==0.14.4 tblib==3.0.0 toml==0.10.2 tomli==2.0.2 toolz==1.0.0 tornado==6.4.1
        traitlets==5.14.3 typing-extensions==4.12.2 tzdata==2024.2 ukkonen==1.0.1 unicodedata2==15.1.0
        urllib3==2.2.3 virtualenv==20.26.6 webob==1.8.8 wheel==0.44.0 wrapt==1.16.0 xxhash==3.5.0
        xyzservices==2024.9.0 yarl==1.13.1 zarr==2.18.3 zict==3.0.0 zipp==3.20.2 zstandard==0.23.0
    """,
    "xarray-2022.03": """
        affine==2.4.0 aiobotocore==2.15.1 aiohappyeyeballs==2.4.3 aiohttp==3.10.10 aioitertools==0.12.0
        aiosignal==1.3.1 antlr4-python3-runtime==4.11.1 appdirs==1.4.4 asciitree==0.3.3
        async-timeout==4.0.3 attrs==24.2.0 backports-zoneinfo==0.2.1 boto3==1.35.23 bottleneck==1.4.2
        brotli==1.1.0 cached-property==1.5.2 cartopy==0.24.0 certifi==2024.8.30 cf-units==3.2.0
        cffi==1.17.1 cfgrib==0.9.14.1 cfgv==3.3.1 cftime==1.6.4 charset-normalizer==3.4.0
        click-plugins==1.1.1 click==8.1.7 cligj==0.7.2 cloudpickle==3.1.0 colorama==0.4.6
        contourpy==1.3.0 coverage==7.6.4 cycler==0.12.1 cytoolz==1.0.0 dask==2022.8.1 distlib==0.3.9
        distributed==2024.10.0 eccodes==2.37.0 exceptiongroup==1.2.2 execnet==2.1.1 fasteners==0.17.3
        fastjsonschema==2.20.0 filelock==3.16.1 findlibs==0.0.5 flexcache==0.3 flexparser==0.3.1
        flox==0.9.12 fonttools==4.54.1 frozenlist==1.5.0 fsspec==2024.10.0 future==1.0.0 h2==4.1.0
        h5netcdf==1.4.0 h5py==3.12.1 hpack==4.0.0 hyperframe==6.0.1 hypothesis==6.115.5 identify==2.6.1
        idna==3.10 importlib-metadata==8.5.0 importlib-resources==6.4.5 iniconfig==2.0.0 jinja2==3.1.4
        jmespath==1.0.1 jsonschema-specifications==2024.10.1 jsonschema==4.23.0 jupyter-core==5.7.2
        kiwisolver==1.4.7 lazy-object-proxy==1.10.0 llvmlite==0.43.0 locket==1.0.0 lxml==5.3.0
        markupsafe==3.0.2 matplotlib==3.9.2 msgpack==1.1.0 multidict==6.1.0 munkres==1.1.4
        nbformat==5.10.4 nc-time-axis==1.4.1 netcdf4==1.7.1 nodeenv==1.9.1 numba==0.60.0 numbagg==0.8.2
        numcodecs==0.13.1 numexpr==2.10.1 numpy-groupies==0.11.2 numpy==1.23.0 packaging==23.1
        pandas==1.5.3 partd==1.4.2 patsy==0.5.6 pillow==11.0.0 pint==0.24.3 pip==24.2
        pkgutil-resolve-name==1.3.10 platformdirs==4.3.6 pluggy==1.5.0 pooch==1.8.2 pre-commit==4.0.1
        propcache==0.2.0 pseudonetcdf==3.4.0 psutil==6.0.0 pycparser==2.22 pyparsing==3.2.0
        pyproj==3.7.0 pyshp==2.3.1 pysocks==1.7.1 pytest-cov==5.0.0 pytest-env==1.1.5
        pytest-xdist==3.6.1 pytest==7.4.0 python-dateutil==2.8.2 pytz==2023.3 pyyaml==6.0.2
        rasterio==1.4.1 referencing==0.35.1 requests==2.32.3 rpds-py==0.20.0 s3transfer==0.10.3
        scipy==1.11.1 scitools-iris==3.10.0 seaborn==0.13.2 setuptools==68.0.0 shapely==2.0.6
        six==1.16.0 snuggs==1.4.7 sortedcontainers==2.4.0 sparse==0.15.4 statsmodels==0.14.4
        tblib==3.0.0 toml==0.10.2 tomli==2.0.2 toolz==1.0.0 tornado==6.4.1 traitlets==5.14.3
        typing-extensions==4.12.2 tzdata==2024.2 ukkonen==1.0.1 unicodedata2==15.1.0 urllib3==2.2.3
        virtualenv==20.27.0 wheel==0.44.0 wrapt==1.16.0 xxhash==3.5.0 yarl==1.16.0 zarr==2.18.3
        zict==3.0.0 zipp==3.20.2 zstandard==0.23.0
    """,
    "xarray-2022.06": """
        affine==2.4.0 aiobotocore==2.15.1 aiohappyeyeballs==2.4.3 aiohttp==3.10.10 aioitertools==0.12.0
        aiosignal==1.3.1 antlr4-python3-runtime==4.11.1 appdirs==1.4.4 asciitree==0.3.3
        async-timeout==4.0.3 attrs==24.2.0 backports-zoneinfo==0.2.1 beautifulsoup4==4.12.3
        boto3==1.35.23 bottleneck==1.4.2 brotli==1.1.0 cached-property==1.5.2 cartopy==0.24.0
        certifi==2024.8.30 cf-units==3.2.0 cffi==1.17.1 cfgrib==0.9.14.1 cfgv==3.3.1 cftime==1.6.4
        charset-normalizer==3.4.0 click-plugins==1.1.1 click==8.1.7 cligj==0.7.2 cloudpickle==3.1.0
        colorama==0.4.6 contourpy==1.3.0 coverage==7.6.4 cycler==0.12.1 cytoolz==1.0.0 dask==2022.8.1
        distlib==0.3.9 distributed==2024.10.0 docopt-ng==0.9.0 eccodes==2.37.0 exceptiongroup==1.2.2
        execnet==2.1.1 fasteners==0.17.3 fastjsonschema==2.20.0 filelock==3.16.1 findlibs==0.0.5
        flexcache==0.3 flexparser==0.3.1 flox==0.9.12 fonttools==4.54.1 frozenlist==1.5.0
        fsspec==2024.10.0 future==1.0.0 h2==4.1.0 h5netcdf==1.4.0 h5py==3.12.1 hpack==4.0.0
        hyperframe==6.0.1 hypothesis==6.115.5 identify==2.6.1 idna==3.10 importlib-metadata==8.5.0
        importlib-resources==6.4.5 iniconfig==2.0.0 jinja2==3.1.4 jmespath==1.0.1
        jsonschema-specifications==2024.10.1 jsonschema==4.23.0 jupyter-core==5.7.2 kiwisolver==1.4.7
        lazy-object-proxy==1.10.0 llvmlite==0.43.0 locket==1.0.0 lxml==5.3.0 markupsafe==3.0.2
        matplotlib==3.9.2 msgpack==1.1.0 multidict==6.1.0 munkres==1.1.4 nbformat==5.10.4
        nc-time-axis==1.4.1 netcdf4==1.7.1 nodeenv==1.9.1 numba==0.60.0 numbagg==0.8.2 numcodecs==0.13.1
        numexpr==2.10.1 numpy-groupies==0.11.2 numpy==1.23.0 packaging==23.1 pandas==1.5.3 partd==1.4.2
        patsy==0.5.6 pillow==11.0.0 pint==0.24.3 pip==24.2 pkgutil-resolve-name==1.3.10
        platformdirs==4.3.6 pluggy==1.5.0 pooch==1.8.2 pre-commit==4.0.1 propcache==0.2.0
        pseudonetcdf==3.4.0 psutil==6.0.0 pycparser==2.22 pydap==3.5 pyparsing==3.2.0 pyproj==3.7.0
        pyshp==2.3.1 pysocks==1.7.1 pytest-cov==5.0.0 pytest-env==1.1.5 pytest-xdist==3.6.1
        pytest==7.4.0 python-dateutil==2.8.2 pytz==2023.3 pyyaml==6.0.2 rasterio==1.4.1
        referencing==0.35.1 requests==2.32.3 rpds-py==0.20.0 s3transfer==0.10.3 scipy==1.11.1
        scitools-iris==3.10.0 seaborn==0.13.2 setuptools==68.0.0 shapely==2.0.6 six==1.16.0
        snuggs==1.4.7 sortedcontainers==2.4.0 soupsieve==2.5 sparse==0.15.4 statsmodels==0.14.4
        tblib==3.0.0 toml==0.10.2 tomli==2.0.2 toolz==1.0.0 tornado==6.4.1 traitlets==5.14.3
        typing-extensions==4.12.2 tzdata==2024.2 ukkonen==1.0.1 unicodedata2==15.1.0 urllib3==2.2.3
        virtualenv==20.27.0 webob==1.8.8 wheel==0.44.0 wrapt==1.16.0 xxhash==3.5.0 yarl==1.16.0
        zarr==2.18.3 zict==3.0.0 zipp==3.20.2 zstandard==0.23.0
    """,
    "xarray-2022.09": """
        affine==2.4.0 aiobotocore==2.15.1 aiohappyeyeballs==2.4.3 aiohttp==3.10.10 aioitertools==0.12.0
        aiosignal==1.3.1 antlr4-python3-runtime==4.11.1 appdirs==1.4.4 asciitree==0.3.3
        async-timeout==4.0.3 attrs==24.2.0 backports-zoneinfo==0.2.1 beautifulsoup4==4.12.3
        boto3==1.35.23 bottleneck==1.4.2 brotli==1.1.0 cached-property==1.5.2 cartopy==0.24.0
        certifi==2024.8.30 cf-units==3.2.0 cffi==1.17.1 cfgv==3.3.1 cftime==1.6.4
        charset-normalizer==3.4.0 click-plugins==1.1.1 click==8.1.7 cligj==0.7.2 cloudpickle==3.1.0
        colorama==0.4.6 contourpy==1.3.0 coverage==7.6.4 cycler==0.12.1 cytoolz==1.0.0 dask==2022.8.1
        distlib==0.3.9 distributed==2024.10.0 docopt-ng==0.9.0 exceptiongroup==1.2.2 execnet==2.1.1
        fasteners==0.17.3 fastjsonschema==2.20.0 filelock==3.16.1 flexcache==0.3 flexparser==0.3.1
        flox==0.9.12 fonttools==4.54.1 frozenlist==1.5.0 fsspec==2024.10.0 future==1.0.0 h2==4.1.0
        h5netcdf==1.4.0 h5py==3.12.1 hpack==4.0.0 hyperframe==6.0.1 hypothesis==6.115.5 identify==2.6.1
        idna==3.10 importlib-metadata==8.5.0 importlib-resources==6.4.5 iniconfig==2.0.0 jinja2==3.1.4
        jmespath==1.0.1 jsonschema-specifications==2024.10.1 jsonschema==4.23.0 jupyter-core==5.7.2
        kiwisolver==1.4.7 lazy-object-proxy==1.10.0 llvmlite==0.43.0 locket==1.0.0 lxml==5.3.0
        markupsafe==3.0.2 matplotlib==3.9.2 msgpack==1.1.0 multidict==6.1.0 munkres==1.1.4
        nbformat==5.10.4 nc-time-axis==1.4.1 netcdf4==1.7.1 nodeenv==1.9.1 numba==0.60.0 numbagg==0.8.2
        numcodecs==0.13.1 numexpr==2.10.1 numpy-groupies==0.11.2 numpy==1.23.0 packaging==23.1
        pandas==1.5.3 partd==1.4.2 patsy==0.5.6 pillow==11.0.0 pint==0.24.3 pip==24.2
        pkgutil-resolve-name==1.3.10 platformdirs==4.3.6 pluggy==1.5.0 pooch==1.8.2 pre-commit==4.0.1
        propcache==0.2.0 pseudonetcdf==3.4.0 psutil==6.0.0 pycparser==2.22 pydap==3.5 pyparsing==3.2.0
        pyproj==3.7.0 pyshp==2.3.1 pysocks==1.7.1 pytest-cov==5.0.0 pytest-env==1.1.5
        pytest-timeout==2.3.1 pytest-xdist==3.6.1 pytest==7.4.0 python-dateutil==2.8.2 pytz==2023.3
        pyyaml==6.0.2 rasterio==1.4.1 referencing==0.35.1 requests==2.32.3 rpds-py==0.20.0
        s3transfer==0.10.3 scipy==1.11.1 scitools-iris==3.9.0 seaborn==0.13.2 setuptools==68.0.0
        shapely==2.0.6 six==1.16.0 snuggs==1.4.7 sortedcontainers==2.4.0 soupsieve==2.5 sparse==0.15.4
        statsmodels==0.14.4 tblib==3.0.0 toml==0.10.2 tomli==2.0.2 toolz==1.0.0 tornado==6.4.1
        traitlets==5.14.3 typing-extensions==4.12.2 tzdata==2024.2 ukkonen==1.0.1 unicodedata2==15.1.0
        urllib3==2.2.3 virtualenv==20.27.0 webob==1.8.8 wheel==0.44.0 wrapt==1.16.0 xxhash==3.5.0
        yarl==1.16.0 zarr==2.18.2 zict==3.0.0 zipp==3.20.2 zstandard==0.23.0
    """,
    "pylint-2.10": """
        astroid==2.6.6 attrs==19.3.0 black==21.8b0 certifi==2024.8.30 cfgv==3.4.0
        charset-normalizer==3.4.0 cli-ui==0.10.3 click==8.1.7 colorama==0.4.6 coverage==5.5
        coveralls==3.3.1 distlib==0.3.9 docopt==0.6.2 execnet==2.1.1 filelock==3.16.1 flake8==3.9.2
        gprof2dot==2024.6.6 identify==2.6.1 idna==3.10 iniconfig==2.0.0 isort==5.9.3
        lazy-object-proxy==1.10.0 mccabe==0.6.1 mypy-extensions==0.4.4 mypy==0.910 nodeenv==1.9.1
        packaging==24.1 pathspec==0.12.1 pip==24.2 platformdirs==4.3.6 pluggy==1.5.0 pre-commit==2.21.0
        py-cpuinfo==9.0.0 py==1.11.0 pycodestyle==2.7.0 pyenchant==3.2.2 pyflakes==2.3.1
        pytest-benchmark==3.4.1 pytest-cov==2.12.1 pytest-forked==1.6.0 pytest-profiling==1.7.0
        pytest-xdist==2.5.0 pytest==6.2.5 pyyaml==6.0.2 regex==2024.9.11 requests==2.32.3 schema==0.7.7
        setuptools==75.1.0 six==1.16.0 tabulate==0.8.10 tbump==6.3.2 toml==0.10.2 tomli==1.2.3
        tomlkit==0.13.2 types-pkg-resources==0.1.3 types-toml==0.1.5 typing-extensions==4.12.2
        unidecode==1.3.8 urllib3==2.2.3 virtualenv==20.27.0 wheel==0.44.0 wrapt==1.12.1
    """,
    "pylint-2.14": """
        astroid==2.11.6 black==22.3.0 cachetools==5.5.0 certifi==2024.8.30 cfgv==3.4.0 chardet==5.2.0
        charset-normalizer==3.4.0 cli-ui==0.17.2 click==8.1.7 colorama==0.4.6 contributors-txt==1.0.0
        coverage==6.5.0 coveralls==3.3.1 dill==0.3.9 distlib==0.3.9 docopt==0.6.2 exceptiongroup==1.2.2
        execnet==2.1.1 filelock==3.16.1 flake8-typing-imports==1.12.0 flake8==4.0.1 gprof2dot==2024.6.6
        identify==2.6.1 idna==3.10 iniconfig==2.0.0 isort==5.10.1 lazy-object-proxy==1.10.0
        mccabe==0.6.1 mypy-extensions==1.0.0 mypy==0.960 nodeenv==1.9.1 packaging==24.1 pathspec==0.12.1
        pip==24.2 platformdirs==4.3.6 pluggy==1.5.0 pre-commit==2.21.0 py-cpuinfo==9.0.0 py==1.11.0
        pycodestyle==2.8.0 pyflakes==2.4.0 pyproject-api==1.8.0 pytest-benchmark==3.4.1
        pytest-cov==3.0.0 pytest-forked==1.6.0 pytest-profiling==1.7.0 pytest-timeout==2.3.1
        pytest-xdist==2.5.0 pytest==7.4.4 pyyaml==6.0.2 requests==2.32.3 schema==0.7.7
        setuptools==75.1.0 six==1.16.0 tabulate==0.8.10 tbump==6.9.0 tomli==2.0.2 tomlkit==0.13.2
        tox==4.23.2 types-pkg-resources==0.1.3 typing-extensions==4.12.2 unidecode==1.3.8 urllib3==2.2.3
        virtualenv==20.27.0 wheel==0.44.0 wrapt==1.16.0
    """,
    "pylint-2.15": """
        astroid==2.11.7 black==22.6.0 cachetools==5.5.0 certifi==2024.8.30 cfgv==3.4.0 chardet==5.2.0
        charset-normalizer==3.4.0 cli-ui==0.17.2 click-default-group==1.2.4 click==8.1.7 colorama==0.4.6
        contributors-txt==1.0.0 coverage==6.5.0 coveralls==3.3.1 dill==0.3.9 distlib==0.3.9
        docopt==0.6.2 exceptiongroup==1.2.2 execnet==2.1.1 filelock==3.16.1
        flake8-typing-imports==1.13.0 flake8==5.0.4 gprof2dot==2024.6.6 identify==2.6.1 idna==3.10
        incremental==24.7.2 iniconfig==2.0.0 isort==5.10.1 jinja2==3.1.4 lazy-object-proxy==1.10.0
        markupsafe==3.0.2 mccabe==0.7.0 mypy-extensions==1.0.0 mypy==0.971 nodeenv==1.9.1
        packaging==24.1 pathspec==0.12.1 pip==24.2 platformdirs==4.3.6 pluggy==1.5.0 pre-commit==2.21.0
        py-cpuinfo==9.0.0 py==1.11.0 pycodestyle==2.9.1 pyflakes==2.5.0 pyproject-api==1.8.0
        pytest-benchmark==4.0.0 pytest-cov==3.0.0 pytest-forked==1.6.0 pytest-profiling==1.7.0
        pytest-timeout==2.3.1 pytest-xdist==2.5.0 pytest==7.4.4 pyyaml==6.0.2 requests==2.32.3
        schema==0.7.7 setuptools==75.1.0 six==1.16.0 tabulate==0.8.10 tbump==6.9.0 tomli==2.0.2
        tomlkit==0.13.2 towncrier==22.12.0 tox==4.23.2 types-pkg-resources==0.1.3
        typing-extensions==4.12.2 unidecode==1.3.8 urllib3==2.2.3 virtualenv==20.27.0 wheel==0.44.0
        wrapt==1.16.0
    """,
    "pylint-2.9": """
        appdirs==1.4.4 astroid==2.6.5 attrs==19.3.0 black==21.7b0 certifi==2024.8.30 cfgv==3.4.0
        charset-normalizer==3.4.0 cli-ui==0.10.3 click==8.1.7 colorama==0.4.6 coverage==5.5
        coveralls==3.3.1 distlib==0.3.9 docopt==0.6.2 execnet==2.1.1 filelock==3.16.1 flake8==3.9.2
        gprof2dot==2024.6.6 identify==2.6.1 idna==3.10 iniconfig==2.0.0 isort==5.9.2
        lazy-object-proxy==1.10.0 mccabe==0.6.1 mypy-extensions==0.4.4 mypy==0.910 nodeenv==1.9.1
        packaging==24.1 pathspec==0.12.1 pip==24.2 platformdirs==4.3.6 pluggy==1.5.0 pre-commit==2.21.0
        py-cpuinfo==9.0.0 py==1.11.0 pycodestyle==2.7.0 pyenchant==3.2.2 pyflakes==2.3.1
        pytest-benchmark==3.4.1 pytest-cov==2.12.1 pytest-forked==1.6.0 pytest-profiling==1.7.0
        pytest-xdist==2.5.0 pytest==6.2.5 pyyaml==6.0.2 regex==2024.9.11 requests==2.32.3 schema==0.7.7
        setuptools==75.1.0 six==1.16.0 tabulate==0.8.10 tbump==6.3.2 toml==0.10.2 tomli==1.2.3
        tomlkit==0.13.2 types-pkg-resources==0.1.3 types-toml==0.1.3 typing-extensions==4.12.2
        unidecode==1.3.8 urllib3==2.2.3 virtualenv==20.27.0 wheel==0.44.0 wrapt==1.12.1
    """,
    "pylint-3.0": """
        astroid==3.0.3 cachetools==5.5.0 certifi==2024.8.30 chardet==5.2.0 charset-normalizer==3.4.0
        cli-ui==0.17.2 click==8.1.7 colorama==0.4.6 contributors-txt==1.0.0 coverage==7.6.4 dill==0.3.9
        distlib==0.3.9 docopt==0.6.2 exceptiongroup==1.2.2 execnet==2.1.1 filelock==3.16.1
        gprof2dot==2024.6.6 idna==3.10 importlib-resources==6.4.5 incremental==22.10.0 iniconfig==2.0.0
        isort==5.13.2 jinja2==3.1.4 markupsafe==3.0.2 mccabe==0.7.0 packaging==24.1 pip==24.2
        platformdirs==4.3.6 pluggy==1.5.0 py-cpuinfo==9.0.0 py==1.11.0 pyproject-api==1.8.0
        pytest-benchmark==4.0.0 pytest-cov==4.1.0 pytest-profiling==1.7.0 pytest-timeout==2.3.1
        pytest-xdist==3.6.1 pytest==7.4.4 requests==2.32.3 schema==0.7.7 setuptools==41.6.0 six==1.16.0
        tabulate==0.8.10 tbump==6.10.0 tomli==2.0.2 tomlkit==0.11.8 towncrier==23.11.0 tox==4.23.2
        types-pkg-resources==0.1.3 typing-extensions==4.12.2 unidecode==1.3.8 urllib3==2.2.3
        virtualenv==20.27.0 wheel==0.44.0 zipp==3.20.2
    """,
    "pytest-4.5": """
        atomicwrites==1.4.1 attrs==23.1.0 more-itertools==10.1.0 pip==24.2 pluggy==0.11.0 py==1.11.0
        setuptools==68.0.0 six==1.16.0 wcwidth==0.2.6 wheel==0.44.0
    """,
    "pytest-4.6": """
        atomicwrites==1.4.1 attrs==23.1.0 importlib-metadata==8.5.0 more-itertools==10.1.0
        packaging==23.1 pip==24.2 pluggy==0.13.1 py==1.11.0 setuptools==75.1.0 six==1.16.0
        wcwidth==0.2.6 wheel==0.44.0 zipp==3.20.2
    """,
    "pytest-5.0": """
        atomicwrites==1.4.1 attrs==23.1.0 importlib-metadata==8.5.0 more-itertools==10.1.0
        packaging==23.1 pip==24.2 pluggy==0.13.1 py==1.11.0 setuptools==75.1.0 wcwidth==0.2.6
        wheel==0.44.0 zipp==3.20.2
    """,
    "pytest-5.1": """
        atomicwrites==1.4.1 attrs==23.1.0 more-itertools==10.1.0 packaging==23.1 pip==24.2
        pluggy==0.13.1 py==1.11.0 setuptools==75.1.0 wcwidth==0.2.6 wheel==0.44.0
    """,
    "pytest-5.4": """
        attrs==23.1.0 more-itertools==10.1.0 packaging==23.1 pip==24.2 pluggy==0.13.1 py==1.11.0
        setuptools==75.1.0 wcwidth==0.2.13 wheel==0.44.0
    """,
    "pytest-6.0": """
        attrs==23.1.0 iniconfig==2.0.0 more-itertools==10.1.0 packaging==23.1 pip==24.2 pluggy==0.13.1
        py==1.11.0 setuptools==75.1.0 toml==0.10.2 wheel==0.44.0
    """,
    "pytest-6.2": """
        attrs==23.1.0 iniconfig==2.0.0 packaging==23.1 pip==24.2 pluggy==0.13.1 py==1.11.0
        setuptools==75.1.0 toml==0.10.2 wheel==0.44.0
    """,
    "pytest-7.2": """
        attrs==23.1.0 iniconfig==2.0.0 packaging==23.1 pip==24.2 pluggy==0.13.1 py==1.11.0
        setuptools==75.1.0 tomli==2.0.1 wheel==0.44.0
    """,
    "scikit-learn-0.20": """
        attrs==21.4.0 certifi==2021.5.30 cycler==0.11.0 cython==0.29.24 importlib-metadata==4.8.1
        iniconfig==1.1.1 kiwisolver==1.3.1 matplotlib==3.3.4 more-itertools==8.12.0 numpy==1.19.2
        olefile==0.46 packaging==21.3 pandas==1.1.5 pillow==8.3.1 pip==21.2.2 pluggy==0.13.1 py==1.11.0
        pyparsing==3.0.4 pytest==6.2.4 python-dateutil==2.8.2 pytz==2021.3 scipy==1.5.2
        setuptools==58.0.4 six==1.16.0 toml==0.10.2 tornado==6.1 typing-extensions==4.1.1 wheel==0.37.1
        zipp==3.6.0
    """,
    "scikit-learn-0.22": """
        attrs==21.4.0 certifi==2021.5.30 cycler==0.11.0 cython==0.29.24 importlib-metadata==4.8.1
        iniconfig==1.1.1 joblib==1.1.1 kiwisolver==1.3.1 matplotlib==3.3.4 more-itertools==8.12.0
        numpy==1.19.2 olefile==0.46 packaging==21.3 pandas==1.1.5 pillow==8.3.1 pip==21.2.2
        pluggy==0.13.1 py==1.11.0 pyparsing==3.0.4 pytest==6.2.4 python-dateutil==2.8.2 pytz==2021.3
        scipy==1.5.2 setuptools==58.0.4 six==1.16.0 toml==0.10.2 tornado==6.1 typing-extensions==4.1.1
        wheel==0.37.1 zipp==3.6.0
    """,
    "scikit-learn-1.3": """
        bottleneck==1.4.2 contourpy==1.3.0 cycler==0.11.0 cython==3.0.7 exceptiongroup==1.2.0
        fonttools==4.51.0 importlib-resources==6.4.0 iniconfig==1.1.1 joblib==1.4.2 kiwisolver==1.4.4
        matplotlib==3.9.2 numexpr==2.10.1 numpy==1.26.4 packaging==24.2 pandas==2.2.3 pillow==11.0.0
        pip==24.2 pluggy==1.5.0 ply==3.11 pyparsing==3.2.0 pytest==7.4.4 python-dateutil==2.9.0.post0
        pytz==2024.1 scipy==1.13.0 setuptools==75.1.0 six==1.16.0 threadpoolctl==3.5.0 tomli==2.0.1
        tornado==6.4.2 tzdata==2023.3 unicodedata2==15.1.0 wheel==0.44.0 zipp==3.21.0
    """,
    "sphinx-3.0": """
        alabaster==0.7.11 babel==2.16.0 cachetools==5.5.0 certifi==2024.8.30 chardet==5.2.0
        charset-normalizer==3.4.0 colorama==0.4.6 coverage==7.6.4 cython==3.0.11 distlib==0.3.9
        docutils==0.21.2 exceptiongroup==1.2.2 filelock==3.16.1 html5lib==1.1 idna==3.10
        imagesize==1.4.1 iniconfig==2.0.0 jinja2==2.11.3 markupsafe==2.0.1 packaging==24.1 pip==24.2
        platformdirs==4.3.6 pluggy==1.5.0 pygments==2.18.0 pyproject-api==1.8.0 pytest-cov==5.0.0
        pytest==8.3.3 requests==2.32.3 setuptools==75.1.0 six==1.16.0 snowballstemmer==2.2.0
        tomli==2.0.2 tox-current-env==0.0.11 tox==4.16.0 typed-ast==1.5.5 urllib3==2.2.3
        virtualenv==20.26.6 webencodings==0.5.1 wheel==0.44.0
    """,
    "sphinx-3.4": """
        alabaster==0.7.11 babel==2.16.0 cachetools==5.5.0 certifi==2024.8.30 chardet==5.2.0
        charset-normalizer==3.4.0 colorama==0.4.6 coverage==7.6.4 cython==3.0.11 distlib==0.3.9
        docutils==0.21.2 exceptiongroup==1.2.2 filelock==3.16.1 html5lib==1.1 idna==3.10
        imagesize==1.4.1 iniconfig==2.0.0 jinja2==2.11.3 markupsafe==2.0.1 packaging==24.1 pip==24.2
        platformdirs==4.3.6 pluggy==1.5.0 pygments==2.18.0 pyproject-api==1.8.0 pytest-cov==5.0.0
        pytest==8.3.3 requests==2.32.3 setuptools==75.1.0 six==1.16.0 snowballstemmer==2.2.0
        tomli==2.0.2 tox-current-env==0.0.11 tox==4.16.0 urllib3==2.2.3 virtualenv==20.26.6
        webencodings==0.5.1 wheel==0.44.0
    """,
    "sphinx-4.1": """
        alabaster==0.7.11 babel==2.16.0 cachetools==5.5.0 certifi==2024.8.30 chardet==5.2.0
        charset-normalizer==3.4.0 colorama==0.4.6 coverage==7.6.4 cython==3.0.11 distlib==0.3.9
        docutils==0.17.1 exceptiongroup==1.2.2 filelock==3.16.1 html5lib==1.1 idna==3.10
        imagesize==1.4.1 iniconfig==2.0.0 jinja2==2.11.3 markupsafe==2.0.1 packaging==24.1 pip==24.2
        platformdirs==4.3.6 pluggy==1.5.0 pygments==2.18.0 pyproject-api==1.8.0 pytest-cov==5.0.0
        pytest==8.3.3 requests==2.32.3 setuptools==75.1.0 six==1.16.0 snowballstemmer==2.2.0
        tomli==2.0.2 tox-current-env==0.0.11 tox==4.16.0 urllib3==2.2.3 virtualenv==20.26.6
        webencodings==0.5.1 wheel==0.44.0
    """,
    "sphinx-5.0": """
        alabaster==0.7.16 babel==2.16.0 cachetools==5.5.0 certifi==2024.8.30 chardet==5.2.0
        charset-normalizer==3.4.0 colorama==0.4.6 cython==3.0.11 distlib==0.3.9 docutils==0.18.1
        exceptiongroup==1.2.2 filelock==3.16.1 html5lib==1.1 idna==3.10 imagesize==1.4.1
        importlib-metadata==8.5.0 iniconfig==2.0.0 jinja2==3.1.4 markupsafe==3.0.2 packaging==24.1
        pip==24.2 platformdirs==4.3.6 pluggy==1.5.0 pygments==2.18.0 pyproject-api==1.8.0 pytest==8.3.3
        requests==2.32.3 setuptools==75.1.0 six==1.16.0 snowballstemmer==2.2.0 tomli==2.0.2
        tox-current-env==0.0.11 tox==4.16.0 urllib3==2.2.3 virtualenv==20.26.6 webencodings==0.5.1
        wheel==0.44.0 zipp==3.20.2
    """,
    "sphinx-5.2": """
        alabaster==0.7.16 babel==2.16.0 cachetools==5.5.0 certifi==2024.8.30 chardet==5.2.0
        charset-normalizer==3.4.0 colorama==0.4.6 cython==3.0.11 distlib==0.3.9 docutils==0.19
        exceptiongroup==1.2.2 filelock==3.16.1 html5lib==1.1 idna==3.10 imagesize==1.4.1
        importlib-metadata==8.5.0 iniconfig==2.0.0 jinja2==3.1.4 markupsafe==3.0.2 packaging==24.1
        pip==24.2 platformdirs==4.3.6 pluggy==1.5.0 pygments==2.18.0 pyproject-api==1.8.0 pytest==8.3.3
        requests==2.32.3 setuptools==75.1.0 six==1.16.0 snowballstemmer==2.2.0 tomli==2.0.2
        tox-current-env==0.0.11 tox==4.16.0 urllib3==2.2.3 virtualenv==20.26.6 webencodings==0.5.1
        wheel==0.44.0 zipp==3.20.2
    """,
    "sphinx-7.1": """
        alabaster==0.7.16 babel==2.16.0 cachetools==5.5.0 certifi==2024.8.30 chardet==5.2.0
        charset-normalizer==3.4.0 colorama==0.4.6 cython==3.0.11 distlib==0.3.9 docutils==0.20.1
        exceptiongroup==1.2.2 filelock==3.16.1 html5lib==1.1 idna==3.10 imagesize==1.4.1
        importlib-metadata==8.5.0 iniconfig==2.0.0 jinja2==3.1.4 markupsafe==3.0.2 packaging==24.1
        pip==24.2 platformdirs==4.3.6 pluggy==1.5.0 pygments==2.18.0 pyproject-api==1.8.0 pytest==8.3.3
        requests==2.32.3 setuptools==75.1.0 six==1.16.0 snowballstemmer==2.2.0 tomli==2.0.2
        tox-current-env==0.0.11 tox==4.16.0 urllib3==2.2.3 virtualenv==20.26.6 webencodings==0.5.1
        wheel==0.44.0 zipp==3.20.2
    """,
    "sympy-1.0": """
        flake8-comprehensions==3.15.0 flake8==7.1.1 mccabe==0.7.0 mpmath==1.3.0 pip==24.2
        pycodestyle==2.12.1 pyflakes==3.2.0 setuptools==75.1.0 wheel==0.44.0
    """,
}

# Lite-only environments, from the pins SWE-bench lists for them (its pytest
# environments all add pip 24.2, setuptools 75.1.0 and wheel 0.44.0 from conda).
PINS.update({
    "flask-2.0": """
        alabaster==0.7.12 asgiref==3.4.1 attrs==21.2.0 babel==2.9.1 backports-entry-points-selectable==1.1.0
        blinker==1.4 certifi==2021.5.30 cffi==1.14.6 cfgv==3.3.1 charset-normalizer==2.0.6 click==8.0.1
        cryptography==35.0.0 distlib==0.3.3 docutils==0.16 filelock==3.2.0 greenlet==1.1.2 identify==2.2.15
        idna==3.2 imagesize==1.2.0 iniconfig==1.1.1 itsdangerous==2.1.2 jinja2==3.0.1 markupsafe==2.1.3
        mypy==0.910 mypy-extensions==0.4.3 nodeenv==1.6.0 packaging==21.0 pallets-sphinx-themes==2.0.1
        pep517==0.11.0 pip-tools==6.3.0 platformdirs==2.4.0 pluggy==1.0.0 pre-commit==2.15.0 py==1.10.0
        pycparser==2.20 pygments==2.10.0 pyparsing==2.4.7 pytest==6.2.5 python-dotenv==0.19.0 pytz==2021.1
        pyyaml==5.4.1 requests==2.26.0 setuptools==70.0.0 six==1.16.0 snowballstemmer==2.1.0 sphinx==4.2.0
        sphinx-issues==1.2.0 sphinx-tabs==3.2.0 sphinxcontrib-applehelp==1.0.2 sphinxcontrib-devhelp==1.0.2
        sphinxcontrib-htmlhelp==2.0.0 sphinxcontrib-jsmath==1.0.1 sphinxcontrib-log-cabinet==1.0.1
        sphinxcontrib-qthelp==1.0.3 sphinxcontrib-serializinghtml==1.1.5 toml==0.10.2 tomli==1.2.1 tox==3.24.4
        types-contextvars==0.1.4 types-dataclasses==0.1.7 types-setuptools==57.4.0 typing-extensions==3.10.0.2
        urllib3==1.26.7 virtualenv==20.8.1 werkzeug==2.3.7 wheel==0.37.0
    """,
    "pytest-4.4": """
        atomicwrites==1.4.1 attrs==23.1.0 more-itertools==10.1.0 pip==24.2 pluggy==0.13.1 py==1.11.0
        setuptools==68.0.0 six==1.16.0 wheel==0.44.0
    """,
    "pytest-7.0": """
        attrs==23.1.0 iniconfig==2.0.0 packaging==23.1 pip==24.2 pluggy==0.13.1 py==1.11.0 setuptools==75.1.0
        wheel==0.44.0
    """,
    "pytest-8.0": """
        exceptiongroup==1.1.3 iniconfig==2.0.0 packaging==23.1 pip==24.2 pluggy==1.3.0 setuptools==75.1.0
        tomli==2.0.1 wheel==0.44.0
    """,
})

LIST_FIELDS = ("apt", "pip", "pre_install", "install", "eval_commands")
FIELD_ORDER = ("python", "apt", "pip", "pre_install", "install", "eval_commands",
               "test_cmd", "test_directives", "log_parser", "env", "test_timeout", "sidecars", "host_sensitive")


def _name(requirement: str) -> str:
    return requirement.split("==")[0].lower().replace("_", "-").replace(".", "-")


def specs() -> dict[str, dict[str, dict]]:
    """Every (repo, version) entry, fields merged: repo defaults, then the version's."""
    out: dict[str, dict[str, dict]] = {}
    for repo, versions in VERSIONS.items():
        for version, data in versions.items():
            entry = {k: v for k, v in REPOS[repo].items()}
            data = dict(data)
            pins = {_name(p): p for p in PINS[data.pop("pins")].split()}
            pins.update({_name(p): p for p in data.pop("pin", ())})
            for name in [*entry.pop("unpin", ()), *data.pop("unpin", ())]:
                pins.pop(_name(name), None)
            nodeps = [pins.pop(_name(name)) for name in entry.pop("nodeps", ()) if _name(name) in pins]
            if nodeps:
                entry["pre_install"] = ["python -m pip install --no-deps " + " ".join(nodeps), *entry.get("pre_install", ())]
            apt = [*entry.get("apt", ()), *data.pop("apt_extra", ())]
            entry.update(data)
            entry["apt"] = sorted(set(apt))
            entry["pip"] = sorted(pins.values(), key=_name)
            entry["test_timeout"] = TIMEOUT
            out.setdefault(repo, {})[version] = {k: entry[k] for k in FIELD_ORDER if entry.get(k)}
    return out


def render() -> str:
    lines = [
        "# Environment specs for the SWE-bench repositories, one per (repo, version) of",
        "# SWE-bench Verified and Lite. GENERATED by tools/make_swebench_specs.py from the",
        "# facts SWE-bench publishes (see that script): edit it, not this file.",
        "",
    ]
    for repo, versions in specs().items():
        for version in sorted(versions, key=_version_key):
            lines.append(f"[repos.{_str(repo)}.{_str(version)}]")
            tables = []
            for key, value in versions[version].items():
                if isinstance(value, dict):  # a sub-table, after the entry's own keys
                    tables.append((key, value))
                else:
                    lines.append(f"{key} = {_value(key, value)}")
            for key, table in tables:
                lines.append(f"[repos.{_str(repo)}.{_str(version)}.{key}]")
                lines += [f"{name} = {_value(name, value)}" for name, value in table.items()]
            lines.append("")
    return "\n".join(lines)


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in version.split("."))


def _str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _value(key: str, value) -> str:
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _str(value)
    items = [_str(v) for v in value]
    if key == "pip":  # pins: several per line
        rows, row = [], ""
        for item in items:
            if row and len(row) + len(item) + 2 > 96:
                rows.append(row)
                row = ""
            row = f"{row} {item}," if row else f"{item},"
        rows.append(row)
        return "[\n" + "\n".join(f"  {r}" for r in rows) + "\n]"
    one_line = "[" + ", ".join(items) + "]"
    if len(one_line) + len(key) <= 96:
        return one_line
    return "[\n" + "\n".join(f"  {item}," for item in items) + "\n]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the TOML is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            print(f"{OUTPUT.relative_to(ROOT)} is out of date: run python tools/make_swebench_specs.py",
                  file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {sum(len(v) for v in specs().values())} entries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
