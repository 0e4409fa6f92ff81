"""SCAN (Lake & Baroni, 2018): commands in a small navigation language and their actions.

SCAN is fully determined by a grammar and its interpretation, so the whole data set is
generated here rather than read: ``all_commands()`` yields the 20,910 distinct commands,
``interpret`` maps a command to its action sequence, and ``add_primitive_split`` builds the
add-primitive split for any primitive (``turn left``, ``jump``, ...) by the official rule.
``load_scan_file`` reads the official ``IN: ... OUT: ...`` files and checks every line
against the interpretation.

Grammar: a verb phrase V is ``ACTION``, ``ACTION DIR``, ``turn DIR``, ``X opposite DIR`` or
``X around DIR`` (X an action or ``turn``); a sentence is ``V``, ``V twice`` or ``V thrice``;
a command is ``S``, ``S and S`` or ``S after S``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from anchorlab.tasks.datafiles import DataFileError, dataset_dir, read_lines

logger = logging.getLogger(__name__)

ACTIONS = {"walk": "I_WALK", "look": "I_LOOK", "run": "I_RUN", "jump": "I_JUMP"}
DIRECTIONS = {"left": "I_TURN_LEFT", "right": "I_TURN_RIGHT"}
REPEATS = {"twice": 2, "thrice": 3}
CONJUNCTIONS = ("and", "after")
COMMAND_WORDS = (*ACTIONS, "turn", *DIRECTIONS, "opposite", "around", *REPEATS, *CONJUNCTIONS)
ACTION_TOKENS = (*ACTIONS.values(), *DIRECTIONS.values())
PRIMITIVES = ("turn left", "turn right", "walk", "look", "run", "jump")
"""Primitives an add-primitive split can hold out."""
REPEAT_FRACTION = 0.1
"""Share of the add-primitive train file made of copies of the bare primitive."""

OFFICIAL_FILES = {
    "all": "tasks.txt",
    "addprim_turn_left/train": "add_prim_split/tasks_train_addprim_turn_left.txt",
    "addprim_turn_left/test": "add_prim_split/tasks_test_addprim_turn_left.txt",
    "addprim_jump/train": "add_prim_split/tasks_train_addprim_jump.txt",
    "addprim_jump/test": "add_prim_split/tasks_test_addprim_jump.txt",
}


class ScanCommandError(ValueError):
    """A string that is not a command of the SCAN grammar."""


@dataclass(frozen=True)
class ScanExample:
    """One command and its action sequence, both as tuples of words/tokens."""

    command: tuple[str, ...]
    actions: tuple[str, ...]

    def line(self) -> str:
        """The official line format: ``IN: <command> OUT: <actions>``."""
        return f"IN: {' '.join(self.command)} OUT: {' '.join(self.actions)}"


def verb_phrases() -> list[tuple[str, ...]]:
    """The 34 verb phrases, in a fixed order."""
    phrases: list[tuple[str, ...]] = [(action,) for action in ACTIONS]
    for direction in DIRECTIONS:
        phrases += [(action, direction) for action in ACTIONS]
        phrases.append(("turn", direction))
        for modifier in ("opposite", "around"):
            phrases += [(action, modifier, direction) for action in (*ACTIONS, "turn")]
    return phrases


def sentences() -> list[tuple[str, ...]]:
    """The 102 sentences: each verb phrase alone, twice and thrice."""
    return [
        phrase + repeat for phrase in verb_phrases() for repeat in ((), ("twice",), ("thrice",))
    ]


def all_commands() -> Iterator[tuple[str, ...]]:
    """Every SCAN command once (20,910), in a fixed order: sentences, then conjunctions."""
    single = sentences()
    yield from single
    for conjunction in CONJUNCTIONS:
        for first in single:
            for second in single:
                yield (*first, conjunction, *second)


def _interpret_phrase(words: tuple[str, ...]) -> list[str]:
    head = words[0]
    if head not in ACTIONS and head != "turn":
        raise ScanCommandError(f"a verb phrase starts with an action or 'turn', got {head!r}")
    action = [ACTIONS[head]] if head in ACTIONS else []
    if len(words) == 1:
        if not action:
            raise ScanCommandError("'turn' needs a direction (turn left, turn right)")
        return action
    *modifier, direction = words[1:]
    if direction not in DIRECTIONS or len(modifier) > 1:
        raise ScanCommandError(f"cannot read verb phrase {' '.join(words)!r}")
    turn = [DIRECTIONS[direction]]
    if not modifier:
        return turn + action
    if modifier == ["opposite"]:
        return turn + turn + action
    if modifier == ["around"]:
        return (turn + action) * 4
    raise ScanCommandError(f"unknown modifier {modifier[0]!r} in {' '.join(words)!r}")


def _interpret_sentence(words: tuple[str, ...]) -> list[str]:
    if not words:
        raise ScanCommandError("empty sentence")
    if words[-1] in REPEATS:
        if len(words) == 1:
            raise ScanCommandError(f"{words[-1]!r} needs a verb phrase before it")
        return _interpret_phrase(words[:-1]) * REPEATS[words[-1]]
    return _interpret_phrase(words)


def interpret(command: tuple[str, ...] | str) -> tuple[str, ...]:
    """The action sequence of a command; ``S1 and S2`` runs S1 first, ``S1 after S2`` S2
    first. Refuses (``ScanCommandError``) anything outside the grammar."""
    words = tuple(command.split()) if isinstance(command, str) else tuple(command)
    unknown = [word for word in words if word not in COMMAND_WORDS]
    if unknown:
        raise ScanCommandError(
            f"unknown word {unknown[0]!r}; SCAN words: {' '.join(COMMAND_WORDS)}"
        )

    joints = [i for i, word in enumerate(words) if word in CONJUNCTIONS]
    if len(joints) > 1:
        raise ScanCommandError("a command joins at most two sentences")
    if not joints:
        actions = _interpret_sentence(words)
    else:
        first, second = words[: joints[0]], words[joints[0] + 1 :]
        left, right = _interpret_sentence(first), _interpret_sentence(second)
        actions = left + right if words[joints[0]] == "and" else right + left
    return tuple(actions)


def all_examples() -> list[ScanExample]:
    """The whole data set (the official ``tasks.txt`` as a set), in ``all_commands`` order."""
    return [ScanExample(command, interpret(command)) for command in all_commands()]


def contains_primitive(command: tuple[str, ...], primitive: str) -> bool:
    """Whether the primitive's words occur consecutively in the command."""
    words = tuple(primitive.split())
    n = len(words)
    return any(command[i : i + n] == words for i in range(len(command) - n + 1))


