"""Sample data sets with drivers planted on purpose, so explanations can be checked.

Each outcome is drawn from a logistic model over documented drivers (the tables ``_ECOM``,
``_ADS``, ``_CN`` and ``_GA4``, repeated in ``sample_data/README.md``); noise columns are
drawn independently of everything and have no effect. ``python -m neuromkt.data.samples
--out sample_data`` (``make samples``) rewrites the checked-in files.

Three samples are tables with one row per session or impression (``SAMPLES``); the
fourth, ``EVENT_LOG``, is a raw event log shaped like a GA4 export, to be turned into
sessions by :func:`neuromkt.data.sessions.build_sessions` with its ``session_config``.
"""

from __future__ import annotations

import argparse
import gzip
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

SAMPLE_SEED = 42  # seed of the checked-in CSV files
SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_data"


@dataclass(frozen=True)
class SampleSpec:
    """One sample data set, its planted truth and its generator."""

    key: str  # short name used by the app and the CLI, e.g. "ecommerce"
    title: str  # one line for menus, e.g. "E-commerce sessions → purchased"
    description: str  # two plain sentences for the home page
    file_name: str  # CSV file under sample_data/
    target: str  # outcome column (0/1)
    text_columns: tuple[str, ...]  # text or event-sequence columns
    drivers: tuple[str, ...]  # feature columns with planted effects, strongest first
    noise: tuple[str, ...]  # feature columns drawn independently, with no effect
    driver_tokens: dict[str, tuple[str, ...]]  # per text column: tokens that raise the outcome
    negative_tokens: dict[str, tuple[str, ...]]  # per text column: tokens that lower it
    n_rows: int  # rows in the checked-in file
    generate: Callable[[int, int], pd.DataFrame]  # (n_rows, seed) -> frame


def _pick(rng: np.random.Generator, weights: dict[str, float], n: int) -> np.ndarray:
    """Draw ``n`` labels with the given (unnormalised) weights."""
    labels = np.array(list(weights))
    return labels[rng.choice(len(labels), size=n, p=_norm(list(weights.values())))]


def _norm(weights: Sequence[float] | np.ndarray) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return w / w.sum()


def _ids(prefix: str, n: int, width: int = 6) -> np.ndarray:
    return np.array([f"{prefix}{i:0{width}d}" for i in range(1, n + 1)])


def _blank_some(rng: np.random.Generator, values: np.ndarray, rate: float) -> np.ndarray:
    """Return a copy of ``values`` with about ``rate`` of the entries missing at random."""
    out = values.astype(object if values.dtype.kind in "OUS" else float)
    out[rng.random(len(values)) < rate] = np.nan
    return out


def _outcome(
    rng: np.random.Generator, coef: dict[str, float], x: dict[str, np.ndarray]
) -> np.ndarray:
    """Draw 0/1 outcomes from ``sigmoid(intercept + sum(coef[k] * x[k]))``."""
    logit = coef["intercept"] + sum(coef[k] * np.asarray(v, dtype=float) for k, v in x.items())
    return (rng.random(len(logit)) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)


# fmt: off
_EVENTS = np.array(["home", "category", "search", "product", "reviews", "promo", "account",
                    "cart", "checkout", "error", "bounce"])  # browse pages are codes 0-6
_LANDING_P = np.array([0.42, 0.15, 0.18, 0.20, 0.0, 0.05, 0.0])
_BROWSE_P = np.array([0.05, 0.17, 0.16, 0.42, 0.10, 0.05, 0.05])
_MAX_BROWSE = 20
_CHANNELS = {"organic": 30, "paid_search": 22, "social": 16, "email": 12, "display": 10,
             "referral": 10}
_DEVICES = {"mobile": 52, "desktop": 38, "tablet": 10}
_REGIONS = {"South": 38, "West": 24, "Midwest": 21, "Northeast": 17}
_BROWSERS = {"Chrome": 55, "Safari": 25, "Edge": 8, "Firefox": 5, "Samsung Internet": 5}
_WEEKDAYS = dict.fromkeys(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], 1)
_ECOM = {  # the planted logistic model of `purchased`
    "intercept": -4.35, "cart": 1.6, "checkout": 1.0,  # any "cart" / any "checkout" event
    "returning": 0.8, "discount": 0.6, "email": 0.5, "mobile": -0.4,  # yes / channel / device
    "time": 1.2,  # times 1 - exp(-time_on_site_sec / 240): saturates after ~10 minutes
    "pages": 0.3,  # times log1p(pages_viewed)
    "bounce": -1.0, "error": -0.8,  # a "bounce" event; any "error" event
}
# fmt: on


