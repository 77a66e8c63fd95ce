"""Generated bars look like a market, stay reproducible, and never change history."""

from __future__ import annotations

import itertools
import math
import os
import subprocess
import sys
from datetime import date

import pytest

from runtime.local.sample_market import SAMPLE_LABEL, SampleMarket
from runtime.market_calendar import trading_days

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
END = date(2024, 6, 7)
SYMBOLS = ("AMD", "NVDA", "INTC", "KLAC", "LSCC", "XYZ", "BRK.B")


@pytest.fixture(scope="module")
def market() -> SampleMarket:
    return SampleMarket(seed=7, end=END, years=20)


def test_bars_keep_ohlc_invariants_over_twenty_years(market: SampleMarket) -> None:
    for symbol in SYMBOLS:
        for bar in market.bars(symbol):
            prices = (bar.open, bar.high, bar.low, bar.close)
            assert bar.symbol == symbol
            assert bar.high >= max(bar.open, bar.close), bar
            assert bar.low <= min(bar.open, bar.close), bar
            assert bar.low > 0, bar
            assert all(price.as_tuple().exponent == -4 for price in prices), bar
            assert isinstance(bar.volume, int), bar
            assert bar.volume > 0, bar


def test_bars_are_the_trading_days_of_the_window_newest_first(market: SampleMarket) -> None:
    dates = [bar.trade_date for bar in market.bars("NVDA")]
    assert dates == list(reversed(trading_days(market.start, END)))
    assert dates[0] == END
    assert 5000 < len(dates) < 5100  # about 252 a year


def test_a_weekend_end_gives_the_friday_before_as_newest_bar() -> None:
    bars = SampleMarket(end=date(2024, 6, 9), years=0.1).bars("NVDA")
    assert bars[0].trade_date == date(2024, 6, 7)


def test_prices_move_like_a_stock(market: SampleMarket) -> None:
    for symbol in SYMBOLS:
        closes = [float(bar.close) for bar in reversed(market.bars(symbol))]
        returns = [math.log(today / before) for before, today in itertools.pairwise(closes)]
        mean = sum(returns) / len(returns)
        deviation = math.sqrt(sum((r - mean) ** 2 for r in returns) / len(returns))
        assert 0.005 < deviation < 0.05, symbol  # daily volatility of a listed stock
        assert max(abs(r) for r in returns) < 0.4, symbol  # no absurd jumps
        assert min(closes) > 1, symbol  # no pennies
        assert max(closes) < 10_000, symbol  # nor millions
        assert len(set(closes)) > len(closes) * 0.9, symbol  # it moves


def test_big_moves_trade_more_volume(market: SampleMarket) -> None:
    bars = list(reversed(market.bars("NVDA")))
    moves = sorted(
        (abs(float(today.close) / float(before.close) - 1), today.volume)
        for before, today in itertools.pairwise(bars)
    )
    tenth = len(moves) // 10
    calm = sum(volume for _, volume in moves[:tenth]) / tenth
    wild = sum(volume for _, volume in moves[-tenth:]) / tenth
    assert wild > calm * 1.2


def test_same_seed_symbol_and_end_give_the_same_bars() -> None:
    assert SampleMarket(seed=3, end=END).bars("AMD") == SampleMarket(seed=3, end=END).bars("AMD")


def test_seed_and_symbol_change_the_prices(market: SampleMarket) -> None:
    other_seed = SampleMarket(seed=8, end=END, years=20)
    assert [b.close for b in other_seed.bars("NVDA")] != [b.close for b in market.bars("NVDA")]
    assert [b.close for b in market.bars("INTC")] != [b.close for b in market.bars("XYZ")]


@pytest.mark.parametrize(("end", "years"), [(date(2024, 6, 10), 1.0), (date(2010, 3, 1), 12.0)])
def test_history_does_not_change_with_the_window(
    market: SampleMarket, end: date, years: float
) -> None:
    # A run one day later, or over another span, sees the same bars for the same dates.
    known = {bar.trade_date: bar for bar in market.bars("NVDA")}
    other = SampleMarket(seed=7, end=end, years=years).bars("NVDA")
    overlap = [bar for bar in other if bar.trade_date in known]
    assert len(overlap) > 200
    assert all(bar == known[bar.trade_date] for bar in overlap)


def test_bars_do_not_depend_on_the_process_hash_seed(market: SampleMarket) -> None:
    script = (
        "from datetime import date; from runtime.local.sample_market import SampleMarket; "
        "print(SampleMarket(seed=7, end=date(2024, 6, 7), years=20).bars('NVDA')[0])"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == str(market.bars("NVDA")[0])


def test_callers_cannot_change_the_market_through_a_returned_list(market: SampleMarket) -> None:
    market.bars("AMD").clear()
    assert market.bars("AMD")


@pytest.mark.parametrize("years", [0, -1.5])
def test_years_must_be_positive(years: float) -> None:
    with pytest.raises(ValueError, match="years must be a positive"):
        SampleMarket(years=years)


def test_the_label_says_the_data_is_generated() -> None:
    assert "SAMPLE" in SAMPLE_LABEL
    assert "not real" in SAMPLE_LABEL
