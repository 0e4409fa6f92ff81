"""SCAN: grammar, interpretation, add-primitive splits, and the official files."""

from collections import Counter

import pytest

from anchorlab.tasks import scan
from anchorlab.tasks.datafiles import DataFileError


def lines(examples):
    return Counter(example.line() for example in examples)


@pytest.mark.parametrize(
    ("command", "actions"),
    [
        ("jump", "I_JUMP"),
        ("turn left", "I_TURN_LEFT"),
        ("walk opposite left", "I_TURN_LEFT I_TURN_LEFT I_WALK"),
        ("look around right", "I_TURN_RIGHT I_LOOK " * 3 + "I_TURN_RIGHT I_LOOK"),
        ("turn around left twice", " ".join(["I_TURN_LEFT"] * 8)),
        (
            "jump opposite left and walk thrice",
            "I_TURN_LEFT I_TURN_LEFT I_JUMP I_WALK I_WALK I_WALK",
        ),
        ("turn left after jump twice", "I_JUMP I_JUMP I_TURN_LEFT"),
    ],
)
def test_interpretation_follows_the_rules(command, actions):
    assert scan.interpret(command) == tuple(actions.split())


@pytest.mark.parametrize(
    "command", ["turn", "twice", "walk and", "jump left and run and look", "fly", "walk twice left"]
)
def test_interpret_refuses_what_the_grammar_cannot_produce(command):
    with pytest.raises(scan.ScanCommandError):
        scan.interpret(command)


def test_grammar_sizes_match_the_data_set():
    assert len(scan.verb_phrases()) == 34
    assert len(scan.sentences()) == 102
    commands = list(scan.all_commands())
    assert len(commands) == len(set(commands)) == 20_910
    examples = scan.all_examples()
    assert max(len(e.command) for e in examples) == 9
    assert max(len(e.actions) for e in examples) == 48


@pytest.mark.parametrize(
    ("primitive", "n_train", "n_test", "copies"),
    [("turn left", 21_890, 1_208, 2_189), ("jump", 14_670, 7_706, 1_467)],
)
def test_add_primitive_split_sizes(primitive, n_train, n_test, copies):
    split = scan.add_primitive_split(primitive)
    bare = tuple(primitive.split())
    assert (len(split.train), len(split.test)) == (n_train, n_test)
    assert sum(e.command == bare for e in split.train) == copies
    assert all(scan.contains_primitive(e.command, primitive) for e in split.test)
    assert not any(
        scan.contains_primitive(e.command, primitive) for e in split.train if e.command != bare
    )


def test_turn_opposite_left_is_not_turn_left():
    assert not scan.contains_primitive(("turn", "opposite", "left"), "turn left")
    assert scan.contains_primitive(("walk", "and", "turn", "left", "twice"), "turn left")


def test_split_names_round_trip_and_unknown_splits_are_refused():
    assert scan.primitive_of(scan.split_name("turn left")) == "turn left"
    with pytest.raises(scan.ScanCommandError, match="addprim_turn_left"):
        scan.primitive_of("addprim_fly")


def test_generator_reproduces_tasks_txt_as_a_multiset(official_scan_dir):
    official = scan.load_scan_file(official_scan_dir / "tasks.txt")
    assert lines(scan.all_examples()) == lines(official)


@pytest.mark.usefixtures("official_scan_dir")
def test_generator_reproduces_addprim_turn_left_as_multisets():
    generated = scan.add_primitive_split("turn left")
    official = scan.load_split("addprim_turn_left", "official")
    assert lines(generated.train) == lines(official.train)
    assert lines(generated.test) == lines(official.test)


def test_exported_lines_equal_the_official_bytes_as_a_multiset(official_scan_dir):
    text = (official_scan_dir / "add_prim_split" / "tasks_test_addprim_turn_left.txt").read_text()
    generated = scan.add_primitive_split("turn left").test
    assert Counter(text.splitlines()) == Counter(e.line() for e in generated)


def test_missing_and_malformed_files_name_the_file(tmp_path):
    with pytest.raises(DataFileError, match=r"nowhere\.txt: file not found"):
        scan.load_scan_file(tmp_path / "nowhere.txt")

    bad = tmp_path / "bad.txt"
    bad.write_text("IN: walk OUT: I_WALK\nIN: walk twice OUT: I_WALK\n")
    with pytest.raises(DataFileError, match=r"bad\.txt:2: OUT does not match"):
        scan.load_scan_file(bad)

    bad.write_text("walk I_WALK\n")
    with pytest.raises(DataFileError, match=r"bad\.txt:1: expected 'IN: <command>"):
        scan.load_scan_file(bad)
