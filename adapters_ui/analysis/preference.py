"""A blind review as one more metric, ``human_preference``: do reviewers prefer the variant to the baseline?

Input: per reviewed item and (variant, baseline) pair, how many votes went to each side;
ties and "both bad" are not votes for either and are left out before they get here. The
item is the unit, as everywhere in these statistics: an item is a win when it got more
votes for the variant than for the baseline, a loss when fewer, and drops out when even.
With one vote per item (the usual review) that is simply each vote; with several
reviewers, one item's votes are not independent evidence, so they count once.

- ``test``: the sign test, two-sided, on wins against losses (``scipy.stats.binomtest``,
  p = 0.5). 9 wins and 1 loss: p = 2 · (1 + 10) / 2¹⁰ = 0.0215.
- ``mean`` (``mean_low``..``mean_high``): the variant's share of the decisive items, with a
  Wilson 95% interval (statsmodels). ``baseline_mean``: the baseline's share, 1 − mean.
- ``difference`` (``low``..``high``): the variant's share minus the baseline's, 2·mean − 1, and
  its interval 2·Wilson − 1: the same scale as the other metrics' candidate − baseline.
- ``mde``: the McNemar one with every pair discordant (``paired.mde_mcnemar(n, n)``): that
  McNemar IS the sign test, and its difference is this one.
- ``p_holm`` is the record's own p-value (a family of one) until it joins the evaluation's
  family: ``verdicts.holm_records(verdict_records(items) + human_preference_records(votes))``.

    >>> votes = [{"id": f"q{i}", "variant": "pirate", "variant_votes": int(i > 0), "baseline_votes": int(i == 0)}
    ...          for i in range(11)] + [{"id": "q10", "variant": "pirate", "variant_votes": 0, "baseline_votes": 1}]
    >>> [r] = human_preference_records(votes)
    >>> r["n"], r["mean"], round(r["p_value"], 5), r["verdict"]
    (10, 0.9, 0.02148, 'better')

q1..q9 are wins, q0 a loss; q10's two reviewers split, so it is even and drops out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint

from adapters_ui.analysis.paired import CONFIDENCE, Metric, mde_mcnemar, verdict
from adapters_ui.analysis.verdicts import HUMAN_PREFERENCE, VERDICT_KEYS
from adapters_ui.errors import StatisticsError


def _count(vote: Mapping, key: str, index: int) -> int:
    value = vote.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StatisticsError(f"vote row {index} has {key}={value!r}: give a whole number of votes, 0 or more")
    return value


def preference_record(variant: str, baseline: str, wins: int, losses: int, metric: Metric = HUMAN_PREFERENCE) -> dict:
    """The verdict record of ``wins`` items won and ``losses`` lost against the baseline (ties already out);
    ``metric``: ``human_preference`` (reviewers) or ``judge_preference`` (a judge model)."""
    n = wins + losses
    record = dict.fromkeys(VERDICT_KEYS)
    record.update(variant=variant, metric=metric.name, slice=None, baseline=baseline, n=n,
                  verdict="no evidence")
    if n == 0:
        return record
    mean = wins / n
    mean_low, mean_high = (float(x) for x in proportion_confint(wins, n, alpha=1 - CONFIDENCE, method="wilson"))
    p = float(binomtest(wins, n, 0.5).pvalue)
    difference, low, high = 2 * mean - 1, 2 * mean_low - 1, 2 * mean_high - 1
    record.update(mean=mean, mean_low=mean_low, mean_high=mean_high, baseline_mean=losses / n, difference=difference,
                  low=low, high=high, test="sign", p_value=p, p_holm=p, mde=mde_mcnemar(n, n),
                  verdict=verdict(metric, difference, low, high, p))
    return record


def human_preference_records(votes: Iterable[Mapping], *, baseline: str = "base",
                             metric: Metric = HUMAN_PREFERENCE) -> list[dict]:
    """One ``human_preference`` record (slice None) per (variant, baseline) pair, in first-seen order.

    Each vote row: ``{"id": "q001", "variant": "pirate", "variant_votes": 2, "baseline_votes": 1}``,
    plus ``"baseline"`` when it is not the ``baseline`` argument. Rows for the same item and pair
    (one per reviewer, say) add up before the item is called a win, a loss or even.
    """
    totals: dict[tuple[str, str], dict[str, list[int]]] = {}
    for index, vote in enumerate(votes):
        if not vote.get("id") or not vote.get("variant"):
            raise StatisticsError(f"vote row {index} has no 'id' or no 'variant': give the item id and the variant")
        pair = (str(vote["variant"]), str(vote.get("baseline") or baseline))
        if pair[0] == pair[1]:
            raise StatisticsError(f"vote row {index} compares {pair[0]!r} with itself: give another baseline")
        item = totals.setdefault(pair, {}).setdefault(str(vote["id"]), [0, 0])
        item[0] += _count(vote, "variant_votes", index)
        item[1] += _count(vote, "baseline_votes", index)
    records = []
    for (variant, against), items in totals.items():
        wins = sum(mine > theirs for mine, theirs in items.values())
        losses = sum(mine < theirs for mine, theirs in items.values())
        records.append(preference_record(variant, against, wins, losses, metric))
    return records
