"""The Pearson <-> latent correlation mapping, checked against simulation."""
import numpy as np
import pytest
from scipy.special import ndtr

from dbt_plotsim.engine import norta
from dbt_plotsim.engine.marginals import resolve
from dbt_plotsim.spec.metrics import Metric

SCORE = resolve(Metric(name="s", type="score"))
AMOUNT = resolve(Metric(name="a", type="amount", range=(50, 50000)))
COUNT = resolve(Metric(name="c", type="count", mean=2))


@pytest.mark.parametrize("a,b", [(SCORE, AMOUNT), (AMOUNT, COUNT), (SCORE, COUNT)])
@pytest.mark.parametrize("rho", [-0.7, 0.3, 0.9])
def test_mapping_matches_simulation(a, b, rho):
    rng = np.random.default_rng(5)
    z = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], 400000)
    simulated = np.corrcoef(a.values(ndtr(z[:, 0])), b.values(ndtr(z[:, 1])))[0, 1]
    assert norta.pearson(a, b, rho) == pytest.approx(simulated, abs=0.01)  # tolerance: MC error ~0.003


def test_latent_for_inverts_pearson():
    rho = norta.latent_for(SCORE, AMOUNT, 0.6)
    assert norta.pearson(SCORE, AMOUNT, rho) == pytest.approx(0.6, abs=1e-5)


def test_unreachable_r_gives_none_and_range_says_why():
    low, high = norta.pearson_range(SCORE, COUNT)
    assert high < 1.0
    assert norta.latent_for(SCORE, COUNT, high + 0.01) is None


def test_outliers_lower_the_reachable_r():
    assert norta.pearson_range(SCORE, AMOUNT, 0.05)[1] < norta.pearson_range(SCORE, AMOUNT)[1]
