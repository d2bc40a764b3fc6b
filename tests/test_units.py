import pytest
from hypothesis import given
from hypothesis import strategies as st

from vmemlab.core.units import GiB, MiB, SizeError, format_size, human, parse_size, readable_size


@pytest.mark.parametrize("text,value", [("128M", 128 * MiB), ("4G", 4 * GiB), ("2MiB", 2 * MiB),
                                        ("1.5G", 1536 * MiB), ("0", 0), (4096, 4096), (" 2 m ", 2 * MiB)])
def test_parse_size(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("bad", ["abc", "-1G", "1.0000001K", "4X", "", True, 1.5])
def test_parse_size_rejects_with_field_name(bad):
    with pytest.raises(SizeError, match="requested_size"):
        parse_size(bad, "requested_size")


def test_format_size_is_exact_and_round_trips():
    for n in (0, 2 * MiB, 130 * MiB, 4 * GiB, 3 * 4096):
        assert parse_size(format_size(n)) == n
    assert format_size(1536 * MiB) == "1536M"
    assert human(1536 * MiB) == "1.5 GiB"


@pytest.mark.parametrize("n,text", [
    (0, "0"), (130 * MiB, "130M"), (4 * GiB, "4G"), (1023 * MiB, "1023M"), (1536 * MiB, "1G + 512M"),
    (1048832 * MiB, "1T + 256M"), (262400 * MiB, "256G + 256M"), (4096 * GiB, "4T"), (-1536 * MiB, "-1G + 512M"),
])
def test_readable_size_is_exact_and_short(n, text):
    assert readable_size(n) == text
    if " + " not in text and text != "0":
        assert parse_size(text.lstrip("-")) == abs(n)
    else:
        assert sum(parse_size(p) for p in text.lstrip("-").split(" + ")) == abs(n)


@pytest.mark.parametrize("bad,words", [
    ("9" * 5000, "is not a size"), (10 ** 5000, "too large"), ("16777216T", "too large"), (1 << 64, "too large"),
    ("١٢M", "is not a size"), ("²M", "is not a size"), ("1_000M", "is not a size"), ([1], "expected a size"),
], ids=lambda v: type(v).__name__ if not isinstance(v, str) else v[:12])
def test_parse_size_refuses_huge_and_non_ascii_sizes_in_one_short_line(bad, words):
    with pytest.raises(SizeError) as e:
        parse_size(bad, "size")
    assert words in str(e.value) and len(str(e.value)) < 200


def test_parse_size_upper_limit_is_inclusive():
    assert parse_size((1 << 64) - 1) == (1 << 64) - 1


@given(st.integers(0, (1 << 64) - 1), st.booleans())
def test_format_size_names_the_largest_unit_that_divides_exactly(n, negative):
    """format_size reads the unit off the lowest set bit: the same text as dividing unit by unit."""
    text = format_size(-n if negative else n)
    expected = "0" if n == 0 else next(f"{'-' * negative}{n // scale}{unit}" for unit, scale in
                                       (("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10), ("B", 1))
                                       if n % scale == 0)
    assert text == expected
    if not negative:
        assert parse_size(text) == n
