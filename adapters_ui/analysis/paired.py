"""Paired statistics of a candidate against a baseline on the same items: is it better, and are we sure?

One ``PairedResult`` per (variant, metric, slice). The items are the unit: an item scored
with several samples counts once, by the mean of its samples (a cluster, never pooled as
if the samples were independent). Items where either side has no value are dropped and
counted in ``dropped``.

    >>> r = compare("pirate", "checks", [1, 1, 1, 1, 1, 1, 1, 1, 1, 0], [0, 0, 0, 0, 0, 0, 0, 0, 1, 1])
    >>> r.n, r.difference, r.test, round(r.p_value, 4), r.verdict
    (10, 0.7, 'mcnemar', 0.0391, 'better')

What each number is:

- ``mean`` (``mean_low``..``mean_high``): the candidate's mean over items with a 95% interval:
  Wilson (statsmodels) for a pass/fail metric with one sample per item, else a bootstrap of
  the per-item means. ``baseline_mean``: the baseline's mean over the same items.
- ``difference`` (``low``..``high``): the mean of per-item differences, candidate − baseline,
  with a 95% paired-bootstrap interval (``scipy.stats.bootstrap`` on the differences, BCa,
  ``SEED`` fixed so the same data gives the same interval; percentile above ``BCA_MAX_N`` items
  or where BCa is undefined; ``[d, d]`` when every difference is ``d``).
- ``p_value``: exact McNemar (statsmodels) for a pass/fail metric with one sample per item;
  Wilcoxon signed-rank (scipy) otherwise, which includes a pass/fail metric with several
  samples per item, since the per-item pass rates (0, 1/3, 2/3, 1) are no longer 0/1.
  Wilcoxon uses ``zero_method="wilcox"``: items with a zero difference are dropped before
  ranking, as McNemar drops the concordant pairs (they say nothing about the direction);
  every difference zero gives ``p = 1.0``.
- ``p_holm``: Holm-corrected over one family (``holm``): all variants, metrics and slices of
  one evaluation. A result on its own is a family of one (``p_holm == p_value``).
- ``verdict``: ``better``/``worse`` when ``p_holm < ALPHA`` AND the interval excludes 0, by the
  metric's better direction (``METRICS``); else ``no evidence``. A metric with no better
  direction (``output_tokens``: longer is neither good nor bad) says ``higher``/``lower``
  instead, as information, never as a win or a regression.
- ``mde``: the smallest true difference this many items would detect (alpha 0.05, two-sided,
  power 0.8), in the metric's units. Continuous: ``(z_0.975 + z_0.8) · sd(diff) / sqrt(n)``
  (≈ 2.8 · sd/sqrt(n); Lehr 1992, "Sixteen s-squared over d-squared"). McNemar: Connor's
  (1987) normal approximation, ``n·δ² = (z_0.975·sqrt(ψ) + z_0.8·sqrt(ψ − δ²))²``, solved for δ,
  with ψ the observed discordant-pair rate (b + c) / n. None when it cannot be known: fewer
  than 2 items, no discordant pair, no spread, or too few items to detect any difference.

``n == 0`` (no item has both values) is not an error: the result says ``no evidence`` with
every statistic None, so one empty slice never stops a whole evaluation's table.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import optimize, stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from adapters_ui.errors import StatisticsError

ALPHA = 0.05  # significance level, after Holm
POWER = 0.8  # for the minimal detectable difference
CONFIDENCE = 0.95
SEED = 0  # the bootstrap's random state: the same data gives the same interval
RESAMPLES = 4999
BCA_MAX_N = 2000  # BCa's jackknife costs n² (1.7 s at 10,000 items); above this, percentile, which BCa then matches

VERDICTS = ("better", "worse", "no evidence", "higher", "lower")


@dataclass(frozen=True)
class Metric:
    """How a metric is tested and read: pass/fail or continuous, and which way is better (None: neither)."""

    name: str
    binary: bool
    better: str | None  # "higher" | "lower" | None


METRICS = {m.name: m for m in (
    Metric("checks", True, "higher"),
    Metric("exact_match", True, "higher"),
    Metric("contains", True, "higher"),
    Metric("cut_off", True, "lower"),
    Metric("rouge_l", False, "higher"),
    Metric("reference_perplexity", False, "lower"),
    Metric("latency_s", False, "lower"),
    Metric("output_tokens", False, None),  # longer or shorter is a fact, not a verdict
    Metric("judge_grade", False, "higher"),  # a judge model's 1-5 rubric grade (runs/judging), when one graded
    # lm-evaluation-harness benchmarks, per item (bench/records): a multiple-choice item right or not (raw, and by
    # length-normalized log-likelihood), the log-likelihood of the gold text, and a passage's bits per UTF-8 byte
    Metric("acc", True, "higher"),
    Metric("acc_norm", True, "higher"),
    Metric("loglikelihood", False, "higher"),
    Metric("bits_per_byte", False, "lower"),
)}

Value = float | int | bool | None
ItemValue = Value | Sequence[Value]  # one value, or one per sample


@dataclass(frozen=True)
class PairedResult:
    """One variant against the baseline on one metric and one slice (None: all items)."""

    variant: str
    metric: str
    slice: str | None  # "category:NAME", "tag:NAME" or None for all items
    baseline: str
    n: int  # items with both values: the unit of every statistic here
    dropped: int  # items missing a value on either side
    samples: int  # most samples any used item had (1: one per item)
    mean: float | None  # candidate's mean over items
    mean_low: float | None
    mean_high: float | None
    baseline_mean: float | None
    difference: float | None  # mean of per-item (candidate − baseline)
    low: float | None  # 95% paired-bootstrap interval of the difference
    high: float | None
    test: str | None  # "mcnemar" | "wilcoxon" | None (n == 0)
    p_value: float | None
    p_holm: float | None
    verdict: str  # one of VERDICTS
    mde: float | None  # minimal detectable difference at this n (alpha 0.05, power 0.8)


# --- inputs --------------------------------------------------------------------------------------


def metric_of(name: str) -> Metric:
    """The metric called ``name``, or a one-line error naming the known ones."""
    try:
        return METRICS[name]
    except KeyError:
        raise StatisticsError(f"unknown metric {name!r}: use one of {', '.join(METRICS)}") from None


def _samples(value: ItemValue) -> list[float]:
    """An item's sample values as floats, missing samples left out."""
    values = value if isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, str) else [value]
    return [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]


