from pathlib import Path

from im2markup.data.vocab import BOS_ID, EOS_ID, UNK_ID, Vocab


def test_build_keeps_tokens_seen_twice_and_round_trips(tmp_path: Path) -> None:
    formulas = ["x ^ { 2 }", "y ^ { 2 }", "\\alpha"]
    vocab = Vocab.build(formulas, min_count=2)
    assert set(vocab.tokens) == {"^", "{", "}", "2"}
    ids = vocab.encode("x ^ { 2 }")
    assert ids[0] == BOS_ID and ids[-1] == EOS_ID and ids[1] == UNK_ID
    assert vocab.decode(ids) == ["<unk>", "^", "{", "2", "}"]
    vocab.save(tmp_path / "vocab.txt")
    assert Vocab.load(tmp_path / "vocab.txt") == vocab
