"""Hashing, identifiers and timestamp text for the simulator.

Job and blob ids embed the position of what they name (day, workflow, step, item) behind a
seeded mask and a checksum. That lets the server answer `GET /v1/consumer/jobs/{id}` or a blob
lookup by decoding the id, without an index of every id it ever generated, and lets a restarted
server with the same seed resolve ids handed out by an earlier one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache

MASK64 = (1 << 64) - 1
TICKS_PER_MS = 10_000  # .NET ticks are 100 ns
TICKS_PER_SECOND = 10_000_000
_EPOCH_DAY = date(1970, 1, 1).toordinal()

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def mix(*parts: int) -> int:
    """A 64-bit hash of a tuple of ints (order matters)."""
    h = 0x243F6A8885A308D3
    for part in parts:
        h = splitmix64(h ^ (part & MASK64))
    return h


def unit(h: int) -> float:
    """A 64-bit hash as a float in [0, 1)."""
    return (h >> 11) / 9007199254740992.0


# --- positions packed into ids -------------------------------------------------------------
# day:20 | workflow:24 | step:3 | item:9   (56 bits); jobs use item:3 (50 bits)
def pack_position(day: int, index: int, step: int, item: int, item_bits: int) -> int:
    return (((day << 24 | index) << 3 | step) << item_bits) | item


def unpack_position(value: int, item_bits: int) -> tuple[int, int, int, int]:
    item = value & ((1 << item_bits) - 1)
    value >>= item_bits
    step = value & 7
    value >>= 3
    return value >> 24, value & ((1 << 24) - 1), step, item


class IdCodec:
    """Seeded, reversible job and blob ids."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._blob_mask = mix(seed, 0xB10B) & ((1 << 56) - 1)
        self._job_mask = mix(seed, 0x70B) & ((1 << 50) - 1)
        self._blob_key = mix(seed, 0xB10B, 1)
        self._blob_key2 = mix(seed, 0xB10B, 2)
        self._job_key = mix(seed, 0x70B, 1)
        self._job_key2 = mix(seed, 0x70B, 2)

    def _blob_check(self, payload: int) -> int:
        """74 checksum bits."""
        return (
            splitmix64(self._blob_key ^ payload) << 10
            | splitmix64(self._blob_key2 ^ payload) & 1023
        )

    def _job_check(self, payload: int) -> int:
        """72 checksum bits."""
        return splitmix64(self._job_key ^ payload) << 8 | splitmix64(self._job_key2 ^ payload) & 255

    # Blob ids: 26 Crockford base32 characters (130 bits) + extension, like
    # `JNFDW54JNTATNW42HACYCWSQP0.jpeg`.
    def blob_id(self, day: int, index: int, step: int, item: int, ext: str) -> str:
        payload = pack_position(day, index, step, item, 9)
        check = self._blob_check(payload)
        # Whitening keyed on the checksum, so ids of neighbouring items share no visible run.
        pad = splitmix64(self._blob_mask ^ check) & ((1 << 56) - 1)
        value = check << 56 | (payload ^ self._blob_mask ^ pad)
        return crockford26(value) + "." + ext

    def decode_blob_id(self, blob_id: str) -> tuple[int, int, int, int] | None:
        stem, dot, _ext = blob_id.partition(".")
        if not dot or len(stem) != 26:
            return None
        value = from_crockford26(stem)
        if value is None:
            return None
        check = value >> 56
        pad = splitmix64(self._blob_mask ^ check) & ((1 << 56) - 1)
        payload = (value & ((1 << 56) - 1)) ^ self._blob_mask ^ pad
        if check != self._blob_check(payload):
            return None
        return unpack_position(payload, 9)

    # Job ids: UUID v4 layout (122 free bits = 72-bit checksum + 50-bit masked position).
    def job_id(self, day: int, index: int, step: int, job: int) -> str:
        payload = pack_position(day, index, step, job, 3)
        check = self._job_check(payload)
        pad = splitmix64(self._job_mask ^ check) & ((1 << 50) - 1)
        return format_uuid(check << 50 | (payload ^ self._job_mask ^ pad), version=4)

    def decode_job_id(self, job_id: str) -> tuple[int, int, int, int] | None:
        value = parse_uuid_bits(job_id, version=4)
        if value is None:
            return None
        check = value >> 50
        pad = splitmix64(self._job_mask ^ check) & ((1 << 50) - 1)
        payload = (value & ((1 << 50) - 1)) ^ self._job_mask ^ pad
        if check != self._job_check(payload):
            return None
        return unpack_position(payload, 3)


