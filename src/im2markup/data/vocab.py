"""Token ↔ id mapping shared by datasets, models and decoders."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
PAD_ID, BOS_ID, EOS_ID, UNK_ID = range(4)


class Vocab:
    """Ids 0–3 are the special tokens; the others follow the order they were given in."""

    def __init__(self, tokens: Iterable[str]):
        self.itos: list[str] = list(SPECIALS)
        for token in tokens:
            if token not in SPECIALS and token not in self.itos:
                self.itos.append(token)
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and other.itos == self.itos

    @property
    def tokens(self) -> list[str]:
        """The non-special tokens, in id order."""
        return self.itos[len(SPECIALS) :]

    def encode(self, tokens: Sequence[str] | str, add_bos_eos: bool = True) -> list[int]:
        """Map tokens (a list, or a space-separated string) to ids; unknown ones become `<unk>`."""
        if isinstance(tokens, str):
            tokens = tokens.split()
        ids = [self.stoi.get(t, UNK_ID) for t in tokens]
        return [BOS_ID, *ids, EOS_ID] if add_bos_eos else ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Map ids back to tokens, stopping at `<eos>` and skipping `<pad>`/`<bos>`."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS_ID:
                break
            if i in (PAD_ID, BOS_ID):
                continue
            out.append(self.itos[i] if 0 <= i < len(self.itos) else UNK)
        return out

    @classmethod
    def build(cls, formulas: Iterable[str], min_count: int = 2) -> Vocab:
        """Tokens seen at least `min_count` times (the paper keeps those seen twice)."""
        counts = Counter(t for f in formulas for t in f.split())
        kept = sorted(
            (t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t)
        )
        return cls(kept)

    def save(self, path: str | Path) -> None:
        """One token per line, specials excluded (they are implied)."""
        Path(path).write_text("".join(f"{t}\n" for t in self.tokens), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        return cls(line for line in Path(path).read_text(encoding="utf-8").splitlines() if line)
