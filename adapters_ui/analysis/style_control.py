"""Style control: would a review's verdict stand if both answers had the same length and markdown?

Judges, people and models alike, favour long answers with headers, lists and bold text, so a
variant can win a blind review by writing more rather than better (LMArena, "Does style matter?",
Aug 2024; Dubois et al. 2024, "Length-Controlled AlpacaEval"). This module takes the same
``Judgement`` lists as ``review_stats`` (human or judge verdicts) and says how much of each
variant's standing is its style:

- ``style_features``: an output's style in four counts (words, headers, list items, bold spans);
- ``style_controlled_strengths``: LMArena's style control, a Bradley–Terry fit with the two
  outputs' style differences as covariates, next to the same fit without them, on
  ``review_stats``' Elo-like scale (mean 1000, +400 = 10:1 odds);
- ``length_controlled_win_rates``: AlpacaEval 2's length-controlled win rate against a baseline.

    >>> style_features("# Plan\\n\\n- **one** thing\\n- two\\n")
    StyleFeatures(words=7, headers=1, list_items=2, bold=1)
    >>> js = [Judgement(p, "base", "pirate", "ana", "right") for p in range(3)] + [Judgement(3, "base", "pirate", "ana", "left")]
    >>> feats = {(p, v): style_features("word " * (20 if v == "pirate" else 10)) for p in range(4) for v in ("base", "pirate")}
    >>> r = style_controlled_strengths(js, ["base", "pirate"], feats)
    >>> [(s.variant, round(s.plain), round(s.controlled)) for s in r.strengths]  # plain: review_stats.bradley_terry's
    [('pirate', 1074, 1074), ('base', 926, 926)]
    >>> [d.name for d in r.dropped]  # pirate is always twice as long: length cannot be told apart from the variant
    ['length', 'headers', 'lists', 'bold']
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import statsmodels.api as sm
from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

from adapters_ui.analysis.review_stats import ELO_MEAN, ELO_SCALE, PRIOR_TIES, Judgement
from adapters_ui.errors import StatisticsError

STYLE_NAMES = ("length", "headers", "lists", "bold")  # the covariates, in StyleFeatures' field order
Z_95 = 1.959963984540054  # two-sided 95% normal quantile
_RANK_TOL = 1e-6  # Elo points: scores closer than this share a rank (float noise must not flip a rank)

# How much of a win each choice gives the left variant, as in review_stats: a tie or "both bad" is half.
_LEFT_SHARE = {"left": 1.0, "right": 0.0, "tie": 0.5, "both_bad": 0.5}


# --- features ------------------------------------------------------------------------------------

# Code is not style: a ``# comment`` in a fenced block is no header (LMArena strips code blocks too).
_FENCED_CODE = re.compile(r"(```|~~~).*?(?:\1|\Z)", re.S)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_RULE = re.compile(r"^[ \t]*([-*_])(?:[ \t]*\1){2,}[ \t]*$", re.M)  # "* * *" is a line across, not a list
_HEADER = re.compile(r"^ {0,3}#{1,6}[ \t]+\S", re.M)
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+][ \t]+|\d{1,9}[.)][ \t]+|•[ \t]*)\S", re.M)
_BOLD = re.compile(r"\*\*(?!\s)[^*\n]+?(?<!\s)\*\*|(?<![\w_])__(?!\s)[^_\n]+?(?<!\s)__(?![\w_])")


@dataclass(frozen=True)
class StyleFeatures:
    """What an output looks like, apart from what it says."""

    words: int  # whitespace-separated tokens (not a model's tokens: the same yardstick for every variant)
    headers: int  # markdown ATX header lines: "# Title" .. "###### Title"
    list_items: int  # lines starting with -, *, +, • or "1." / "1)" (indented ones too)
    bold: int  # **x** and __x__ spans

    def counts(self) -> tuple[int, int, int, int]:
        """The four counts in ``STYLE_NAMES`` order."""
        return self.words, self.headers, self.list_items, self.bold


def style_features(text: str) -> StyleFeatures:
    """Count an output's words, and its headers, list items and bold spans outside code.

        >>> style_features("Steps:\\n1. **Boil** water\\n2. Add tea\\n```\\n# not a header\\n```")
        StyleFeatures(words=13, headers=0, list_items=2, bold=1)
    """
    prose = _RULE.sub("", _INLINE_CODE.sub("", _FENCED_CODE.sub("", text)))
    return StyleFeatures(words=len(text.split()), headers=len(_HEADER.findall(prose)),
                         list_items=len(_LIST_ITEM.findall(prose)), bold=len(_BOLD.findall(prose)))


# --- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ControlledStrength:
    """One variant's Bradley–Terry strength without and with style control (Elo-like scale, mean 1000).

    ``*_low``..``*_high``: bootstrap 95% interval (the point itself when ``bootstrap=0``).
    """

    variant: str
    plain: float  # no covariates: review_stats.bradley_terry's score (same virtual ties), within 1e-6 points
    controlled: float  # the strength if both outputs of every pair had had the same style
    plain_rank: int  # 1 = strongest; equal scores share a rank
    controlled_rank: int
    rank_changed: bool
    plain_low: float
    plain_high: float
    controlled_low: float
    controlled_high: float


@dataclass(frozen=True)
class StyleCoefficient:
    """How much one style difference sways a verdict: log-odds of the left output winning per ``scale``.

    The covariate is the normalised difference ``(a - b) / (a + b + 1)`` of the left (a) and right (b)
    counts, divided by ``scale`` (its root mean square over the judgements); so ``estimate`` is the
    effect of one typical difference, and ``estimate / scale`` that of the raw normalised difference.
    ``low``..``high`` and ``p_value``: Wald 95% interval and test of "no effect", from the fit.
    """

    name: str  # one of STYLE_NAMES
    estimate: float
    low: float
    high: float
    p_value: float
    scale: float


@dataclass(frozen=True)
class DroppedFeature:
    """A style covariate left out of the fit, and why (its effect could not be estimated from these judgements)."""

    name: str
    reason: str


@dataclass(frozen=True)
class StyleControlled:
    """Plain and style-controlled strengths of one set of verdicts, and the style effects."""

    strengths: list[ControlledStrength]  # strongest (controlled) first
    coefficients: list[StyleCoefficient]  # in STYLE_NAMES order, dropped ones left out
    dropped: list[DroppedFeature]
    judgements: int
    bootstrap: int
    seed: int

    def to_document(self) -> dict:
        """Plain JSON-ready data, keys in field order."""
        return asdict(self)


@dataclass(frozen=True)
class LengthControlled:
    """A variant's win rate against the baseline, raw and as if both answers had had the same length."""

    variant: str
    n: int  # judgements of this variant against the baseline
    win_rate: float  # (wins + half of ties and both_bad) / n
    lc_win_rate: float  # the fit's win rate at length difference 0: sigmoid(intercept)
    lc_low: float  # Wald 95% interval of lc_win_rate (from the intercept's)
    lc_high: float
    length_coefficient: float | None  # log-odds per unit of tanh(difference / std); None: lengths never differed


