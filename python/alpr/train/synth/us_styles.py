"""Per-state US plate styles for the synthetic plates.

Each style holds the state's own text formats (from the bundled ``regions/us.toml``), its name as
printed, a slogan, and the colours of its standard passenger plate.

Written from public descriptions of each state's current or recent standard issue (DMV pages, plate
catalogues); colours are approximate RGB and are jittered when drawn. States without an entry here are
drawn with their formats and name on a generic white plate.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from alpr.train.synth._draw import DIGITS, LETTERS

__all__ = ["UsStyle", "pick_us_style", "state_text"]

Rgb = tuple[int, int, int]
_WHITE: Rgb = (245, 245, 240)
_NAVY: Rgb = (20, 35, 105)
_BLACK: Rgb = (18, 18, 18)
_RED: Rgb = (160, 25, 30)
_GREEN: Rgb = (15, 85, 40)


@dataclass(frozen=True, slots=True)
class UsStyle:
    """How one state's standard plate looks.

    Attributes:
        code: the format id in ``us.toml`` (``"us-ny"``).
        name: the state name as printed at the top.
        slogan: the line at the bottom ("" for none).
        bg: plate background colour.
        fg: colour of the registration characters.
        accent: colour of the state name and slogan.
        band: colour of a band across the top (None for none).
        patterns: the state's text patterns (L letter, 9 digit), filled from ``us.toml``.
    """

    code: str
    name: str
    slogan: str
    bg: Rgb
    fg: Rgb
    accent: Rgb
    band: Rgb | None = None
    patterns: tuple[str, ...] = ()


# code: (name, slogan, bg, fg, accent, band)
_STYLES: dict[str, tuple[str, str, Rgb, Rgb, Rgb, Rgb | None]] = {
    "us-ca": ("California", "dmv.ca.gov", _WHITE, _NAVY, _RED, None),
    "us-tx": ("TEXAS", "THE LONE STAR STATE", _WHITE, _BLACK, _NAVY, None),
    "us-fl": ("FLORIDA", "Sunshine State", _WHITE, _GREEN, _GREEN, None),
    "us-ny": ("NEW YORK", "EXCELSIOR", _WHITE, _NAVY, _NAVY, (40, 70, 150)),
    "us-pa": ("PENNSYLVANIA", "visitPA.com", _WHITE, _NAVY, _NAVY, (30, 60, 140)),
    "us-il": ("Illinois", "Land of Lincoln", _WHITE, _NAVY, _RED, None),
    "us-oh": ("OHIO", "BIRTHPLACE OF AVIATION", _WHITE, _BLACK, _NAVY, None),
    "us-ga": ("GEORGIA", "In God We Trust", _WHITE, _BLACK, _BLACK, None),
    "us-nc": ("NORTH CAROLINA", "FIRST IN FLIGHT", _WHITE, _NAVY, _RED, None),
    "us-mi": ("MICHIGAN", "Pure Michigan", _WHITE, _NAVY, _NAVY, None),
    "us-nj": ("New Jersey", "Garden State", (235, 222, 150), _BLACK, _BLACK, None),
    "us-va": ("Virginia", "", _WHITE, _NAVY, _NAVY, None),
    "us-wa": ("Washington", "", _WHITE, _NAVY, _NAVY, None),
    "us-az": ("ARIZONA", "Grand Canyon State", _WHITE, (120, 25, 40), (120, 25, 40), None),
    "us-tn": ("TENNESSEE", "", _WHITE, _NAVY, _NAVY, None),
    "us-ma": ("Massachusetts", "The Spirit of America", _WHITE, _RED, _RED, None),
    "us-in": ("INDIANA", "IN GOD WE TRUST", _WHITE, _NAVY, _NAVY, None),
    "us-md": ("Maryland", "", _WHITE, _BLACK, _RED, None),
    "us-mo": ("MISSOURI", "SHOW-ME STATE", _WHITE, _NAVY, _NAVY, None),
    "us-wi": ("WISCONSIN", "AMERICA'S DAIRYLAND", _WHITE, _NAVY, _RED, None),
    "us-co": ("COLORADO", "", (30, 90, 50), _WHITE, _WHITE, None),
    "us-mn": ("MINNESOTA", "10,000 lakes", _WHITE, _NAVY, _NAVY, None),
    "us-sc": ("South Carolina", "While I Breathe I Hope", _WHITE, _NAVY, _NAVY, None),
    "us-ct": ("Connecticut", "Constitution State", (205, 225, 245), _NAVY, _NAVY, None),
    "us-or": ("OREGON", "", _WHITE, (90, 20, 60), (90, 20, 60), None),
    "us-ut": ("UTAH", "Life Elevated", _WHITE, _BLACK, _NAVY, None),
    "us-nv": ("NEVADA", "The Silver State", (215, 225, 235), _NAVY, _NAVY, None),
    "us-nh": ("NEW HAMPSHIRE", "LIVE FREE OR DIE", _WHITE, _GREEN, _GREEN, None),
    "us-de": ("DELAWARE", "THE FIRST STATE", (45, 60, 110), (230, 200, 90), (230, 200, 90), None),
    "us-dc": ("WASHINGTON, DC", "END TAXATION WITHOUT REPRESENTATION", _WHITE, _RED, _NAVY, None),
    "us-ak": ("ALASKA", "THE LAST FRONTIER", (250, 215, 60), _NAVY, _NAVY, None),
    "us-tlc": ("NEW YORK", "NYC TAXI", (245, 200, 60), _BLACK, _BLACK, None),
}

_NY_GOLD = UsStyle("us-ny", "NEW YORK", "THE EMPIRE STATE", (240, 190, 50), _NAVY, _NAVY)


@functools.cache
def _all_styles() -> tuple[UsStyle, ...]:
    from alpr.regions import builtin_regions

    out = []
    for fmt in builtin_regions()["us"]:
        name, slogan, bg, fg, accent, band = _STYLES.get(
            fmt.id, (fmt.name.upper(), "", _WHITE, _NAVY, _NAVY, None)
        )
        patterns = tuple(p for p in fmt.patterns if set(p) <= {"L", "9"} or p.isalnum())
        out.append(UsStyle(fmt.id, name, slogan, bg, fg, accent, band, patterns))
    return tuple(out)


def pick_us_style(rng: np.random.Generator) -> UsStyle:
    """Pick a random state's style.

    States in ``us.toml``'s (population) order are drawn with weights falling from 3 to 1, so big
    states come up more often but every state and DC appears; New York shows its older gold issue a
    third of the time.
    """
    styles = _all_styles()
    w = np.linspace(3.0, 1.0, len(styles))
    style = styles[int(rng.choice(len(styles), p=w / w.sum()))]
    if style.code == "us-ny" and rng.random() < 0.33:
        return dataclasses.replace(_NY_GOLD, patterns=style.patterns)
    return style


def state_text(rng: np.random.Generator, style: UsStyle) -> str:
    """Draw a random registration in one of the state's patterns.

    A separator (space, hyphen or none) goes where a letter run meets a digit run, as many states
    print it.
    """
    pattern = style.patterns[int(rng.integers(len(style.patterns)))]
    chars = []
    for ch in pattern:
        if ch == "L":
            chars.append(LETTERS[int(rng.integers(len(LETTERS)))])
        elif ch == "9":
            chars.append(DIGITS[int(rng.integers(10))])
        else:
            chars.append(ch)
    sep = ("", " ", "-")[int(rng.integers(3))]
    if sep and len(chars) >= 5:
        for k in range(2, len(chars) - 1):
            if chars[k - 1].isalpha() != chars[k].isalpha():
                chars.insert(k, sep)
                break
    return "".join(chars)
