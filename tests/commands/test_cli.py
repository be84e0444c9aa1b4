import pytest

from isometry import __version__
from isometry.cli import COMMANDS, build_parser, main


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and __version__ in capsys.readouterr().out


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "evaluate" in capsys.readouterr().err


def test_every_registered_command_has_help(capsys):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert "evaluate" in sub.choices
    assert set(sub.choices) <= set(COMMANDS)
    for name in sub.choices:
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0


def test_unknown_option_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", "x.npy", "--no-such-flag"])
    assert exc.value.code == 2
