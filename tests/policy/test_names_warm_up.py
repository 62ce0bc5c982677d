"""The background load of jieba's dictionary pauses now and then and builds the very same dictionary."""

from __future__ import annotations

import pytest

from policy import names


def test_a_paced_warm_up_builds_the_same_dictionary_and_lets_others_run(monkeypatch: pytest.MonkeyPatch) -> None:
    names.warm_up()  # paced (the server's start-up); or already loaded by an earlier test, unpaced
    paced = names._pos_tokenizer()
    monkeypatch.setattr(names, "_tokenizer", None)
    pauses: list[float] = []
    monkeypatch.setattr(names.time, "sleep", pauses.append)
    names.warm_up()
    again = names._pos_tokenizer()
    lines = len(again.word_tag_tab)
    assert len(pauses) >= 2 * (lines // names.WARM_UP_SLICE_LINES)  # both passes over dict.txt paused
    monkeypatch.setattr(names, "_tokenizer", None)
    plain = names._pos_tokenizer()  # on demand: no pauses
    assert len(pauses) < 2 * (lines // names.WARM_UP_SLICE_LINES) + 2
    for built in (paced, again):
        assert built.tokenizer.FREQ == plain.tokenizer.FREQ and built.tokenizer.total == plain.tokenizer.total
        assert built.word_tag_tab == plain.word_tag_tab
    assert "get_dict_file" not in vars(again.tokenizer)  # the pacing is gone once loaded
