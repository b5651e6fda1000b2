"""alpr.ops CTC decoding (greedy, beam, constrained) and fixed-slot decoding against NumPy and
brute-force references."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from alpr import ops

CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def random_probs(
    rng: np.random.Generator, b: int, t: int, c: int, sharp: float = 3.0
) -> npt.NDArray[np.float32]:
    logits = rng.normal(0, sharp, (b, t, c))
    p = np.exp(logits - logits.max(-1, keepdims=True))
    return (p / p.sum(-1, keepdims=True)).astype(np.float32)


def numpy_greedy(
    probs: npt.NDArray[np.float32], charset: list[str] | str, blank: int = 0
) -> list[tuple[str, list[float]]]:
    """argmax + collapse; confidence = peak probability over the run of frames of each character."""
    tokens = [c for i, c in enumerate(_classes(charset, blank)) if i != blank]
    out = []
    for row in probs:
        best = row.argmax(-1)
        text, conf, prev = [], [], -1
        for t, k in enumerate(best):
            if k != blank:
                p = float(row[t, k])
                if k == prev:
                    conf[-1] = max(conf[-1], p)
                else:
                    text.append(tokens[k - (k > blank)])
                    conf.append(p)
            prev = k
        out.append(("".join(text), conf))
    return out


def _classes(charset: list[str] | str, blank: int) -> list[str]:
    toks = list(charset)
    return [*toks[:blank], "<blank>", *toks[blank:]]


def ctc_log_prob(probs: npt.NDArray[np.float32], labels: list[int], blank: int = 0) -> float:
    """Exact log P(labels | probs (T, C)) by the CTC forward algorithm (float64)."""
    ext = [blank]
    for label in labels:
        ext += [label, blank]
    lp = np.log(np.maximum(probs.astype(np.float64), 1e-300))
    alpha = np.full(len(ext), -np.inf)
    alpha[0] = lp[0, blank]
    if len(ext) > 1:
        alpha[1] = lp[0, ext[1]]
    for t in range(1, probs.shape[0]):
        new = np.full(len(ext), -np.inf)
        for s in range(len(ext)):
            terms = [alpha[s]]
            if s >= 1:
                terms.append(alpha[s - 1])
            if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                terms.append(alpha[s - 2])
            new[s] = np.logaddexp.reduce(terms) + lp[t, ext[s]]
        alpha = new
    return float(np.logaddexp.reduce(alpha[-2:]) if len(ext) > 1 else alpha[0])


def brute_force_best(probs: npt.NDArray[np.float32], blank: int = 0) -> dict[tuple[int, ...], float]:
    """P(labelling) for every labelling, by enumerating all C^T paths of a tiny (T, C) row."""
    t_len, c = probs.shape
    total: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(c), repeat=t_len):
        p = math.prod(float(probs[t, k]) for t, k in enumerate(path))
        labels = tuple(k for i, k in enumerate(path) if k != blank and (i == 0 or path[i - 1] != k))
        total[labels] = total.get(labels, 0.0) + p
    return total


def to_labels(text: str, charset: str, blank: int = 0) -> list[int]:
    return [charset.index(ch) + (1 if charset.index(ch) >= blank else 0) for ch in text]


@pytest.mark.parametrize("blank", [0, 36])
def test_greedy_matches_numpy(blank: int) -> None:
    rng = np.random.default_rng(blank)
    probs = random_probs(rng, 64, 32, 37)
    got = ops.ctc_decode(probs, CHARSET, blank)
    want = numpy_greedy(probs, CHARSET, blank)
    assert [g[0] for g in got] == [w[0] for w in want]
    for (_, conf), (_, wconf) in zip(got, want, strict=True):
        assert conf.dtype == np.float32
        np.testing.assert_array_equal(conf, np.asarray(wconf, np.float32))


def test_greedy_logits_equal_probabilities() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, (8, 20, 37)).astype(np.float32)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    probs = (p / p.sum(-1, keepdims=True)).astype(np.float32)
    for method in ("greedy", "beam"):
        a = ops.ctc_decode(logits, CHARSET, logits=True, method=method)  # type: ignore[arg-type]
        b = ops.ctc_decode(probs, CHARSET, method=method)  # type: ignore[arg-type]
        assert [x[0] for x in a] == [x[0] for x in b]
        for (_, ca), (_, cb) in zip(a, b, strict=True):
            np.testing.assert_allclose(ca, cb, rtol=1e-4, atol=1e-6)


def test_low_min_confidence_flags_the_uncertain_character() -> None:
    # "AB7": the model hesitates between 7 and 1 on the last character.
    cs = "17AB"
    frames = [(3, 0.95), (0, 0.9), (4, 0.97), (0, 0.9), (2, 0.51)]
    probs = np.full((1, len(frames), 5), 0.0, np.float32)
    for t, (k, p) in enumerate(frames):
        probs[0, t] = (1 - p) / 4
        probs[0, t, k] = p
    probs[0, 4, 1] = 0.45
    probs[0, 4] /= probs[0, 4].sum()
    text, conf = ops.ctc_decode(probs, cs)[0]
    assert text == "AB7"
    assert int(np.argmin(conf)) == 2 and conf.min() < 0.6 < conf[:2].min()


def test_multichar_and_unicode_tokens() -> None:
    charset = ["Ä", "Ö", "Ü", "CH", "-"]
    seq = [1, 0, 4, 0, 4, 5, 3, 0, 2]
    probs = np.full((1, len(seq), 6), 0.01, np.float32)
    probs[0, np.arange(len(seq)), seq] = 0.95
    assert ops.ctc_decode(probs, charset)[0][0] == "ÄCHCH-ÜÖ"
    assert ops.ctc_decode(probs, charset, method="beam")[0][0] == "ÄCHCH-ÜÖ"
    text, _, idx = ops.ctc_decode_constrained(probs, charset, ["LLL", "[ÄÖÜ]CHCH-[ÄÖÜ][ÄÖÜ]"])[0]
    assert (text, idx) == ("ÄCHCH-ÜÖ", 1)


@pytest.mark.parametrize("seed", range(12))
def test_beam_finds_the_exact_best_labelling_on_tiny_rows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t, c = int(rng.integers(1, 6)), int(rng.integers(2, 4))
    probs = random_probs(rng, 1, t, c, sharp=1.0)
    cs = "AB"[: c - 1]
    table = brute_force_best(probs[0])
    best = max(table.values())
    text, conf = ops.ctc_decode(probs, cs, method="beam", beam_width=64)[0]
    labels = tuple(to_labels(text, cs))
    assert table.get(labels, 0.0) == pytest.approx(best, rel=1e-9)
    assert conf.shape == (len(text),)
    # The forward algorithm used as the reference agrees with the enumeration.
    assert math.exp(ctc_log_prob(probs[0], list(labels))) == pytest.approx(table[labels], rel=1e-9)


@pytest.mark.parametrize("width", [1, 3, 10])
def test_beam_never_less_probable_than_greedy(width: int) -> None:
    rng = np.random.default_rng(width)
    probs = random_probs(rng, 16, 24, 11, sharp=1.0)
    cs = CHARSET[:10]
    greedy = ops.ctc_decode(probs, cs)
    beam = ops.ctc_decode(probs, cs, method="beam", beam_width=width)
    better = 0
    for row, (g, _), (b, _) in zip(probs, greedy, beam, strict=True):
        pg, pb = ctc_log_prob(row, to_labels(g, cs)), ctc_log_prob(row, to_labels(b, cs))
        assert pb >= pg - 1e-9
        better += pb > pg + 1e-9
    if width == 10:
        assert better > 0  # on flat rows the beam does find more probable labellings


def pattern_regex(p: str) -> str:
    return "".join({"L": "[A-Z]", "9": "[0-9]", "*": "[A-Z0-9]"}.get(ch, re.escape(ch)) for ch in p)


@pytest.mark.parametrize("seed", range(10))
def test_constrained_matches_brute_force_on_tiny_rows(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    cs = "A1B"
    probs = random_probs(rng, 1, 5, 4, sharp=1.0)
    patterns = ["L9", "LL", "9"]
    table = brute_force_best(probs[0])
    regexes = [re.compile(pattern_regex(p).replace("[A-Z]", "[AB]").replace("[0-9]", "1")) for p in patterns]

    def decode(labels: tuple[int, ...]) -> str:
        return "".join(cs[k - 1] for k in labels)

    allowed = {lab: p for lab, p in table.items() if any(r.fullmatch(decode(lab)) for r in regexes)}
    text, conf, idx = ops.ctc_decode_constrained(probs, cs, patterns, beam_width=64)[0]
    assert allowed, "every row admits some pattern at T=5"
    assert allowed[tuple(to_labels(text, cs))] == pytest.approx(max(allowed.values()), rel=1e-9)
    assert idx == next(i for i, r in enumerate(regexes) if r.fullmatch(text))
    assert conf.shape == (len(text),)


def test_constrained_fixes_a_letter_digit_confusion_and_reports_no_match() -> None:
    cs = CHARSET
    want = "ABC1234"
    probs = np.full((2, 14, 37), 0.001, np.float32)
    for t in range(14):
        k = 0 if t % 2 else cs.index(want[t // 2]) + 1
        probs[:, t, k] = 0.9
    # Frame of "1": the model prefers "I" slightly.
    probs[:, 6, cs.index("1") + 1] = 0.40
    probs[:, 6, cs.index("I") + 1] = 0.45
    probs /= probs.sum(-1, keepdims=True)
    assert ops.ctc_decode(probs, cs)[0][0] == "ABCI234"
    (text, conf, idx), _ = ops.ctc_decode_constrained(probs, cs, ["LL9999", "LLL9999"])
    assert (text, idx) == ("ABC1234", 1)
    assert conf[3] < 0.5 < conf[:3].min()
    # A pattern longer than the 14 frames cannot match any path.
    text, _, idx = ops.ctc_decode_constrained(probs, cs, ["L" * 15])[0]
    assert (text, idx) == (ops.ctc_decode(probs, cs, method="beam")[0][0], -1)


@pytest.mark.parametrize(
    ("pattern", "regex", "good", "bad"),
    [
        ("[A-HJ-NP-Z]9", r"[A-HJ-NP-Z][0-9]", "H5", "I5"),
        ("\\L9", r"L[0-9]", "L1", "A1"),
        ("**-9", r"[A-Z0-9][A-Z0-9]-[0-9]", "A1-2", "A12-"),
        ("[\\]A]9", r"[\]A][0-9]", "]1", "B1"),
    ],
)
def test_pattern_syntax(pattern: str, regex: str, good: str, bad: str) -> None:
    cs = "".join(sorted(set(CHARSET + "-]")))
    for text in (good, bad):
        probs = np.full((1, 2 * len(text), len(cs) + 1), 1e-4, np.float32)
        for i, ch in enumerate(text):
            probs[0, 2 * i, cs.index(ch) + 1] = 1.0
            probs[0, 2 * i + 1, 0] = 1.0
        got, _, idx = ops.ctc_decode_constrained(probs, cs, [pattern])[0]
        if text == good:
            assert (got, idx) == (good, 0)
        else:
            # The constraint steers the search to a (much less likely) matching path.
            assert got != bad and idx == 0
        assert re.fullmatch(regex, got)


def test_slot_decode() -> None:
    alphabet = CHARSET + "_"
    plate = "AB123__"
    probs = np.full((2, 7, 37), 0.001, np.float32)
    for s, ch in enumerate(plate):
        probs[:, s, alphabet.index(ch)] = 0.9 - 0.1 * s
    got = ops.slot_decode(probs, alphabet)
    assert got[0][0] == "AB123"
    np.testing.assert_allclose(got[0][1], [0.9, 0.8, 0.7, 0.6, 0.5], rtol=1e-6)
    logits = np.log(probs)
    lg = ops.slot_decode(logits, alphabet, logits=True)
    assert lg[1][0] == "AB123"
    np.testing.assert_allclose(
        lg[1][1], np.array([0.9, 0.8, 0.7, 0.6, 0.5]) / probs[0, :5].sum(-1), rtol=1e-5
    )


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda p: ops.ctc_decode(p, CHARSET[:-1]),
            ValueError,
            r"expected C = len\(charset\) \+ 1 = 36 classes, got C = 37",
        ),
        (
            lambda p: ops.ctc_decode(p, CHARSET, blank=37),
            ValueError,
            r"blank: expected an index in \[0, 37\), got 37",
        ),
        (lambda p: ops.ctc_decode(p, CHARSET, blank=-1), ValueError, "blank: expected an index"),
        (
            lambda p: ops.ctc_decode(p.astype(np.float64), CHARSET),
            TypeError,
            r"probs: expected \(B, T, 37\) float32, got \(2, 5, 37\) float64",
        ),
        (lambda p: ops.ctc_decode(p[0], CHARSET), ValueError, r"expected \(B, T, C\).*got \[5, 37\]"),
        (lambda p: ops.ctc_decode(p[:, ::2], CHARSET), ValueError, "C-contiguous"),
        (
            lambda p: ops.ctc_decode(p, CHARSET, method="viterbi"),
            ValueError,
            "method: expected 'greedy' or 'beam', got \"viterbi\"",
        ),  # type: ignore[arg-type]
        (
            lambda p: ops.ctc_decode(p, CHARSET, method="beam", beam_width=0),
            ValueError,
            "beam_width: expected >= 1, got 0",
        ),
        (lambda p: ops.ctc_decode(p, 12), TypeError, "charset: expected a str or a list of str"),  # type: ignore[arg-type]
        (lambda p: ops.ctc_decode(p, [*CHARSET[:-1], ""]), ValueError, "charset: expected non-empty tokens"),
        (
            lambda p: ops.ctc_decode_constrained(p, CHARSET, []),
            ValueError,
            "patterns: expected 1 to 64 patterns, got 0",
        ),
        (lambda p: ops.ctc_decode_constrained(p, CHARSET, ["L"] * 65), ValueError, "got 65"),
        (lambda p: ops.ctc_decode_constrained(p, CHARSET, ["[AB"]), ValueError, "expected ']'"),
        (lambda p: ops.ctc_decode_constrained(p, CHARSET, ["LL\\"]), ValueError, "after '\\\\'"),
        (lambda p: ops.slot_decode(p, CHARSET + "_", pad_char="#"), ValueError, "pad_char: expected one of"),
        (lambda p: ops.slot_decode(p, CHARSET), ValueError, r"last axis = len\(alphabet\) = 36, got 37"),
    ],
)
def test_bad_input_says_expected_vs_got(call: object, error: type[Exception], match: str) -> None:
    probs = random_probs(np.random.default_rng(0), 2, 5, 37)
    with pytest.raises(error, match=match):
        call(probs)  # type: ignore[operator]


def test_empty_batches_and_time() -> None:
    for shape in [(0, 10, 37), (3, 0, 37)]:
        probs = np.zeros(shape, np.float32)
        for method in ("greedy", "beam"):
            rows = ops.ctc_decode(probs, CHARSET, method=method)  # type: ignore[arg-type]
            assert len(rows) == shape[0] and all(t == "" and c.shape == (0,) for t, c in rows)
        rows3 = ops.ctc_decode_constrained(probs, CHARSET, ["LLL"])
        assert len(rows3) == shape[0] and all(i == -1 for _, _, i in rows3)
        assert len(ops.slot_decode(probs, CHARSET + "_")) == shape[0]


@settings(max_examples=80, deadline=None)
@given(
    probs=hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=3, max_dims=3, min_side=0, max_side=6).map(lambda s: (s[0], s[1], 4)),
        elements=st.floats(allow_nan=True, allow_infinity=True, width=32),
    ),
    blank=st.integers(0, 3),
    logits=st.booleans(),
    width=st.integers(1, 5),
)
def test_hypothesis_never_crashes(
    probs: npt.NDArray[np.float32], blank: int, logits: bool, width: int
) -> None:
    cs = ["A", "B", "1"]
    g = ops.ctc_decode(probs, cs, blank, logits=logits)
    b = ops.ctc_decode(probs, cs, blank, method="beam", beam_width=width, logits=logits)
    k = ops.ctc_decode_constrained(probs, cs, ["L9", "*"], blank, beam_width=width, logits=logits)
    s = ops.slot_decode(probs, [*cs, "_"], logits=logits)
    assert len(g) == len(b) == len(k) == len(s) == probs.shape[0]
    for text, conf in [*g, *b, *s]:
        assert conf.shape == (len(text),)
    for text, _, idx in k:
        assert idx == -1 or re.fullmatch([r"[AB]1", r"[AB1]"][idx], text)


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), b=st.integers(1, 4), t=st.integers(0, 12), c=st.integers(2, 12))
def test_hypothesis_greedy_matches_numpy(seed: int, b: int, t: int, c: int) -> None:
    probs = random_probs(np.random.default_rng(seed), b, t, c)
    cs = CHARSET[: c - 1]
    got = ops.ctc_decode(probs, cs)
    want = numpy_greedy(probs, cs)
    assert [g[0] for g in got] == [w[0] for w in want]


@pytest.mark.parametrize("method", ["greedy", "beam"])
def test_confidence_is_the_peak_over_the_characters_frames(method: str) -> None:
    # "AB": A over frames 0-2 (0.6, 0.9, 0.7), a blank, B over frames 4-5 (0.8, 0.55).
    frames = [(1, 0.6), (1, 0.9), (1, 0.7), (0, 0.9), (2, 0.8), (2, 0.55)]
    probs = np.zeros((1, len(frames), 3), np.float32)
    for t, (k, p) in enumerate(frames):
        probs[0, t] = (1 - p) / 2
        probs[0, t, k] = p
    text, conf = ops.ctc_decode(probs, "AB", method=method)[0]  # type: ignore[arg-type]
    assert text == "AB"
    np.testing.assert_allclose(conf, [0.9, 0.8], rtol=1e-6)
    text, conf, idx = ops.ctc_decode_constrained(probs, "AB", ["LL"])[0]
    assert (text, idx) == ("AB", 0)
    np.testing.assert_allclose(conf, [0.9, 0.8], rtol=1e-6)


def test_huge_beam_width_is_fine() -> None:
    probs = random_probs(np.random.default_rng(2), 2, 6, 4)
    wide = ops.ctc_decode(probs, "AB1", method="beam", beam_width=2**62)
    assert [t for t, _ in wide] == [t for t, _ in ops.ctc_decode(probs, "AB1", method="beam", beam_width=500)]
    assert len(ops.ctc_decode_constrained(probs, "AB1", ["L9"], beam_width=2**62)) == 2
