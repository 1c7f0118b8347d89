"""The once-per-image memo (image/memo.py): a failure is kept and repeated with one cause,
in the calling thread and in the background alike (pure logic, no engine)."""
import pytest

from imagecheck.errors import ImagecheckError
from imagecheck.image.memo import REPEATED, OncePerImage


def test_a_kept_failure_is_made_once_and_repeated_as_the_first_attempts():
    memo, calls = OncePerImage("img:1"), []

    def make():
        calls.append(1)
        raise ImagecheckError("python3 does not start")

    with pytest.raises(ImagecheckError) as first:
        memo.get("probe", make)
    with pytest.raises(ImagecheckError) as second:
        memo.get("probe", make)
    assert calls == [1]
    assert str(first.value) == "python3 does not start"
    assert str(second.value).endswith(REPEATED)


def test_an_engine_error_in_the_background_is_kept_as_a_cause_not_made_again():
    memo, calls = OncePerImage("img:1"), []

    def make():
        calls.append(1)
        raise ConnectionError("Connection aborted: RemoteDisconnected")

    memo.start("derived-image", make)
    memo.wait("derived-image")
    for _ in range(2):  # the same cause each time, never a second attempt, never a KeyError
        with pytest.raises(ImagecheckError) as caught:
            memo.result("derived-image")
        assert "ConnectionError: Connection aborted" in str(caught.value)
        assert "work started in the background for img:1 failed" in str(caught.value)
    assert calls == [1]


def test_an_error_of_the_calling_thread_that_is_not_translated_is_raised_and_not_kept():
    memo, calls = OncePerImage("img:1"), []

    def make():
        calls.append(1)
        raise ValueError("a defect in the suite")

    for _ in range(2):
        with pytest.raises(ValueError):
            memo.get("facts", make)
    assert calls == [1, 1]
