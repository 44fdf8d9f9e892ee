"""The end-to-end tier: real browser, installed wheel, `dagster dev`, the benchmark runner.

Every test under tests/e2e/ carries the `e2e` marker, so the default run (`make test`) leaves
them out and `make test-e2e` runs them. What they need beyond the project's venv is installed by
`make e2e-deps`; a test whose prerequisite is missing skips with a line naming that target.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # tryfirst: the marker must be on the item before `-m` deselects by it.
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)
