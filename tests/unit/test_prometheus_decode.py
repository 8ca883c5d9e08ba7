"""Range answers decoded series by series equal the whole-body decode, on every layout."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diagnosis_operator.adapters.prometheus_decode import Grid, decode_matrix, matrix_items

VALUE = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**18), max_value=10**18).map(float),
)
LABELS = st.dictionaries(
    st.text(alphabet="abcdefgh_", min_size=1, max_size=6),
    st.text(max_size=12),  # quotes, backslashes, brackets and unicode included
    max_size=4,
)


def _go_float(value: float) -> str:
    """How Prometheus writes a sample value (strconv 'f', -1 for ordinary numbers)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def _body(series: list[tuple[dict[str, str], list[tuple[float, float]]]], **extra: object) -> bytes:
    result = [
        {"metric": labels, "values": [[ts, _go_float(v)] for ts, v in points]}
        for labels, points in series
    ]
    answer = {"status": "success", "data": {"resultType": "matrix", "result": result}, **extra}
    return json.dumps(answer, separators=(",", ":")).encode()


def _plain(body: bytes) -> list[tuple[dict[str, str], list[float], list[float]]]:
    """The reference: the whole body through the standard library, floats by ``float``."""
    return [
        (
            item["metric"],
            [float(ts) for ts, _ in item["values"]],
            [float(v) for _, v in item["values"]],
        )
        for item in json.loads(body)["data"]["result"]
    ]


def _same(left: list[float], right: list[float]) -> bool:
    return len(left) == len(right) and all(
        a == b or (math.isnan(a) and math.isnan(b)) for a, b in zip(left, right, strict=True)
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            LABELS,
            st.lists(
                st.tuples(st.integers(0, 2_000_000_000).map(lambda t: t / 1000), VALUE),
                max_size=6,
            ),
        ),
        max_size=5,
    )
)
def test_walked_equals_the_whole_decode(
    series: list[tuple[dict[str, str], list[tuple[float, float]]]],
) -> None:
    body = _body(series)
    walked = matrix_items(body, grid=Grid())
    assert walked is not None  # Prometheus' own layout is walked, never decoded whole
    expected = _plain(body)
    assert [item.metric for item in walked] == [metric for metric, _, _ in expected]
    for item, (_, timestamps, values) in zip(walked, expected, strict=True):
        assert _same(list(item.timestamps), timestamps)
        assert _same(list(item.values), values)


def test_series_on_one_grid_share_their_timestamps() -> None:
    points = [(1796083200.0, 1.0), (1796083215.0, 2.5)]
    body = _body([({"pod": "a"}, points), ({"pod": "b"}, points)], warnings=["partial"])
    first, second = decode_matrix(body, grid=Grid())
    assert first.timestamps == (1796083200.0, 1796083215.0)
    assert first.timestamps is second.timestamps
    assert second.values == (1.0, 2.5)


@pytest.mark.parametrize(
    "body",
    [
        # white space between tokens: another encoder
        b'{"status": "success", "data": {"resultType": "matrix", "result": '
        b'[{"metric": {"a": "1"}, "values": [[1, "2"]]}]}}',
        # values before metric
        b'{"status":"success","data":{"resultType":"matrix","result":'
        b'[{"values":[[1,"2"]],"metric":{"a":"1"}}]}}',
    ],
)
def test_other_layouts_are_decoded_whole(body: bytes) -> None:
    assert matrix_items(body, grid=Grid()) is None
    (item,) = decode_matrix(body, grid=Grid())
    assert item.metric == {"a": "1"}
    assert (item.timestamps, item.values) == ((1.0,), (2.0,))


def test_a_native_histogram_series_is_not_walked() -> None:
    body = (
        b'{"status":"success","data":{"resultType":"matrix","result":'
        b'[{"metric":{"a":"1"},"histograms":[[1,{"count":"2"}]]}]}}'
    )
    assert matrix_items(body, grid=Grid()) is None


def test_an_unreadable_value_is_an_error_not_a_number() -> None:
    body = (
        b'{"status":"success","data":{"resultType":"matrix","result":'
        b'[{"metric":{"a":"1"},"values":[[1,"two"]]}]}}'
    )
    assert matrix_items(body, grid=Grid()) is None
    with pytest.raises(ValueError, match="two"):
        decode_matrix(body, grid=Grid())


def test_an_empty_result_and_an_empty_series() -> None:
    empty = b'{"status":"success","data":{"resultType":"matrix","result":[]}}'
    assert matrix_items(empty, grid=Grid()) == []
    body = (
        b'{"status":"success","data":{"resultType":"matrix","result":'
        b'[{"metric":{"a":"]],\\"x"},"values":[]}]}}'
    )
    (item,) = decode_matrix(body, grid=Grid())
    assert item.metric == {"a": ']],"x'}
    assert (item.timestamps, item.values) == ((), ())


def test_repeated_values_share_one_float_and_keep_their_sign() -> None:
    levels = ["4", "-0", "0", "4", "NaN", "4", "-0", "4", "4", "0"]
    body = (
        b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"1"},'
        b'"values":[' + b",".join(f'[{k},"{v}"]'.encode() for k, v in enumerate(levels)) + b"]}]}}"
    )
    (item,) = decode_matrix(body, grid=Grid())
    values = item.values
    assert [math.copysign(1.0, v) for v in values[1:3]] == [-1.0, 1.0]  # -0 is not 0
    assert math.isnan(values[4])
    assert values[0] == 4.0
    assert all(values[k] is values[0] for k in (3, 5, 7, 8))  # one object for a level
    assert values[1] is values[6]