def split_name(primitive: str) -> str:
    """``turn left`` -> ``addprim_turn_left``."""
    return "addprim_" + primitive.replace(" ", "_")


def primitive_of(split: str) -> str:
    """``addprim_turn_left`` -> ``turn left``; refuses names that are no add-primitive split."""
    primitive = split.removeprefix("addprim_").replace("_", " ")
    if not split.startswith("addprim_") or primitive not in PRIMITIVES:
        names = ", ".join(split_name(p) for p in PRIMITIVES)
        raise ScanCommandError(f"unknown SCAN split {split!r}; use all or one of {names}")
    return primitive


@dataclass(frozen=True)
class ScanSplit:
    name: str
    train: list[ScanExample]
    test: list[ScanExample]


def add_primitive_split(primitive: str, repeat_fraction: float = REPEAT_FRACTION) -> ScanSplit:
    """The add-primitive split for ``primitive`` by the official rule.

    Test: every command containing the primitive except the bare primitive. Train: every
    other command once, plus copies of the bare primitive making up ``repeat_fraction`` of
    the train list (rounded to the nearest whole copy; 2,189 for ``turn left``). The copies
    come last; the official files are shuffled, so compare them as multisets.
    """
    if primitive not in PRIMITIVES:
        raise ScanCommandError(f"unknown primitive {primitive!r}; one of {', '.join(PRIMITIVES)}")
    if not 0 <= repeat_fraction < 1:
        raise ScanCommandError(f"repeat_fraction must lie in [0, 1), got {repeat_fraction}")
    bare = tuple(primitive.split())
    train, test = [], []
    for example in all_examples():
        if example.command != bare and contains_primitive(example.command, primitive):
            test.append(example)
        elif example.command != bare:
            train.append(example)
    copies = round(repeat_fraction * len(train) / (1 - repeat_fraction))
    train += [ScanExample(bare, interpret(bare))] * copies
    return ScanSplit(split_name(primitive), train, test)


def parse_line(line: str) -> ScanExample:
    """One ``IN: <command> OUT: <actions>`` line; refuses other shapes."""
    if not line.startswith("IN: ") or " OUT: " not in line:
        raise ScanCommandError("expected 'IN: <command> OUT: <actions>'")
    command, actions = line[len("IN: ") :].split(" OUT: ", 1)
    return ScanExample(tuple(command.split()), tuple(actions.split()))


def load_scan_file(path: str | os.PathLike, check: bool = True) -> list[ScanExample]:
    """Every line of an official SCAN file, in file order.

    With ``check``, each line's actions must equal the interpretation of its command.
    Refuses (``DataFileError``, naming the file and line) a missing file or a bad line.
    """
    path = Path(path)
    examples = []
    for number, line in enumerate(read_lines(path), start=1):
        try:
            example = parse_line(line)
            if check and interpret(example.command) != example.actions:
                raise ScanCommandError("OUT does not match the interpretation of IN")
        except ScanCommandError as error:
            raise DataFileError(f"{path}:{number}: {error}") from None
        examples.append(example)
    logger.debug("read %d SCAN examples from %s", len(examples), path)
    return examples


def official_path(which: str, data: str | os.PathLike | None = None) -> Path:
    """Path of an official file: ``all`` or ``<split>/<train|test>`` (see OFFICIAL_FILES)."""
    if which not in OFFICIAL_FILES:
        raise ScanCommandError(f"no official SCAN file {which!r}; one of {sorted(OFFICIAL_FILES)}")
    return dataset_dir("scan", data) / OFFICIAL_FILES[which]


def load_split(
    split: str, source: str = "official", data: str | os.PathLike | None = None
) -> ScanSplit:
    """An add-primitive split, read from the official files or generated from the grammar.

    ``source="official"`` reads ``<data>/scan/add_prim_split/...`` (refusing a missing file);
    ``source="grammar"`` needs no files and gives the same multisets.
    """
    primitive = primitive_of(split)
    if source == "grammar":
        return add_primitive_split(primitive)
    if source != "official":
        raise ScanCommandError(f"source must be 'official' or 'grammar', got {source!r}")
    train = load_scan_file(official_path(f"{split}/train", data))
    test = load_scan_file(official_path(f"{split}/test", data))
    return ScanSplit(split, train, test)
