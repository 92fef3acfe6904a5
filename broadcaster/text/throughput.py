"""A throughput measurement of the normalizer, for the lead's benchmarks (not for tests)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from broadcaster.text.lexicon import Lexicon, load_lexicon
from broadcaster.text.pipeline import normalize

SAMPLE_BULLETIN = (
    "THÔNG BÁO\n"
    "V/v tổ chức tiêm vắc-xin phòng bệnh cho trẻ em năm 2026\n"
    "Thực hiện KH số 45/KH-UBND ngày 05/01/2026 của UBND huyện, TYT xã phối hợp với CA xã, "
    "ĐTN, HLHPN tổ chức tiêm chủng từ 7h30-11h00 và 13h30-17h, T7 (15/12) và CN (16/12) "
    "tại NVH thôn Đông. Dự kiến 1.250 trẻ, đạt 98,5% kế hoạch; kinh phí 12.500.000đ. "
    "Nhiệt độ 18-22°C, mưa 10-20mm: đề nghị phụ huynh mang áo mưa. Mọi thắc mắc liên hệ "
    "0912.345.678 hoặc đường dây nóng 115. Quý I/2026, xã phấn đấu 100% hộ có thẻ BHYT."
)


@dataclass(frozen=True)
class Throughput:
    """How fast ``normalize`` ran: characters and texts per second of wall time."""

    texts: int
    characters: int
    seconds: float

    @property
    def characters_per_second(self) -> float:
        """Input characters normalized per second."""
        return self.characters / self.seconds if self.seconds else float("inf")

    @property
    def texts_per_second(self) -> float:
        """Texts normalized per second."""
        return self.texts / self.seconds if self.seconds else float("inf")


def measure_throughput(
    texts: Sequence[str] | None = None, *, rounds: int = 20, lexicon: Lexicon | None = None
) -> Throughput:
    """Normalize ``texts`` (default: a sample bulletin) ``rounds`` times and time it."""
    texts = list(texts) if texts is not None else [SAMPLE_BULLETIN]
    lexicon = lexicon if lexicon is not None else load_lexicon()
    normalize(texts[0], lexicon)  # warm-up: regex compilation and the built-in lexicon
    started = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            normalize(text, lexicon)
    seconds = time.perf_counter() - started
    return Throughput(texts=rounds * len(texts), characters=rounds * sum(map(len, texts)), seconds=seconds)
