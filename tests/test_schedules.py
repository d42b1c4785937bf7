"""Known answers for each KL schedule and the shared ramp (Fu et al. 2019, Eq. 5-6 for cyclical)."""

from __future__ import annotations

import pytest

from vaekit.errors import ConfigError
from vaekit.schedules import KLSchedule, ramp


def test_ramp_rises_linearly_then_stays_at_one():
    assert [ramp(t, 4) for t in (0, 1, 2, 4, 9)] == [0.0, 0.25, 0.5, 1.0, 1.0]
    assert ramp(0, 0) == 1.0 and ramp(3, -1) == 1.0


def test_constant_schedule_is_kl_max_at_every_step():
    s = KLSchedule("constant", kl_max=0.3)
    assert [s(t) for t in (0, 1, 10**6)] == [0.3, 0.3, 0.3]


def test_linear_warmup_reaches_kl_max_at_warmup_steps():
    s = KLSchedule("linear", kl_max=2.0, warmup_steps=10)
    assert [s(t) for t in (0, 5, 10, 20)] == [0.0, 1.0, 2.0, 2.0]
    assert KLSchedule("linear", kl_max=2.0, warmup_steps=0)(0) == 2.0  # no warm-up: the full weight


def test_cyclical_schedule_restarts_every_period_and_holds_after_the_ratio():
    s = KLSchedule("cyclical", kl_max=1.0, total_steps=100, n_cycles=4, cycle_ratio=0.5)  # period 25
    assert s(0) == 0.0 and s(25) == 0.0 and s(50) == 0.0 and s(75) == 0.0  # each cycle starts at 0
    assert s(5) == pytest.approx(5 / 12.5) and s(30) == pytest.approx(5 / 12.5)  # rising half, every cycle
    assert s(12.5) == 1.0 and s(13) == 1.0 and s(24) == 1.0 and s(99) == 1.0  # flat second half


def test_unknown_kind_is_a_config_error():
    with pytest.raises(ConfigError, match="train.kl_schedule must be one of constant, linear, cyclical"):
        KLSchedule("cosine")
