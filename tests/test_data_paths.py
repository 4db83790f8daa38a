"""The tests' own rule for real data: skipped on a user's machine without it, failed where CI named it."""

import pytest

from tests.data_paths import real_root


def test_a_missing_copy_is_skipped_unless_ci_named_the_data_root(tmp_path):
    with pytest.raises(pytest.skip.Exception, match="set CGAN_TEST_DATA_ROOT"):
        real_root("mnist", tmp_path, named=False)
    with pytest.raises(pytest.fail.Exception, match=r"no mnist/ copy at"):
        real_root("mnist", tmp_path, named=True)
    (tmp_path / "mnist").mkdir()
    assert real_root("mnist", tmp_path, named=True) == tmp_path
