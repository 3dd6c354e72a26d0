"""Every metric cell derives from its cell's trajectory position, in the direction of its polarity."""
import numpy as np
import pytest
from scipy import stats

from .common import columns, generate, medium_spec

METRICS = [
    {"name": "engagement", "type": "score"},
    {"name": "mrr", "type": "amount", "range": [50, 50000]},
    {"name": "tickets", "type": "count", "mean": 4, "polarity": "negative"},
    {"name": "weak", "type": "measure", "signal": 0.2},
]


@pytest.fixture(scope="module")
def cols():
    return columns(generate(medium_spec(METRICS)))


@pytest.mark.parametrize("name,sign,minimum", [("engagement", 1, 0.55), ("mrr", 1, 0.55), ("tickets", -1, 0.5)])
def test_metric_rank_follows_position(cols, name, sign, minimum):
    rho = stats.spearmanr(cols["position"], cols[name]).statistic
    assert sign * rho > minimum  # signal 0.7: rank correlation about 0.65 with the position


def test_signal_sets_the_strength(cols):
    weak = stats.spearmanr(cols["position"], cols["weak"]).statistic
    strong = stats.spearmanr(cols["position"], cols["engagement"]).statistic
    assert 0.05 < weak < 0.35 < strong


def test_higher_positions_mean_higher_values(cols):
    """Mean metric per position decile rises monotonically (falls for negative polarity)."""
    deciles = np.digitize(cols["position"], np.quantile(cols["position"], np.linspace(0.1, 0.9, 9)))
    for name, sign in (("engagement", 1), ("mrr", 1), ("tickets", -1)):
        means = np.array([np.nanmean(cols[name][deciles == d]) for d in range(10)])
        assert np.all(sign * np.diff(means) > 0)
