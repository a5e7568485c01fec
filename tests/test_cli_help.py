"""Every command and option of the CLI explains itself in --help."""
from __future__ import annotations

import argparse

from mobilegan.cli.main import build_parser


def _undocumented(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> list[str]:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helped = {choice.dest for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if name not in helped:
                    missing.append(" ".join((*path, name)) + " (command)")
                missing += _undocumented(sub, (*path, name))
        elif action.help is None and not isinstance(action, argparse._HelpAction):
            missing.append(" ".join((*path, *(action.option_strings or [action.dest]))))
    return missing


def test_every_command_and_option_has_help_text():
    assert _undocumented(build_parser(), ("mobilegan",)) == []


def test_the_check_sees_an_option_without_help():
    parser = build_parser()
    parser.add_argument("--undocumented")
    assert _undocumented(parser, ("mobilegan",)) == ["mobilegan --undocumented"]


def _option_help(command: str, option: str) -> str:
    commands = next(a for a in build_parser()._actions
                    if isinstance(a, argparse._SubParsersAction))
    sub = commands.choices[command]
    return next(a.help for a in sub._actions if option in a.option_strings)


def test_segment_help_states_the_numbers_the_code_uses():
    """Help text that quotes a limit quotes the one in force."""
    from mobilegan.inference.segmenter import BATCH_PIXELS, MAX_ASPECT_RATIO

    assert f"over {BATCH_PIXELS / 1e6:g} megapixels" in _option_help("segment", "--batch-size")
    commands = next(a for a in build_parser()._actions
                    if isinstance(a, argparse._SubParsersAction))
    description = " ".join(commands.choices["segment"].description.split())
    assert MAX_ASPECT_RATIO == 3.0 and "at least three times as long as wide" in description
