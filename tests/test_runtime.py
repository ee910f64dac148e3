"""Torch's thread count: one core left free, an environment override, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from neuromkt.errors import NeuromktError
from neuromkt.model.threads import ENV_VAR, configure_threads, default_threads


@pytest.mark.parametrize(("cores", "expected"), [(1, 1), (2, 1), (4, 3), (16, 15)])
def test_one_core_is_left_free(monkeypatch, cores: int, expected: int) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert default_threads(cores) == expected


def test_the_environment_overrides_the_default(monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, " 3 ")
    assert default_threads(2) == 3


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_setting_is_named(monkeypatch, value: str) -> None:
    monkeypatch.setenv(ENV_VAR, value)
    with pytest.raises(NeuromktError, match=f"{ENV_VAR}='{value}' must be a positive"):
        default_threads()


def test_configure_sets_torch_and_reports_it(monkeypatch) -> None:
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv(ENV_VAR, "1")
        assert configure_threads() == 1 == torch.get_num_threads()
        assert configure_threads(2) == 2 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def test_the_cli_names_a_bad_setting(monkeypatch, capsys) -> None:
    from neuromkt.cli import main

    monkeypatch.setenv(ENV_VAR, "many")
    sample = Path(__file__).parents[1] / "sample_data" / "ecommerce_sessions.csv"
    assert main(["check", str(sample)]) == 2
    assert f"{ENV_VAR}='many'" in capsys.readouterr().err
