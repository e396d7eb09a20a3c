"""The bus commands' refusals: one line and exit 2, before anything starts."""

from __future__ import annotations

import pytest

from companion.cli import main


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["gateway"], "give --bus redis://"),
        (["cloud"], "give --bus redis://"),
        (["gateway", "--bus", "http://redis:6379"], "a redis:// URL without a password"),
        (["cloud", "--bus", "redis://u:pw@redis:6379/0"], "without a password"),
        (["bench", "load", "--workers", "1", "--kill-worker-at", "2"], "--workers 2 or more"),
        (["bench", "load", "--sessions", "0"], "--sessions 0: give at least 1"),
    ],
)
def test_bus_commands_refuse_bad_input_with_one_line(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own refusals (a setting's bad value)
        code = int(exit_.code or 0)
    assert code == 2
    err = capsys.readouterr().err
    assert said in err