def item_means(values: Sequence[ItemValue], metric: Metric, side: str) -> tuple[list[float | None], int]:
    """Each item's mean over its samples (None: no sample), and the most samples one item had.

    >>> item_means([[1, 0, 1], None, 1, [None]], METRICS["checks"], "candidate")
    ([0.6666666666666666, None, 1.0, None], 3)
    """
    means, most = [], 0
    for index, value in enumerate(values):
        samples = _samples(value)
        if metric.binary and any(s not in (0.0, 1.0) for s in samples):
            raise StatisticsError(f"{metric.name} is pass/fail, but item {index} of the {side} has {value!r}: "
                                  "give 0/1 or true/false")
        most = max(most, len(samples))
        means.append(sum(samples) / len(samples) if samples else None)
    return means, most


def _paired(candidate: Sequence[ItemValue], baseline: Sequence[ItemValue],
            metric: Metric) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Per-item means of both sides on the items both have, how many were dropped, and the most samples."""
    if len(candidate) != len(baseline):
        raise StatisticsError(f"the candidate has {len(candidate)} items and the baseline {len(baseline)}: "
                              "pass both on the same items, in the same order")
    cand, most_c = item_means(candidate, metric, "candidate")
    base, most_b = item_means(baseline, metric, "baseline")
    kept = [(c, b) for c, b in zip(cand, base) if c is not None and b is not None]
    pairs = np.array(kept, dtype=float).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1], len(cand) - len(kept), max(most_c, most_b)


# --- the statistics ------------------------------------------------------------------------------


def bootstrap_interval(values: np.ndarray, seed: int = SEED) -> tuple[float, float]:
    """95% bootstrap interval of the mean; ``[v, v]`` if all values are equal.

    BCa up to ``BCA_MAX_N`` values, percentile above it or where BCa is undefined (a
    jackknife with no spread): at thousands of items the two agree to the third decimal.
    """
    if len(values) == 0:
        raise StatisticsError("a bootstrap interval needs at least one value")
    if np.ptp(values) == 0:
        return float(values[0]), float(values[0])
    for method in ("BCa", "percentile") if len(values) <= BCA_MAX_N else ("percentile",):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # BCa warns on data it cannot use; the percentile fallback follows
            ci = stats.bootstrap((values,), np.mean, n_resamples=RESAMPLES, batch=500, confidence_level=CONFIDENCE,
                                 method=method, rng=seed).confidence_interval
        if np.isfinite(ci.low) and np.isfinite(ci.high):
            break
    return float(ci.low), float(ci.high)


def mcnemar_p(candidate: np.ndarray, baseline: np.ndarray) -> float:
    """Exact McNemar p-value of paired 0/1 outcomes: a binomial test on the discordant pairs (statsmodels)."""
    table = [[int(np.sum((candidate == 1) & (baseline == 1))), int(np.sum((candidate == 1) & (baseline == 0)))],
             [int(np.sum((candidate == 0) & (baseline == 1))), int(np.sum((candidate == 0) & (baseline == 0)))]]
    return float(mcnemar(table, exact=True).pvalue)


def wilcoxon_p(differences: np.ndarray) -> float:
    """Wilcoxon signed-rank p-value (scipy, ``zero_method="wilcox"``); 1.0 when every difference is zero."""
    if not np.any(differences != 0):
        return 1.0
    return float(stats.wilcoxon(differences, zero_method="wilcox").pvalue)


def _z(p: float) -> float:
    return float(stats.norm.ppf(p))


def mde_continuous(differences: np.ndarray, alpha: float = ALPHA, power: float = POWER) -> float | None:
    """``(z_{1-alpha/2} + z_power) · sd(diff) / sqrt(n)``: ≈ 2.8 · sd / sqrt(n) at 0.05 and 0.8 (Lehr 1992)."""
    n = len(differences)
    if n < 2:
        return None
    sd = float(np.std(differences, ddof=1))
    return (_z(1 - alpha / 2) + _z(power)) * sd / math.sqrt(n) if sd > 0 else None


def mde_mcnemar(discordant: int, n: int, alpha: float = ALPHA, power: float = POWER) -> float | None:
    """Smallest difference of pass rates McNemar would detect (Connor 1987, normal approximation).

    With ψ the discordant-pair rate, solve ``n·δ² = (z_a·sqrt(ψ) + z_b·sqrt(ψ − δ²))²`` for δ in (0, sqrt(ψ)].
    None without a discordant pair, or when even δ = sqrt(ψ) (every discordant pair one way) is out of reach.

    >>> round(mde_mcnemar(20, 100), 3)  # ≈ 2.8 · sqrt(0.2 / 100) = 0.125, a little less as δ² eats into ψ
    0.124
    """
    if n < 2 or discordant == 0:
        return None
    psi, z_a, z_b = discordant / n, _z(1 - alpha / 2), _z(power)

    def gap(delta: float) -> float:
        return z_a * math.sqrt(psi) + z_b * math.sqrt(max(psi - delta * delta, 0.0)) - delta * math.sqrt(n)

    top = math.sqrt(psi)
    if gap(top) > 0:
        return None
    return float(optimize.brentq(gap, 0.0, top))


def verdict(metric: Metric, difference: float | None, low: float | None, high: float | None,
            p_holm: float | None, alpha: float = ALPHA) -> str:
    """``better``/``worse`` (``higher``/``lower`` for a metric with no better side) or ``no evidence``."""
    if p_holm is None or difference is None or p_holm >= alpha or low <= 0 <= high:
        return "no evidence"
    went = "higher" if difference > 0 else "lower"
    if metric.better is None:
        return went
    return "better" if went == metric.better else "worse"


def compare(variant: str, metric: str, candidate: Sequence[ItemValue], baseline: Sequence[ItemValue], *,
            baseline_name: str = "base", slice: str | None = None) -> PairedResult:
    """Candidate against baseline on the same items, in the same order; each item a value or a list of samples."""
    kind = metric_of(metric)
    cand, base, dropped, samples = _paired(candidate, baseline, kind)
    n = len(cand)
    if n == 0:
        return PairedResult(variant, metric, slice, baseline_name, 0, dropped, samples, None, None, None, None, None,
                            None, None, None, None, None, "no evidence", None)
    diff = cand - base
    low, high = bootstrap_interval(diff)
    if kind.binary and samples == 1:
        test, p = "mcnemar", mcnemar_p(cand, base)
        mean_low, mean_high = proportion_confint(int(cand.sum()), n, alpha=1 - CONFIDENCE, method="wilson")
        mde = mde_mcnemar(int(np.sum(diff != 0)), n)
    else:
        test, p = "wilcoxon", wilcoxon_p(diff)
        mean_low, mean_high = bootstrap_interval(cand)
        mde = mde_continuous(diff)
    difference = float(diff.mean())
    return PairedResult(variant, metric, slice, baseline_name, n, dropped, samples, float(cand.mean()),
                        float(mean_low), float(mean_high), float(base.mean()), difference, low, high, test, p, p,
                        verdict(kind, difference, low, high, p), mde)


# --- many results: slices and Holm ---------------------------------------------------------------


def slices(variant: str, metric: str, candidate: Sequence[ItemValue], baseline: Sequence[ItemValue], *,
           categories: Sequence[str | None] | None = None, tags: Sequence[Sequence[str] | None] | None = None,
           baseline_name: str = "base") -> list[PairedResult]:
    """``compare`` on all items, then on each category (``category:NAME``) and each tag (``tag:NAME``), sorted.

    ``categories[i]`` and ``tags[i]`` belong to item i (None: none). Each slice is its own
    comparison with its own n, interval and test. Pass all of them, for every variant and
    metric, to ``holm`` together: slices are more looks at the same data, so they join the
    same family, and a win in one category out of ten must survive that.
    """
    count = len(candidate)
    categories = list(categories) if categories is not None else [None] * count
    tags = [list(t or ()) for t in tags] if tags is not None else [[] for _ in range(count)]
    if len(categories) != count or len(tags) != count:
        raise StatisticsError(f"{count} items but {len(categories)} categories and {len(tags)} tag lists: "
                              "give one of each per item (None for none)")
    members: dict[str, list[int]] = {}
    for name in sorted({c for c in categories if c is not None}):
        members[f"category:{name}"] = [i for i, c in enumerate(categories) if c == name]
    for name in sorted({t for item in tags for t in item}):
        members[f"tag:{name}"] = [i for i, item in enumerate(tags) if name in item]
    results = [compare(variant, metric, candidate, baseline, baseline_name=baseline_name)]
    for label, rows in members.items():
        results.append(compare(variant, metric, [candidate[i] for i in rows], [baseline[i] for i in rows],
                               baseline_name=baseline_name, slice=label))
    return results


def holm(results: Sequence[PairedResult], alpha: float = ALPHA) -> list[PairedResult]:
    """The results, in order, with ``p_holm`` (statsmodels ``multipletests(method="holm")``) and their verdicts.

    One family per evaluation: every variant, metric and slice. Results with no p-value
    (n == 0) are left out of the family and keep ``p_holm = None``.
    """
    tested = [i for i, r in enumerate(results) if r.p_value is not None]
    adjusted = multipletests([results[i].p_value for i in tested], alpha=alpha, method="holm")[1] if tested else []
    out = list(results)
    for i, p in zip(tested, adjusted):
        r = out[i]
        out[i] = replace(r, p_holm=float(p), verdict=verdict(metric_of(r.metric), r.difference, r.low, r.high,
                                                              float(p), alpha))
    return out
