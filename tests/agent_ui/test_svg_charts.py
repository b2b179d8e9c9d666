"""The charts' scales: four grid steps of a round size, whole numbers for counts."""

from __future__ import annotations

import re

import pytest

from agent_ui.svg_charts import bar_chart, line_chart


def grid_labels(svg: str) -> list[str]:
    return re.findall(r'text-anchor="end" font-size="12" fill="[^"]+">([^<]+)</text>', svg)


@pytest.mark.parametrize(
    ("values", "labels"),
    [
        ([0, 0], ["0", "1", "2", "3", "4"]),
        ([0, 4, 1], ["0", "1", "2", "3", "4"]),
        ([1, 9], ["0", "3", "6", "9", "12"]),
        ([13], ["0", "5", "10", "15", "20"]),
        ([180, 20], ["0", "50", "100", "150", "200"]),
        ([1234], ["0", "500", "1,000", "1,500", "2,000"]),
        ([0.25, 0.6], ["0", "0.2", "0.4", "0.6", "0.8"]),
        ([1.5], ["0", "0.5", "1", "1.5", "2"]),
    ],
)
def test_grid_lines_fall_on_round_numbers(values: list[float], labels: list[str]) -> None:
    for draw in (bar_chart, line_chart):
        svg = str(draw("c", "Title", "What it shows", [str(v) for v in values], values, "tickets"))
        assert grid_labels(svg) == labels, (draw.__name__, values)
