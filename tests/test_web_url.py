"""URL parameters: any query string gives a Query or a UrlError naming the parameter, never a crash."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vmemlab.web.state import scenario_names
from vmemlab.web.url import UrlError, check_step, parse_query

NAMES = scenario_names()


@pytest.mark.parametrize("raw, words", [
    ({"step": [b"\xc2\xb2"]}, "step: '²' is not a whole number"),
    ({"step": ["١"]}, "step: '١' is not a whole number"),
    ({"step": ["9" * 5000]}, "is too large"),
    ({"step": [b"\xff"]}, "step: '\ufffd' is not a whole number"),
    ({"step": ["-1"]}, "is not a whole number"),
    ({"scenario": ["x" * 5000]}, "scenario: 'xxxxxxxx"),
    ({"a" * 5000: ["1"]}, "URL parameter 'aaaa"),
    ({"step": []}, "given 0 times"),
])
def test_bad_parameters_are_one_short_line(raw, words):
    with pytest.raises(UrlError) as e:
        parse_query(raw, NAMES)
    assert words in str(e.value) and len(str(e.value)) < 1000


def test_a_step_is_checked_against_the_scenario():
    assert parse_query({"step": [b"3"], "scenario": [b"default"]}, NAMES).step == 3
    with pytest.raises(UrlError, match="allowed: 0 to 6"):
        check_step(999_999_999, 6)


text = st.text(max_size=20) | st.binary(max_size=20) | st.sampled_from(["1", "0", "99999999999", "²", "default"] + NAMES)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["step", "scenario", "Step", "x", ""]) | st.text(max_size=8),
                       st.lists(text, max_size=3), max_size=3))
def test_any_query_gives_a_query_or_a_url_error(raw):
    try:
        q = parse_query(raw, NAMES)
    except UrlError as e:
        assert "\n" not in str(e) and len(str(e)) < 2000
        return
    assert q.scenario is None or q.scenario in NAMES
    assert 0 <= q.step < 10 ** 9