_PAIRS = [a + b for a in CROCKFORD for b in CROCKFORD]  # 10 bits -> 2 characters
_PAIR_INDEX = {pair: i for i, pair in enumerate(_PAIRS)}


def crockford26(value: int) -> str:
    """A 130-bit int as 26 Crockford base32 characters."""
    parts = [""] * 13
    for i in range(12, -1, -1):
        parts[i] = _PAIRS[value & 1023]
        value >>= 10
    return "".join(parts)


def from_crockford26(text: str) -> int | None:
    text = text.upper()
    value = 0
    for i in range(0, 26, 2):
        index = _PAIR_INDEX.get(text[i : i + 2])
        if index is None:
            return None
        value = value << 10 | index
    return value


def format_uuid(bits122: int, *, version: int) -> str:
    """Spread 122 payload bits over a UUID, setting the version nibble and RFC 4122 variant."""
    high48 = bits122 >> 74
    mid12 = (bits122 >> 62) & 0xFFF
    low62 = bits122 & ((1 << 62) - 1)
    value = high48 << 80 | version << 76 | mid12 << 64 | 0b10 << 62 | low62
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def parse_uuid_bits(text: str, *, version: int) -> int | None:
    if len(text) != 36 or text[8] != "-" or text[13] != "-" or text[18] != "-" or text[23] != "-":
        return None
    try:
        value = int(text.replace("-", ""), 16)
    except ValueError:
        return None
    if (value >> 76) & 0xF != version or (value >> 62) & 0b11 != 0b10:
        return None
    return (value >> 80) << 74 | ((value >> 64) & 0xFFF) << 62 | (value & ((1 << 62) - 1))


def uuid7(ms: int, rand74: int) -> str:
    """A UUIDv7 whose first 48 bits are the Unix time in milliseconds."""
    return format_uuid((ms & ((1 << 48) - 1)) << 74 | (rand74 & ((1 << 74) - 1)), version=7)


def uuid7_ms(text: str) -> int | None:
    bits = parse_uuid_bits(text, version=7)
    return None if bits is None else bits >> 74


# --- time text -----------------------------------------------------------------------------
def day_start_ms(day: date) -> int:
    return (day.toordinal() - _EPOCH_DAY) * 86_400_000


@lru_cache(maxsize=4096)
def _day_text(day_number: int) -> str:
    return date.fromordinal(day_number + _EPOCH_DAY).isoformat()


@lru_cache(maxsize=65536)
def _second_text(seconds: int) -> str:
    day_number, second_of_day = divmod(seconds, 86_400)
    hours, rest = divmod(second_of_day, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{_day_text(day_number)}T{hours:02d}:{minutes:02d}:{secs:02d}"


@lru_cache(maxsize=16384)
def format_ticks(ticks: int) -> str:
    """Ticks (100 ns since the Unix epoch) as .NET's System.Text.Json writes a UTC DateTime:
    ISO-8601 with `Z` and 0-7 fractional digits (trailing zeros trimmed)."""
    seconds, frac = divmod(ticks, TICKS_PER_SECOND)
    if frac:
        return f"{_second_text(seconds)}.{frac:07d}".rstrip("0") + "Z"
    return _second_text(seconds) + "Z"


_COMPACT = str.maketrans("", "", "-T:")


def compact_ms(ms: int) -> str:
    """`yyyyMMddHHmmssfff`, the suffix of a style-A workflow id."""
    seconds, millis = divmod(ms, 1000)
    return f"{_second_text(seconds).translate(_COMPACT)}{millis:03d}"


def parse_compact_ms(text: str) -> int | None:
    if len(text) != 17 or not text.isdigit():
        return None
    try:
        dt = datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(dt.timestamp()) * 1000 + int(text[14:])


def timespan(ticks: int) -> str:
    """A .NET TimeSpan in its constant ("c") format: `[d.]hh:mm:ss[.fffffff]`."""
    seconds, frac = divmod(max(ticks, 0), TICKS_PER_SECOND)
    days, seconds = divmod(seconds, 86_400)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    if days:
        text = f"{days}.{text}"
    if frac:
        text += f".{frac:07d}"
    return text
