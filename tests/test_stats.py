"""utils.stats: the reference statistics, checked against scipy and against hand-computed cases."""
import math

import pytest
import torch

from utils.stats import (bootstrap_indices, correct_vector, expected_calibration_error, mcnemar_exact,
                         paired_bootstrap, wilson_interval)

scipy_stats = pytest.importorskip("scipy.stats")


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (10, 10), (1628, 2000), (1, 1), (500, 1000)])
def test_wilson_matches_scipy(k, n):
    ci = scipy_stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    lo, hi = wilson_interval(k, n, z=scipy_stats.norm.ppf(0.975))
    assert lo == pytest.approx(ci.low, abs=1e-12) and hi == pytest.approx(ci.high, abs=1e-12)


def test_wilson_rejects_bad_counts():
    with pytest.raises(ValueError, match="0 <= correct <= n"):
        wilson_interval(11, 10)
    with pytest.raises(TypeError, match="integer counts"):
        wilson_interval(0.5, 10)


def _pair(only_a, only_b, both=5, neither=2):
    a = [True] * only_a + [False] * only_b + [True] * both + [False] * neither
    b = [False] * only_a + [True] * only_b + [True] * both + [False] * neither
    return torch.tensor(a), torch.tensor(b)


@pytest.mark.parametrize("only_a,only_b", [(0, 0), (1, 0), (7, 2), (2, 7), (10, 10), (30, 12), (0, 25)])
def test_mcnemar_matches_the_exact_binomial_test(only_a, only_b):
    a, b = _pair(only_a, only_b)
    m = only_a + only_b
    expected = 1.0 if m == 0 else scipy_stats.binomtest(only_a, m, 0.5).pvalue
    assert mcnemar_exact(a, b) == pytest.approx(expected, rel=1e-9)


def test_mcnemar_rejects_non_bool_and_mismatched_inputs():
    with pytest.raises(TypeError, match="1-D bool tensor"):
        mcnemar_exact(torch.ones(3), torch.ones(3, dtype=torch.bool))
    with pytest.raises(ValueError, match="same length"):
        mcnemar_exact(torch.ones(3, dtype=torch.bool), torch.ones(4, dtype=torch.bool))


def test_paired_bootstrap_difference_and_interval():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(400, generator=g) < 0.8
    b = a.clone()
    b[:40] = ~b[:40]                                     # b differs from a on 40 examples
    idx = bootstrap_indices(400, 2000, seed=1)
    diff, lo, hi = paired_bootstrap(a, b, idx)
    assert diff == pytest.approx((a.double() - b.double()).mean().item())
    assert lo <= diff <= hi
    means = (a.double() - b.double())[idx].mean(1)
    assert lo == pytest.approx(torch.quantile(means, 0.025).item()) and hi == pytest.approx(torch.quantile(means, 0.975).item())
    same = paired_bootstrap(a, a, idx)
    assert same == (0.0, 0.0, 0.0)                        # identical models: no difference, no spread


def test_bootstrap_indices_are_seeded_and_in_range():
    x, y = bootstrap_indices(50, 10, seed=3), bootstrap_indices(50, 10, seed=3)
    assert torch.equal(x, y) and x.shape == (10, 50) and int(x.min()) >= 0 and int(x.max()) < 50
    with pytest.raises(ValueError):
        bootstrap_indices(0, 10)


def test_ece_by_hand():
    # confidences 0.9 (right), 0.9 (wrong), 0.6 (right): bins 9 and 6
    # in float64: float32 log-probabilities round 0.9 differently on different CPUs (1e-9 apart)
    p = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6]], dtype=torch.float64)
    logits = p.log()
    labels = torch.tensor([0, 1, 1])
    expected = 2 / 3 * abs(0.5 - 0.9) + 1 / 3 * abs(1.0 - 0.6)
    assert expected_calibration_error(logits, labels) == pytest.approx(expected, abs=1e-9)


def test_ece_of_a_confident_perfect_model_is_near_zero_and_conf_one_goes_to_the_last_bin():
    logits = torch.tensor([[100.0, 0.0], [0.0, 100.0]])
    assert expected_calibration_error(logits, torch.tensor([0, 1])) == pytest.approx(0.0, abs=1e-12)
    assert expected_calibration_error(logits, torch.tensor([1, 0])) == pytest.approx(1.0, abs=1e-12)


def test_correct_vector_and_shape_errors():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0]])
    assert correct_vector(logits, torch.tensor([0, 0])).tolist() == [True, False]
    with pytest.raises(ValueError, match="expected logits"):
        correct_vector(logits, torch.tensor([0]))
    with pytest.raises(ValueError, match="expected logits"):
        expected_calibration_error(logits[0], torch.tensor([0]))
