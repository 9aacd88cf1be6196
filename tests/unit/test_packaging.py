"""pyproject.toml, environment.yml, the Makefile and CI agree with each other."""

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]
CONDA_NAMES = {"torch": "pytorch", "POT": "pot"}  # where conda-forge names a package differently


def _split(spec: str) -> tuple[str, str]:
    name, constraint = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", spec.strip()).groups()
    return name, constraint.replace(" ", "")


def test_environment_yml_mirrors_pyproject():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    want = {CONDA_NAMES.get(n, n).lower(): c for n, c in map(_split, deps)}
    text = (ROOT / "environment.yml").read_text()
    lines = text[text.index("dependencies:"):].splitlines()
    conda = dict(_split(line.strip()[2:]) for line in lines
                 if re.match(r"^  - [A-Za-z]", line) and not line.strip().startswith("- pip"))
    conda = {k.lower(): v for k, v in conda.items() if k not in ("python",)}
    assert conda == want, f"environment.yml and pyproject.toml differ: {set(conda.items()) ^ set(want.items())}"
    extras = re.search(r'-e "\.\[([a-z,]+)\]"', text)
    assert extras, 'environment.yml must pip-install labutils itself: -e ".[dev,...]"'
    defined = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    wanted = set(extras.group(1).split(","))
    assert {"dev", "site"} <= wanted <= set(defined), f"environment.yml's extras {wanted}, pyproject's {set(defined)}"


def test_makefile_setup_installs_the_extras_environment_yml_does():
    make = (ROOT / "Makefile").read_text()
    env = (ROOT / "environment.yml").read_text()
    assert re.search(r'-e "\.\[([a-z,]+)\]"', make).group(1) == re.search(r'-e "\.\[([a-z,]+)\]"', env).group(1)


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()
    assert re.search(r"^test:", (ROOT / "Makefile").read_text(), re.M)
