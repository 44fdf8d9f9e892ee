"""What every step-type builder draws from: a prompt, a size, a seed, input URLs."""

from __future__ import annotations

from random import Random

from simulator import vocab
from simulator.ids import crockford26
from simulator.model import BLOB_HOST, pick

DEFAULT_TIMEOUT = "00:20:00"


class Draws:
    """The draws shared by all step types, made once per step in a fixed order (so the
    random stream never depends on which builder runs)."""

    __slots__ = ("height", "negative", "prompt", "quantity", "rng", "seed", "wf_tag", "width")

    def __init__(self, rng: Random, wf_tag: str) -> None:
        self.rng = rng
        self.wf_tag = wf_tag
        self.width, self.height = pick(rng, vocab.SIZES)
        self.seed = rng.getrandbits(32)
        self.prompt = _prompt(rng)
        self.negative: str = pick(rng, vocab.NEGATIVES)
        self.quantity: int = (1, 1, 2, 4)[int(rng.random() * 4)]

    def url(self, ext: str = "png") -> str:
        """A signed blob URL, as inputs that point at earlier uploads carry."""
        rng = self.rng
        stem = crockford26(rng.getrandbits(130))
        return f"{BLOB_HOST}/v2/consumer/blobs/{stem}.{ext}?sig={rng.getrandbits(64):016x}"

    def ratio(self, low: float, high: float, digits: int = 4) -> float:
        return round(low + self.rng.random() * (high - low), digits)

    def count(self, low: int, high: int) -> int:
        """An int in [low, high]."""
        return low + int(self.rng.random() * (high - low + 1))


def _prompt(rng: Random) -> str:
    subject = pick(rng, vocab.SUBJECTS)
    setting = pick(rng, vocab.SETTINGS)
    n = len(vocab.STYLES)
    first = int(rng.random() * n)
    a = vocab.STYLES[first]
    b = vocab.STYLES[(first + 1 + int(rng.random() * (n - 1))) % n]
    return f"{subject} {setting}, {a}, {b}"