# --- checks --------------------------------------------------------------------------------------


def _check(judgements: Sequence[Judgement], variants: Sequence[str], features: Mapping[tuple[int, str], StyleFeatures]):
    """Every judged variant is known and every judged output has features; else one line that says which."""
    known = set(variants)
    for j in judgements:
        for name in (j.left, j.right):
            if name not in known:
                raise StatisticsError(f"judgement on prompt {j.prompt_index} names {name!r}, not one of the variants "
                                      f"{list(variants)}: add it to the variants or leave the judgement out")
    _check_features(judgements, features)


def _check_features(judgements: Sequence[Judgement], features: Mapping[tuple[int, str], StyleFeatures]):
    missing = sorted({(j.prompt_index, v) for j in judgements for v in (j.left, j.right) if (j.prompt_index, v) not in features})
    if missing:
        prompt, variant = missing[0]
        raise StatisticsError(f"no style features for {len(missing)} judged output(s), the first being prompt {prompt} "
                              f"of {variant!r}: pass style_features(text) for every judged (prompt_index, variant)")


# --- fitting -------------------------------------------------------------------------------------


def _normalised_difference(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``(a - b) / (a + b + 1)``: LMArena's ratio (+1 as in their code, so two outputs without headers give 0, not 0/0)."""
    return (left - right) / (left + right + 1.0)


def _fit(endog: np.ndarray, exog: np.ndarray, weights: np.ndarray):
    """Logistic regression of the left's share of a win (1, 0, or 0.5 for tie / both bad) on ``exog``.

    A binomial GLM with the share as a fractional outcome, one row per judgement: its estimates
    are those of a logit with a tie split into half a win and half a loss, and its standard
    errors count a tie as one verdict (duplicated rows would count it twice and narrow every CI).
    statsmodels' perfect-separation warning is silenced: the virtual ties rule separation out,
    so it can only mean a perfect fit (every verdict a tie, fitted as 0.5), which is no problem.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        return sm.GLM(endog, exog, family=sm.families.Binomial(), freq_weights=weights).fit()


def _to_elo(beta: np.ndarray, k: int) -> np.ndarray:
    """Variant coefficients (the first variant fixed at 0) -> review_stats' scale: 400/ln 10 per unit, mean 1000."""
    log_odds = np.concatenate([[0.0], beta[: k - 1]])
    elo = ELO_SCALE / math.log(10) * log_odds
    return elo - elo.mean() + ELO_MEAN


def _ranks(scores: np.ndarray) -> list[int]:
    return [1 + int(np.sum(scores > s + _RANK_TOL)) for s in scores]


def _style_columns(judgements: Sequence[Judgement], features: Mapping[tuple[int, str], StyleFeatures],
                   variant_part: np.ndarray) -> tuple[np.ndarray, list[str], list[float], list[DroppedFeature]]:
    """The style covariates that can be estimated, each divided by its root mean square; the others, dropped.

    Scaled but not centred (LMArena centres): a difference flips sign when the pair's order
    flips, so centring would make the fit depend on which variant the canonical order puts left.
    A covariate that is zero on every judgement, or a combination of the variant terms and the
    covariates before it (say every pirate answer is twice as long as the base's), has no effect
    these judgements could show: it is dropped, and the result says so.
    """
    if not judgements:
        return np.zeros((0, 0)), [], [], [DroppedFeature(n, "no judgements") for n in STYLE_NAMES]
    left = np.array([features[j.prompt_index, j.left].counts() for j in judgements], dtype=float)
    right = np.array([features[j.prompt_index, j.right].counts() for j in judgements], dtype=float)
    diffs = _normalised_difference(left, right)
    kept, names, scales, dropped = variant_part, [], [], []
    for c, name in enumerate(STYLE_NAMES):
        scale = float(np.sqrt(np.mean(diffs[:, c] ** 2)))
        if scale == 0.0:
            dropped.append(DroppedFeature(name, f"no judged pair differs in {name}"))
            continue
        column = diffs[:, c:c + 1] / scale
        trial = np.hstack([kept, column])
        if np.linalg.matrix_rank(trial) == (np.linalg.matrix_rank(kept) if kept.shape[1] else 0):
            dropped.append(DroppedFeature(name, f"{name} differs with the variants alone (or with the features before "
                                                f"it): its effect cannot be told apart from theirs"))
            continue
        kept, names, scales = trial, names + [name], scales + [scale]
    return kept[:, variant_part.shape[1]:], names, scales, dropped


def _virtual_rows(k: int, covariates: int) -> tuple[np.ndarray, np.ndarray]:
    """``PRIOR_TIES`` virtual tied games: one per pair of variants (as review_stats' MM fit), one per covariate.

    They keep every estimate finite when the data separate perfectly (a variant that never
    loses, a longer answer that always wins) and weigh as one verdict each, so a real review
    barely notices them. The pair ties make the plain fit review_stats.bradley_terry's exactly.
    """
    rows = []
    for a in range(k):
        for b in range(a + 1, k):
            row = np.zeros(k - 1 + covariates)
            if a:
                row[a - 1] = 1.0
            row[b - 1] = -1.0
            rows.append(row)
    for c in range(covariates):
        row = np.zeros(k - 1 + covariates)
        row[k - 1 + c] = 1.0  # a tie between outputs one typical difference apart
        rows.append(row)
    exog = np.array(rows).reshape(len(rows), k - 1 + covariates)
    return exog, np.full(len(rows), PRIOR_TIES)


def _variant_part(judgements: Sequence[Judgement], variants: Sequence[str]) -> np.ndarray:
    """+1 for the left variant, -1 for the right, one column per variant but the first (fixed at 0)."""
    index = {v: i for i, v in enumerate(variants)}
    part = np.zeros((len(judgements), len(variants) - 1))
    for row, j in zip(part, judgements):
        if index[j.left]:
            row[index[j.left] - 1] = 1.0
        if index[j.right]:
            row[index[j.right] - 1] = -1.0
    return part


def _fit_both(endog, plain_exog, controlled_exog, counts, k, covariates):
    """Plain and controlled fits on the judgements weighted by ``counts`` (1s, or a bootstrap draw)."""
    plain_virtual, plain_weights = _virtual_rows(k, 0)
    controlled_virtual, controlled_weights = _virtual_rows(k, covariates)
    half = np.full(len(controlled_weights), 0.5)
    plain = _fit(np.concatenate([endog, half[: len(plain_weights)]]), np.vstack([plain_exog, plain_virtual]),
                 np.concatenate([counts, plain_weights]))
    controlled = _fit(np.concatenate([endog, half]), np.vstack([controlled_exog, controlled_virtual]),
                      np.concatenate([counts, controlled_weights]))
    return plain, controlled


def style_controlled_strengths(judgements: Sequence[Judgement], variants: Sequence[str],
                               features: Mapping[tuple[int, str], StyleFeatures], bootstrap: int = 0,
                               seed: int = 0) -> StyleControlled:
    """Bradley–Terry strengths with and without LMArena's style control, and the style effects.

    The controlled fit is a logistic regression of the left's share of each verdict on the
    variants (+1 left, -1 right) and the style differences of the two outputs (``STYLE_NAMES``:
    normalised, scaled, see ``StyleCoefficient``). A variant's controlled strength is what the
    verdicts credit it with once length and markdown are accounted for; a ``rank_changed`` says
    its place in the table was partly its style. The plain fit drops the covariates and is
    review_stats.bradley_terry's (the same ``PRIOR_TIES`` virtual ties; tested to 1e-3 points).

    ``bootstrap`` > 0 resamples the judgements that many times (numpy Generator seeded with
    ``seed``) and refits both, for 2.5..97.5 percentile intervals; the coefficients' intervals
    are the fit's Wald intervals either way. Fewer than two variants or no judgements give every
    variant 1000 and drop every covariate, with the reason.
    """
    judgements, variants = list(judgements), list(variants)
    _check(judgements, variants, features)
    k = len(variants)
    if k == 0:
        return StyleControlled([], [], [DroppedFeature(n, "no variants") for n in STYLE_NAMES], len(judgements), bootstrap, seed)
    variant_part = _variant_part(judgements, variants)
    style, names, scales, dropped = _style_columns(judgements, features, variant_part)
    endog = np.array([_LEFT_SHARE[j.choice] for j in judgements])
    controlled_exog = np.hstack([variant_part, style]) if names else variant_part
    ones = np.ones(len(judgements))

    if k == 1:
        plain_scores = controlled_scores = np.array([ELO_MEAN])
        coefficients = []
    else:
        plain, controlled = _fit_both(endog, variant_part, controlled_exog, ones, k, len(names))
        plain_scores, controlled_scores = _to_elo(plain.params, k), _to_elo(controlled.params, k)
        intervals = controlled.conf_int(alpha=0.05)
        coefficients = [StyleCoefficient(name, float(controlled.params[k - 1 + c]), float(intervals[k - 1 + c, 0]),
                                         float(intervals[k - 1 + c, 1]), float(controlled.pvalues[k - 1 + c]), scales[c])
                        for c, name in enumerate(names)]

    plain_low = plain_high = plain_scores
    controlled_low = controlled_high = controlled_scores
    if bootstrap > 0 and judgements and k > 1:
        draws = np.random.default_rng(seed).multinomial(len(judgements), ones / len(judgements), size=bootstrap)
        samples = [_fit_both(endog, variant_part, controlled_exog, draw.astype(float), k, len(names)) for draw in draws]
        plain_samples = np.array([_to_elo(p.params, k) for p, _ in samples])
        controlled_samples = np.array([_to_elo(c.params, k) for _, c in samples])
        plain_low, plain_high = np.percentile(plain_samples, [2.5, 97.5], axis=0)
        controlled_low, controlled_high = np.percentile(controlled_samples, [2.5, 97.5], axis=0)

    plain_ranks, controlled_ranks = _ranks(plain_scores), _ranks(controlled_scores)
    strengths = [ControlledStrength(v, float(plain_scores[i]), float(controlled_scores[i]), plain_ranks[i],
                                    controlled_ranks[i], plain_ranks[i] != controlled_ranks[i], float(plain_low[i]),
                                    float(plain_high[i]), float(controlled_low[i]), float(controlled_high[i]))
                 for i, v in enumerate(variants)]
    strengths.sort(key=lambda s: -s.controlled)
    return StyleControlled(strengths, coefficients, dropped, len(judgements), bootstrap, seed)


# --- length-controlled win rates -----------------------------------------------------------------


def _length_controlled(variant: str, shares: np.ndarray, differences: np.ndarray) -> LengthControlled:
    """AlpacaEval 2's GLM for one variant: logit P(win) = intercept + coefficient * tanh(difference / std).

    ``PRIOR_TIES`` virtual tied games, half at tanh = +1 and half at -1, keep both terms finite
    when the data separate (a variant that always wins, or wins exactly when longer).
    """
    std = float(np.std(differences))  # population std (ddof=0), so a single judgement still has one
    virtual_weights = np.full(2, PRIOR_TIES / 2)
    endog = np.concatenate([shares, [0.5, 0.5]])
    weights = np.concatenate([np.ones(len(shares)), virtual_weights])
    if std > 0:
        exog = np.column_stack([np.ones(len(shares) + 2), np.concatenate([np.tanh(differences / std), [1.0, -1.0]])])
    else:
        exog = np.ones((len(shares) + 2, 1))
    fit = _fit(endog, exog, weights)
    intercept, se = float(fit.params[0]), float(fit.bse[0])
    return LengthControlled(variant=variant, n=len(shares), win_rate=float(shares.mean()),
                            lc_win_rate=_sigmoid(intercept), lc_low=_sigmoid(intercept - Z_95 * se),
                            lc_high=_sigmoid(intercept + Z_95 * se),
                            length_coefficient=float(fit.params[1]) if std > 0 else None)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def length_controlled_win_rates(judgements: Sequence[Judgement], baseline: str,
                                features: Mapping[tuple[int, str], StyleFeatures]) -> list[LengthControlled]:
    """Each variant's win rate against ``baseline``, raw and length-controlled (AlpacaEval 2), best LC first.

    Per variant, on its judgements against the baseline (ties and both bad half a win): a
    logistic regression of "the variant wins" on an intercept and tanh(word difference / its
    std); the LC win rate is the fitted rate at difference 0, sigmoid(intercept). A variant that
    wins only by writing more falls toward 0.5. Variants never judged against the baseline are
    not listed.
    """
    judgements = list(judgements)
    if not any(baseline in (j.left, j.right) for j in judgements):
        named = sorted({v for j in judgements for v in (j.left, j.right)})
        raise StatisticsError(f"the baseline {baseline!r} is in no judgement: pick one of {named}")
    against = [j for j in judgements if baseline in (j.left, j.right)]
    _check_features(against, features)
    per_variant: dict[str, list[tuple[float, float]]] = {}
    for j in against:
        variant, share = (j.left, _LEFT_SHARE[j.choice]) if j.right == baseline else (j.right, 1 - _LEFT_SHARE[j.choice])
        difference = features[j.prompt_index, variant].words - features[j.prompt_index, baseline].words
        per_variant.setdefault(variant, []).append((share, difference))
    rows = [_length_controlled(v, *np.array(pairs, dtype=float).T) for v, pairs in per_variant.items()]
    return sorted(rows, key=lambda r: -r.lc_win_rate)
