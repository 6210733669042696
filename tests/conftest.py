import os

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("default", max_examples=60, deadline=None, print_blob=True)
settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True, print_blob=True)
# CI replays the same examples every run, so a red CI is reproducible
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture
def rng():
    return np.random.default_rng(20191201)
