"""Charsets: built-ins, files, CTC class ids, clear errors."""

from __future__ import annotations

import json

import pytest

from pipeline.core.charset import Charset


def test_builtin_charsets_have_expected_sizes():
    ascii_set = Charset.from_spec("ascii")
    assert len(ascii_set) == 95 and " " in ascii_set and "~" in ascii_set and "\t" not in ascii_set
    assert ascii_set.num_classes == 96
    assert Charset.from_spec("digits").chars == "0123456789"
    alnum = Charset.from_spec("alnum")
    assert len(alnum) == 62 and "a" in alnum and "Z" in alnum and " " not in alnum
    assert Charset.from_spec().name == "ascii"


def test_encode_decode_round_trip_with_blank_as_class_zero():
    charset = Charset.from_spec("ascii")
    ids = charset.encode("Hi 42!")
    assert 0 not in ids and all(1 <= i < charset.num_classes for i in ids)
    assert charset.decode(ids) == "Hi 42!"
    assert charset.decode([0, ids[0], 0, 0, ids[1], 0]) == "Hi"
    assert charset.encode("") == []


def test_case_sensitive_and_unknown_characters_are_named():
    charset = Charset.from_spec("digits")
    assert charset.missing("12a4€") == {"a", "€"}
    with pytest.raises(ValueError, match=r"outside charset 'digits'.*'a' \(U\+0061\)"):
        charset.encode("12a4")
    alnum = Charset.from_spec("alnum")
    assert alnum.encode("a") != alnum.encode("A")


def test_decode_rejects_out_of_range_ids():
    with pytest.raises(ValueError, match="out of range"):
        Charset.from_spec("digits").decode([11])


def test_file_charset_with_unicode_and_space_line(tmp_path):
    path = tmp_path / "chars.txt"
    path.write_text("a\né\n \n中\n€\n\n", encoding="utf-8")
    charset = Charset.from_spec(str(path))
    assert charset.chars == "aé 中€"
    assert charset.encode("中 é") == [4, 3, 2]


def test_to_dict_round_trip_needs_no_file(tmp_path):
    path = tmp_path / "chars.txt"
    path.write_text("x\ny\nz\n", encoding="utf-8")
    charset = Charset.from_spec(str(path))
    restored = Charset.from_dict(json.loads(json.dumps(charset.to_dict())))
    path.unlink()
    assert restored == charset and restored.chars == "xyz" and restored.name == charset.name


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("\n\n", "is empty"),
        ("a\nb\na\n", r"line 3: duplicate character 'a' \(first on line 1\)"),
        ("a\nbc\n", r"line 2: expected one character, got 'bc'"),
    ],
)
def test_bad_charset_files_give_one_clear_line(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as info:
        Charset.from_spec(str(path))
    assert "\n" not in str(info.value)


def test_unknown_spec_and_missing_file():
    with pytest.raises(ValueError, match="unknown charset 'latin'; use one of ascii, digits, alnum"):
        Charset.from_spec("latin")
    with pytest.raises(ValueError, match="does not exist"):
        Charset.from_spec("/nonexistent/chars.txt")


def test_duplicate_characters_rejected_in_constructor():
    with pytest.raises(ValueError, match="duplicate"):
        Charset("x", "abca")
