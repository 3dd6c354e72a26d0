"""Lags are visible in the data: changes of the follower correlate most with the driver's changes N back."""
import numpy as np
import pytest

from .common import generate, medium_spec


def _series(tables, metric: str, periods: int) -> np.ndarray:
    values = tables[f"fct_{metric}"].column(metric).to_numpy(zero_copy_only=False).astype(float)
    return values.reshape(-1, periods)


def lag_profile(driver: np.ndarray, follower: np.ndarray, max_lag: int) -> list[float]:
    """Pooled correlation of within-entity period-to-period changes, follower vs driver k periods back."""
    dd, df = np.diff(driver, axis=1), np.diff(follower, axis=1)
    out = []
    for k in range(max_lag + 1):
        x, y = dd[:, : dd.shape[1] - k].ravel(), df[:, k:].ravel()
        ok = ~(np.isnan(x) | np.isnan(y))
        out.append(float(np.corrcoef(x[ok], y[ok])[0, 1]))
    return out


@pytest.mark.parametrize("periods,weight", [(1, 0.5), (3, 0.6), (6, 0.4)])
def test_peak_at_declared_lag(periods, weight):
    metrics = [{"name": "engagement", "type": "score"}, {"name": "mrr", "type": "amount", "range": [50, 50000]}]
    spec = medium_spec(metrics, lags=[{"metric": "mrr", "follows": "engagement", "periods": periods, "weight": weight}])
    tables = generate(spec)
    profile = lag_profile(_series(tables, "engagement", 24), _series(tables, "mrr", 24), 8)
    assert int(np.argmax(profile)) == periods
    assert profile[periods] > 0.2  # minimum strength
    assert profile[periods] - sorted(profile)[-2] > 0.1  # a clear peak, not a tie


def test_chains_compose():
    """A -> B lag 2, B -> C lag 3: C follows A by 5."""
    metrics = [{"name": n, "type": "score"} for n in "abc"]
    lags = [{"metric": "b", "follows": "a", "periods": 2, "weight": 0.7},
            {"metric": "c", "follows": "b", "periods": 3, "weight": 0.7}]
    tables = generate(medium_spec(metrics, lags=lags))
    a, b, c = (_series(tables, n, 24) for n in "abc")
    assert int(np.argmax(lag_profile(a, b, 8))) == 2
    assert int(np.argmax(lag_profile(b, c, 8))) == 3
    assert int(np.argmax(lag_profile(a, c, 8))) == 5


def test_the_check_can_fail():
    """Without a lag, the peak is at 0, so the lag assertions above are not vacuous."""
    metrics = [{"name": "engagement", "type": "score"}, {"name": "mrr", "type": "amount", "range": [50, 50000]}]
    spec = medium_spec(metrics, correlations=[{"between": ["engagement", "mrr"], "r": 0.6}])
    tables = generate(spec)
    assert int(np.argmax(lag_profile(_series(tables, "engagement", 24), _series(tables, "mrr", 24), 8))) == 0


def test_follower_of_opposite_polarity_moves_against_its_driver():
    """Tickets (negative polarity) follow engagement by 2: they fall two periods after engagement rises."""
    metrics = [{"name": "engagement", "type": "score"},
               {"name": "tickets", "type": "count", "mean": 6, "polarity": "negative"}]
    spec = medium_spec(metrics, lags=[{"metric": "tickets", "follows": "engagement", "periods": 2, "weight": 0.6}])
    tables = generate(spec)
    profile = lag_profile(_series(tables, "engagement", 24), _series(tables, "tickets", 24), 8)
    assert int(np.argmin(profile)) == 2 and profile[2] < -0.2
    assert max(profile) < 0.1  # no positive echo at any lag
    levels = np.corrcoef(_series(tables, "engagement", 24)[:, :-2].ravel(), _series(tables, "tickets", 24)[:, 2:].ravel())
    assert levels[0, 1] < -0.3  # levels too: high engagement, few tickets two periods later