def _clickstream(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Event sequences: every event gets a time key, unused slots get +inf and sort last."""
    bounce = rng.random(n) < 0.14
    n_browse = np.where(bounce, 1, np.minimum(2 + rng.negative_binomial(2, 0.33, n), _MAX_BROWSE))
    cart = ~bounce & (rng.random(n) < 0.24)
    n_cart = np.where(cart, 1 + rng.binomial(2, 0.25, n), 0)
    checkout = cart & (rng.random(n) < 0.45)
    error = ~bounce & (rng.random(n) < 0.07)
    browse = rng.choice(len(_BROWSE_P), size=(n, _MAX_BROWSE), p=_BROWSE_P)
    browse[:, 0] = rng.choice(len(_LANDING_P), size=n, p=_LANDING_P)
    slots = np.arange(_MAX_BROWSE)
    browse_key = np.where(slots < n_browse[:, None], slots, np.inf)
    cart_at = rng.uniform(0.5, n_browse[:, None], (n, 3))  # carts fall between page views
    cart_key = np.where(np.arange(3) < n_cart[:, None], cart_at, np.inf)
    checkout_key = np.where(checkout, n_browse + 1.0, np.inf)  # checkout ends the session
    error_key = np.where(error, rng.uniform(0.5, n_browse + 1.5), np.inf)
    bounce_key = np.where(bounce, 1.5, np.inf)  # landing page, then bounce
    keys = np.column_stack([browse_key, cart_key, checkout_key, error_key, bounce_key])
    codes = np.column_stack([browse, np.tile([7, 7, 7, 8, 9, 10], (n, 1))])  # as in keys
    words = _EVENTS[np.take_along_axis(codes, np.argsort(keys, axis=1, kind="stable"), axis=1)]
    lengths = np.isfinite(keys).sum(axis=1)
    events = np.array([" ".join(row[:k]) for row, k in zip(words, lengths, strict=True)])
    return {"events": events, "n_browse": n_browse, "n_cart": n_cart, "bounce": bounce,
            "cart": cart, "checkout": checkout, "error": error}  # fmt: skip


def _generate_ecommerce(n_rows: int, seed: int) -> pd.DataFrame:
    """E-commerce sessions with a clickstream; outcome ``purchased``."""
    rng = np.random.default_rng(seed)
    n = n_rows
    cs = _clickstream(rng, n)
    channel = _pick(rng, _CHANNELS, n)
    device = _pick(rng, _DEVICES, n)
    returning = rng.random(n) < 0.32
    discount = rng.random(n) < 0.25
    # analytics counts page views the tag manager missed, so pages_viewed >= browse events
    pages = np.where(cs["bounce"], 1, cs["n_browse"] + rng.poisson(0.6, n))
    dwell = pages * np.exp(rng.normal(np.log(35.0), 0.5, n)) + 20 * cs["n_cart"]
    seconds = np.where(cs["bounce"], rng.integers(3, 41, n), dwell + 60 * cs["checkout"])
    seconds = np.minimum(np.round(seconds), 7200)
    x = {"cart": cs["cart"], "checkout": cs["checkout"], "returning": returning,
         "discount": discount, "email": channel == "email", "mobile": device == "mobile",
         "time": 1 - np.exp(-seconds / 240.0), "pages": np.log1p(pages),
         "bounce": cs["bounce"], "error": cs["error"]}  # fmt: skip
    purchased = _outcome(rng, _ECOM, x)
    return pd.DataFrame({
        "session_id": _ids("S", n), "channel": channel, "device": device,
        "region": _blank_some(rng, _pick(rng, _REGIONS, n), 0.015),
        "pages_viewed": pages.astype(np.int64),
        "time_on_site_sec": pd.array(_blank_some(rng, seconds, 0.02), dtype="Int64"),
        "returning_visitor": np.where(returning, "yes", "no"),
        "discount_seen": np.where(discount, "yes", "no"),
        "events": cs["events"],
        "browser": _pick(rng, _BROWSERS, n), "day_of_week": _pick(rng, _WEEKDAYS, n),
        "ad_slot_score": np.round(rng.beta(2.0, 2.0, n) * 100, 1),
        "purchased": purchased,
    })  # fmt: skip


# fmt: off
_FREE, _SALE, _TODAY, _SUBS, _TERMS = 1, 2, 4, 8, 16  # offer-word flags of headline parts
_OFFERS = {"free": _FREE, "sale": _SALE, "today": _TODAY, "subscription": _SUBS,
           "terms_apply": _TERMS}
_OPENERS = [  # (text, flags, weight)
    ("Free shipping on", _FREE, 9), ("Free returns on", _FREE, 5), ("Big sale on", _SALE, 7),
    ("Weekend sale on", _SALE, 5), ("Shop", 0, 12), ("Discover", 0, 10), ("Top-rated", 0, 8),
    ("Save 20% on", 0, 9), ("Upgrade your", 0, 7), ("Handpicked", 0, 6), ("Our best", 0, 6),
]
_PRODUCTS = [
    "running shoes", "wireless earbuds", "yoga mats", "winter jackets", "smart watches",
    "travel backpacks", "coffee beans", "skincare sets", "desk lamps", "pet food",
    "board games", "kitchen knives",
]
_CLOSERS = [
    ("", 0, 30), (" today", _TODAY, 8), (". Ends today.", _TODAY, 6), (" this week", 0, 10),
    (" for the whole family", 0, 6), (" in every size", 0, 6), (" near you", 0, 6),
    (". Terms apply.", _TERMS, 9), (" with a monthly subscription", _SUBS, 6),
    (". Subscription required.", _SUBS, 4),
]
_PLACEMENTS = {"feed": 34, "sidebar": 18, "search": 20, "video_preroll": 13, "stories": 15}
_AUDIENCES = {"broad": 36, "lookalike": 25, "interest": 25, "retargeting": 14}
_AD_DEVICES = {"mobile": 62, "desktop": 31, "tablet": 7}
_HOUR_WEIGHTS = [2, 1, 1, 1, 1, 2, 3, 5, 6, 6, 6, 6, 7, 6, 6, 6, 6, 7, 8, 9, 9, 8, 6, 4]
_BID_MEDIAN, _BID_SIGMA = 6.0, 0.45  # bid_cpm is log-normal around $6
_ADS = {  # the planted logistic model of `clicked`
    "intercept": -4.3, "search": 1.1, "sidebar": -1.0, "retargeting": 1.5,  # placement; audience
    "evening": 1.3,  # times exp(-(gap / 2)^2 / 2), gap = hours from 20:00 (circular)
    "bid": 0.4,  # per standard deviation of log(bid_cpm)
    "free": 1.0, "sale": 0.8, "today": 0.6, "subscription": -0.9, "terms_apply": -0.8,
}
# fmt: on


def _headlines(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Templated headlines (opener + product + closer) and their offer-word flags."""
    op = rng.choice(len(_OPENERS), size=n, p=_norm([w for *_, w in _OPENERS]))
    pr = rng.integers(0, len(_PRODUCTS), n)
    cl = rng.choice(len(_CLOSERS), size=n, p=_norm([w for *_, w in _CLOSERS]))
    parts = zip(op, pr, cl, strict=True)
    texts = np.array([f"{_OPENERS[o][0]} {_PRODUCTS[p]}{_CLOSERS[c][0]}" for o, p, c in parts])
    flags = np.array([f for _, f, _ in _OPENERS])[op] | np.array([f for _, f, _ in _CLOSERS])[cl]
    return texts, flags


def _generate_ads(n_rows: int, seed: int) -> pd.DataFrame:
    """Ad impressions with an English headline; outcome ``clicked``."""
    rng = np.random.default_rng(seed)
    n = n_rows
    placement = _pick(rng, _PLACEMENTS, n)
    audience = _pick(rng, _AUDIENCES, n)
    hour = rng.choice(24, size=n, p=_norm(_HOUR_WEIGHTS))
    bid_z = rng.standard_normal(n)
    headline, flags = _headlines(rng, n)
    gap = np.minimum(np.abs(hour - 20), 24 - np.abs(hour - 20))  # hours from 20:00, circular
    x = {"search": placement == "search", "sidebar": placement == "sidebar",
         "retargeting": audience == "retargeting",
         "evening": np.exp(-0.5 * (gap / 2.0) ** 2), "bid": bid_z,
         **{word: (flags & bit) > 0 for word, bit in _OFFERS.items()}}  # fmt: skip
    clicked = _outcome(rng, _ADS, x)
    bid = np.round(_BID_MEDIAN * np.exp(_BID_SIGMA * bid_z), 2)
    return pd.DataFrame({
        "impression_id": _ids("imp_", n), "placement": placement, "audience": audience,
        "hour": hour.astype(np.int64), "device": _pick(rng, _AD_DEVICES, n),
        "bid_cpm": _blank_some(rng, bid, 0.015), "headline": headline,
        "creative_id": _ids("cr_", 240, width=3)[rng.integers(0, 240, n)],
        "inventory_score": np.round(np.clip(rng.normal(50, 15, n), 0, 100), 1),
        "clicked": clicked,
    })  # fmt: skip


# fmt: off
# None of these parts contain the planted characters 包 邮 折 二 手.
_CN_MODIFIERS = ["夏季", "秋冬", "新款", "2025新款", "韩版", "正品", "官方", "大码", "学生", "加厚"]
_CN_PRODUCTS = [
    "女装连衣裙", "男士休闲裤", "运动鞋", "蓝牙耳机", "保温杯", "护肤品套装", "儿童玩具",
    "茶叶礼盒", "T恤", "iPhone15壳", "笔记本电脑", "羽绒服", "咖啡机", "猫粮", "投影仪",
    "电动牙刷", "瑜伽垫", "行李箱",
]
_CN_DISCOUNTS = ["五折", "七折", "八折", "限时五折", "全场八折"]
_CN_SUFFIXES = ["旗舰店", "推荐", "哪个牌子好", "价格", "怎么样", "正品保证"]
_CN_PLATFORMS = {"app": 45, "mini_program": 30, "web": 25}
_CN_TIERS = {"一线": 18, "新一线": 20, "二线": 24, "三线": 22, "四线及以下": 16}
_CN_WEEKDAYS = dict.fromkeys(["周一", "周二", "周三", "周四", "周五", "周六", "周日"], 1)
_CN = {  # the planted logistic model of `clicked`
    "intercept": -2.55, "free_shipping": 1.4, "discount": 1.1,  # 包邮; a 折 discount
    "second_hand": -1.5, "position": -1.1, "app": 0.7,  # 二手; times log(position); app
}
# fmt: on


def _cn_keywords(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Chinese keywords built from parts; a third of them are joined with spaces."""
    used, free, discount = rng.random((3, n)) < np.array([[0.09], [0.25], [0.20]])

    def part(pool: list[str], mask: np.ndarray) -> np.ndarray:
        return np.where(mask, np.array(pool)[rng.integers(0, len(pool), n)], "")

    modifier = part(_CN_MODIFIERS, rng.random(n) < 0.55)
    product = part(_CN_PRODUCTS, np.ones(n, dtype=bool))
    disc = part(_CN_DISCOUNTS, discount)
    suffix = part(_CN_SUFFIXES, rng.random(n) < 0.3)
    ship = np.where(free, "包邮", "")
    ship_first = rng.random(n) < 0.5
    offers = np.where(ship_first, [ship, disc], [disc, ship])
    parts = np.column_stack([np.where(used, "二手", ""), modifier, product, *offers, suffix])
    seps = np.where(rng.random(n) < 0.35, " ", "")
    keywords = np.array([s.join(p for p in row if p) for row, s in zip(parts, seps, strict=True)])
    return {"keyword": keywords, "used": used, "free": free, "discount": discount}


def _generate_search_cn(n_rows: int, seed: int) -> pd.DataFrame:
    """Chinese search ads; outcome ``clicked``."""
    rng = np.random.default_rng(seed)
    n = n_rows
    kw = _cn_keywords(rng, n)
    platform = _pick(rng, _CN_PLATFORMS, n)
    position = 1 + rng.choice(10, size=n, p=_norm(1 / np.sqrt(np.arange(1, 11))))
    x = {"free_shipping": kw["free"], "discount": kw["discount"], "second_hand": kw["used"],
         "position": np.log(position), "app": platform == "app"}  # fmt: skip
    clicked = _outcome(rng, _CN, x)
    return pd.DataFrame({
        "query_id": _ids("Q", n), "keyword": kw["keyword"], "platform": platform,
        "position": position.astype(np.int64),
        "city_tier": _blank_some(rng, _pick(rng, _CN_TIERS, n), 0.02),
        "weekday": _pick(rng, _CN_WEEKDAYS, n),
        "ad_group": _ids("AG", 60, width=2)[rng.integers(0, 60, n)],
        "account_age_days": rng.integers(30, 2001, n).astype(np.int64),
        "clicked": clicked,
    })  # fmt: skip


# fmt: off
SAMPLES: dict[str, SampleSpec] = {spec.key: spec for spec in (
    SampleSpec(
        key="ecommerce", title="E-commerce sessions → purchased",
        description="Twenty thousand shop visits with channel, device, time on site and "
        "clickstream, and whether the visit ended in a purchase. Cart and checkout events, "
        "returning visitors and discounts drive purchases; browser, weekday, region and ad slot "
        "score are noise.",
        file_name="ecommerce_sessions.csv", target="purchased", text_columns=("events",),
        drivers=("returning_visitor", "time_on_site_sec", "discount_seen", "device",
                 "pages_viewed", "channel"),
        noise=("browser", "day_of_week", "region", "ad_slot_score"),
        driver_tokens={"events": ("cart", "checkout")},
        negative_tokens={"events": ("bounce", "error")},
        n_rows=20_000, generate=_generate_ecommerce,
    ),
    SampleSpec(
        key="ads", title="Ad impressions → clicked",
        description="Twenty thousand ad impressions with placement, audience, hour, bid and "
        "headline, and whether the ad was clicked. Search placement, retargeting, evening hours "
        "and offer words such as 'free' and 'sale' drive clicks; device, creative and inventory "
        "score are noise.",
        file_name="ad_impressions.csv", target="clicked", text_columns=("headline",),
        drivers=("placement", "audience", "hour", "bid_cpm"),
        noise=("device", "creative_id", "inventory_score"),
        driver_tokens={"headline": ("free", "sale", "today")},
        negative_tokens={"headline": ("subscription", "terms", "apply")},
        n_rows=20_000, generate=_generate_ads,
    ),
    SampleSpec(
        key="search_cn", title="Chinese search ads → clicked",
        description="Twelve thousand Chinese search-ad impressions with keyword, platform, ad "
        "position and city tier, and whether the ad was clicked. Free shipping (包邮), discounts "
        "(折) and top positions raise clicks and second-hand (二手) lowers them; city tier, "
        "weekday, ad group and account age are noise.",
        file_name="search_ads_cn.csv", target="clicked", text_columns=("keyword",),
        drivers=("position", "platform"),
        noise=("city_tier", "weekday", "ad_group", "account_age_days"),
        driver_tokens={"keyword": ("包", "邮", "折")},
        negative_tokens={"keyword": ("二", "手")},
        n_rows=12_000, generate=_generate_search_cn,
    ),
)}
# fmt: on


# ---------------------------------------------------------------- an event log

# fmt: off
_GA4_MEDIUMS = {"organic": 35, "cpc": 25, "(none)": 18, "email": 12, "referral": 10}
_GA4_DEVICES = {"mobile": 55, "desktop": 38, "tablet": 7}
_GA4_COUNTRIES = {"United States": 40, "United Kingdom": 14, "Germany": 12, "France": 10,
                  "India": 10, "Brazil": 8, "Japan": 6}
_GA4_CATEGORIES = {"shoes": 24, "shirts": 20, "bags": 16, "jackets": 14, "hats": 14, "socks": 12}
_GA4_BROWSE = np.array(["page_view", "view_item", "search", "view_item_list", "scroll"])
_GA4_BROWSE_P = np.array([0.33, 0.30, 0.12, 0.13, 0.12])
_GA4_MAX_STEPS = 14
_GA4_EPOCH = 1_714_521_600  # 2024-05-01 00:00:00 UTC: the first day of the export
_GA4_DAYS = 30  # the export covers 30 days
_LONG_DWELL_S = 60  # a view_item followed by a gap at least this long is a "long dwell"
_GA4 = {  # the planted logistic model of `purchase` (the session reaches a purchase)
    "intercept": -3.6, "cart": 1.5,  # any add_to_cart in the session
    "search_view": 1.1,  # order: a search directly followed by a view_item
    "long_dwell": 1.2,  # time: a view_item followed by >= 60 s before the next event
    "email": 0.7, "mobile": -0.5,  # traffic medium email; device mobile
}
# fmt: on


@dataclass(frozen=True)
class EventLogSpec:
    """The sample event log, its columns, planted truth and generator."""

    key: str  # short name, e.g. "ga4_events"
    title: str  # one line for menus
    description: str  # two plain sentences
    file_name: str  # gzipped CSV under sample_data/
    id_column: str  # user id
    time_column: str  # epoch microseconds
    event_column: str  # event name
    item_column: str  # item category of item events (empty for others)
    keep: tuple[str, ...]  # per-session attributes
    numbers: tuple[str, ...]  # per-event numbers
    outcome: str  # the outcome event
    driver_tokens: tuple[str, ...]  # event tokens that raise the outcome
    drivers: tuple[str, ...]  # session attributes with planted effects
    noise: tuple[str, ...]  # columns (or their session sums) with no effect
    n_users: int  # users in the checked-in file
    generate: Callable[[int, int], pd.DataFrame]  # (n_users, seed) -> log


def _ga4_user_ids(rng: np.random.Generator, first_visit: np.ndarray) -> np.ndarray:
    """GA4-style pseudonymous ids: a random number, a dot and the first visit's epoch."""
    numbers = rng.integers(10**8, 10**10, len(first_visit))
    return np.array([f"{a}.{b}" for a, b in zip(numbers, first_visit, strict=True)])


def _ga4_sessions(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Browsing steps of ``n`` sessions as (n, _GA4_MAX_STEPS) arrays, and their signals.

    Each step is an event and the gap after it; a search is followed by a view_item
    half of the time; a view_item is followed by an add_to_cart a fifth of the time;
    3 in 10 view_items hold the visitor for a minute or more.
    """
    steps = np.minimum(1 + rng.negative_binomial(2, 0.3, n), _GA4_MAX_STEPS)
    events = rng.choice(len(_GA4_BROWSE), size=(n, _GA4_MAX_STEPS), p=_GA4_BROWSE_P)
    events[:, 0] = 0  # a session opens on a page view
    for j in range(1, _GA4_MAX_STEPS):
        after_search = (events[:, j - 1] == 2) & (rng.random(n) < 0.5)
        events[after_search, j] = 1
        after_view = (events[:, j - 1] == 1) & (rng.random(n) < 0.2)
        events[after_view, j] = 5  # add_to_cart
    used = np.arange(_GA4_MAX_STEPS)[None, :] < steps[:, None]
    gaps = np.exp(rng.normal(np.log(12.0), 0.6, (n, _GA4_MAX_STEPS)))  # seconds after a step
    is_view = events == 1
    long_view = is_view & (rng.random((n, _GA4_MAX_STEPS)) < 0.3)
    gaps[is_view] = np.exp(rng.normal(np.log(14.0), 0.5, is_view.sum()))
    gaps[long_view] = _LONG_DWELL_S + np.exp(rng.normal(np.log(70.0), 0.7, long_view.sum()))
    gaps = np.minimum(np.round(gaps, 3), 1500.0)  # a step never outlasts the session limit
    # Only steps followed by another step count: the last step's gap is never seen.
    followed = np.arange(_GA4_MAX_STEPS)[None, :] < (steps - 1)[:, None]
    search_view = ((events[:, :-1] == 2) & (events[:, 1:] == 1) & used[:, 1:]).any(axis=1)
    return {
        "steps": steps, "events": events, "gaps": gaps, "used": used,
        "cart": ((events == 5) & used).any(axis=1), "search_view": search_view,
        "long_dwell": (long_view & followed).any(axis=1),
    }  # fmt: skip


def _generate_ga4(n_users: int, seed: int) -> pd.DataFrame:
    """A GA4-like event log; the outcome is whether a session reaches ``purchase``."""
    rng = np.random.default_rng(seed)
    device = _pick(rng, _GA4_DEVICES, n_users)
    country = _pick(rng, _GA4_COUNTRIES, n_users)
    per_user = 1 + np.minimum(rng.poisson(0.7, n_users), 4)
    owner = np.repeat(np.arange(n_users), per_user)
    n = len(owner)
    # Session starts: each user's sessions at least 2 hours apart within the 30 days.
    offsets = rng.integers(0, _GA4_DAYS * 12, n) * 7200 + rng.integers(0, 3600, n)
    starts = _GA4_EPOCH + np.sort(offsets + owner * 10**9) - owner * 10**9
    first_of_user = np.r_[0, np.cumsum(per_user)[:-1]]
    users = _ga4_user_ids(rng, starts[first_of_user])
    medium = _pick(rng, _GA4_MEDIUMS, n)
    cs = _ga4_sessions(rng, n)
    x = {"cart": cs["cart"], "search_view": cs["search_view"], "long_dwell": cs["long_dwell"],
         "email": medium == "email", "mobile": device[owner] == "mobile"}  # fmt: skip
    purchase = _outcome(rng, _GA4, x).astype(bool)
    after = purchase & (rng.random(n) < 0.4)  # a thank-you page view after the purchase
    reopen = ~purchase & (rng.random(n) < 0.01)  # a delayed purchase hit opens the session

    names = np.concatenate([_GA4_BROWSE, ["add_to_cart"]])
    category_names = np.array(list(_GA4_CATEGORIES))
    categories = category_names[
        rng.choice(len(_GA4_CATEGORIES), size=(n, _GA4_MAX_STEPS), p=_norm(list(
            _GA4_CATEGORIES.values())))]  # fmt: skip
    # A cart holds the item just viewed.
    categories[:, 1:] = np.where(cs["events"][:, 1:] == 5, categories[:, :-1], categories[:, 1:])
    rows: list[tuple] = []
    for s in range(n):
        t = float(starts[s])
        u = owner[s]
        base = (users[u], medium[s], device[u], country[u])

        def emit(name: str, at: float, item: str = "", _base: tuple = base) -> None:
            price = round(float(rng.lognormal(3.4, 0.6)), 2) if item else np.nan
            rows.append((*_base, round(at * 1e6), name, item, price))

        if reopen[s]:
            emit("purchase", t, categories[s, 0])
            t += 5.0
        emit("session_start", t)
        last = cs["steps"][s] - 1
        for j in range(last + 1):
            code = cs["events"][s, j]
            name = str(names[code])
            item = str(categories[s, j]) if name in ("view_item", "add_to_cart") else ""
            emit(name, t, item)
            # The last step's dwell is not drawn from the planted ones: it ends in the
            # purchase or nothing, and the sequence stops before the purchase.
            t += float(cs["gaps"][s, j]) if j < last else float(rng.lognormal(np.log(12.0), 0.6))
        if purchase[s]:
            emit("purchase", t, str(categories[s, max(0, cs["steps"][s] - 1)]))
            t += float(rng.lognormal(np.log(8.0), 0.4))
        if after[s]:
            emit("page_view", t)
    frame = pd.DataFrame(rows, columns=[
        "user_pseudo_id", "traffic_medium", "device_category", "country", "event_timestamp",
        "event_name", "item_category", "price"])  # fmt: skip
    frame["event_timestamp"] = frame["event_timestamp"].astype("int64")
    frame["item_category"] = frame["item_category"].replace("", np.nan)
    # The file is in time order, users interleaved; events at the same microsecond
    # (session_start and its page_view) keep the order they happened in.
    order = np.argsort(frame["event_timestamp"].to_numpy(), kind="stable")
    columns = ["event_timestamp", "user_pseudo_id", "event_name", "item_category", "price",
               "traffic_medium", "device_category", "country"]  # fmt: skip
    return frame.iloc[order][columns].reset_index(drop=True)


EVENT_LOG = EventLogSpec(
    key="ga4_events", title="GA4-style event log → purchase",
    description="A month of shop events from about eight thousand visits, one row per page "
    "view, search, item view, add to cart or purchase. Adding to cart, a search followed "
    "by an item view, a long look at an item and e-mail traffic raise purchases; country "
    "and price are noise.",
    file_name="ga4_events.csv.gz", id_column="user_pseudo_id", time_column="event_timestamp",
    event_column="event_name", item_column="item_category",
    keep=("traffic_medium", "device_category", "country"), numbers=("price",),
    outcome="purchase", driver_tokens=("add_to_cart",),
    drivers=("traffic_medium", "device_category"), noise=("country", "price_mean"),
    n_users=5_000, generate=_generate_ga4,
)  # fmt: skip


def event_log_path() -> Path:
    """``<repo>/sample_data/ga4_events.csv.gz`` (absent in a bare install)."""
    return SAMPLE_DIR / EVENT_LOG.file_name


def write_event_log(out_dir: Path) -> Path:
    """Generate the sample event log with the fixed seed; write it as a gzipped CSV.

    The gzip header carries no time stamp, so the same rows give the same bytes.
    """
    path = Path(out_dir) / EVENT_LOG.file_name
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    text = EVENT_LOG.generate(EVENT_LOG.n_users, SAMPLE_SEED).to_csv(index=False)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:
        fh.write(text.encode("utf-8"))
    return path


def _spec(key: str) -> SampleSpec:
    if key not in SAMPLES:
        raise ValueError(f"There is no sample called '{key}'; choose one of {', '.join(SAMPLES)}.")
    return SAMPLES[key]


def sample_path(key: str) -> Path:
    """Return ``<repo>/sample_data/<file_name>`` of sample ``key`` (absent in a bare install)."""
    return SAMPLE_DIR / _spec(key).file_name


def load_sample(key: str) -> pd.DataFrame:
    """Read a sample's checked-in CSV, or generate the same rows if the file is missing.

    Args:
        key: Sample key, one of ``SAMPLES``.

    Returns:
        The sample frame, target column included.

    Raises:
        ValueError: If ``key`` names no sample.

    Example:
        >>> import neuromkt as nm
        >>> frame = nm.load_sample("ecommerce")
        >>> len(frame), round(float(frame["purchased"].mean()), 3)
        (20000, 0.119)
    """
    path = sample_path(key)
    if path.exists():
        return pd.read_csv(path)
    spec = _spec(key)
    return pd.read_csv(io.StringIO(spec.generate(spec.n_rows, SAMPLE_SEED).to_csv(index=False)))


def write_samples(out_dir: Path, keys: Iterable[str] | None = None) -> list[Path]:
    """Generate sample data sets with the fixed seed and write them as UTF-8 CSV.

    Args:
        out_dir: Folder to write into; created if needed.
        keys: Samples to write; all of them when ``None``.

    Returns:
        The paths written, in the order of ``keys``.
    """
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    paths = []
    for key in SAMPLES if keys is None else keys:
        spec = _spec(key)
        path = Path(out_dir) / spec.file_name
        spec.generate(spec.n_rows, SAMPLE_SEED).to_csv(path, index=False, encoding="utf-8")
        paths.append(path)
    return paths


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write neuromkt's sample data sets as CSV.")
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR, help="output folder")
    parser.add_argument(
        "--only", nargs="+", choices=[*SAMPLES, EVENT_LOG.key], help="samples to write"
    )
    args = parser.parse_args(argv)
    keys = args.only or [*SAMPLES, EVENT_LOG.key]
    if EVENT_LOG.key in keys:
        keys = [k for k in keys if k != EVENT_LOG.key]
        path = write_event_log(args.out)
        size = path.stat().st_size / 1e6
        print(f"wrote {path}: {EVENT_LOG.n_users:,} users, {size:.2f} MB")
    for key, path in zip(keys, write_samples(args.out, keys), strict=True):
        target = SAMPLES[key].target
        rate = pd.read_csv(path, usecols=[target])[target].mean()
        size = path.stat().st_size / 1e6
        print(f"wrote {path}: {SAMPLES[key].n_rows:,} rows, {target} {rate:.1%}, {size:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
