"""The public API stays honest: sorted, and every name importable."""

import accord


def test_all_is_sorted_and_importable() -> None:
    assert accord.__all__ == sorted(accord.__all__)
    for name in accord.__all__:
        assert getattr(accord, name) is not None
