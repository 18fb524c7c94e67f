"""A review's judges as its owner sees them: the newest pairwise judging, its swap figures and agreement with
the people, and, for the people and the judge alike, plain against style-controlled strengths and
length-controlled win rates against the baseline; with each pair's texts, so a disagreement can be opened.

    >>> view = review_judging_view(db, review_id)          # doctest: +SKIP
    >>> view.agreement["percent_with_ties"], [s["variant"] for s in view.strengths["people"]["strengths"]]  # doctest: +SKIP
    (75.0, ['pirate', 'base'])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from adapters_ui.analysis.judge_agreement import judge_human_agreement, swap_stats
from adapters_ui.analysis.review_stats import Judgement
from adapters_ui.analysis.style_control import length_controlled_win_rates, style_controlled_strengths, style_features
from adapters_ui.names import BASE
from adapters_ui.store.database import Database
from adapters_ui.store.judgements import FAILED, StoredJudging, iter_results, judge_judgements, list_judgings
from adapters_ui.store.reviews import ReviewSnapshot, review_results
from adapters_ui.store.saved import load_comparison

WHO = ("people", "judge")


@dataclass(frozen=True)
class ReviewJudgingView:
    """Everything the owner page shows of judges; the dict parts are ``judging_document``'s shapes."""

    judging: StoredJudging | None  # the newest pairwise judging that did not fail (None: never judged)
    judged: list[Judgement]  # its readable verdicts, as one more reviewer's (``judge: <model>``)
    swap: dict | None
    agreement: dict | None  # None: the judge or the people have no verdict yet
    strengths: dict = field(default_factory=dict)  # who -> StyleControlled document
    length_controlled: dict = field(default_factory=dict)  # who -> [LengthControlled rows]
    baseline: str = BASE
    prompts: list[str] = field(default_factory=list)
    outputs: list[dict] = field(default_factory=list)  # per prompt: variant -> text


def newest_review_judging(db: Database, review_id: str) -> StoredJudging | None:
    """The newest pairwise judging of ``review_id`` that did not fail (a cancelled one keeps what it judged)."""
    return next((j for j in list_judgings(db, "review", review_id) if j.mode == "pairwise" and j.status != FAILED), None)


def review_baseline(variants: list[str], judging: StoredJudging | None = None) -> str:
    """What length-controlled win rates are against: the judging's own baseline, else the base, else the first."""
    stored = (judging.settings or {}).get("baseline") if judging else None
    return stored if stored in variants else BASE if BASE in variants else variants[0]


def pair_texts(db: Database, comparison_id: str) -> tuple[list[dict], dict]:
    """Per prompt of the reviewed comparison: variant -> output text; and each output's style features."""
    results = load_comparison(db, comparison_id).data.results
    outputs = [{v: t for v, t in r["outputs"].items() if isinstance(t, str)} for r in results]
    return outputs, {(i, v): style_features(text) for i, texts in enumerate(outputs) for v, text in texts.items()}


def style_parts(voters: dict[str, list[Judgement]], variants: list[str], features: dict,
                baseline: str) -> tuple[dict, dict]:
    """Each voter's (the people's, the judge's) style-controlled strengths and length-controlled win rates against
    ``baseline``; a voter without verdicts is left out, and so are rates when none of its verdicts has the baseline."""
    strengths, rates = {}, {}
    for who, votes in voters.items():
        if not votes:
            continue
        strengths[who] = style_controlled_strengths(votes, variants, features).to_document()
        if any(baseline in (j.left, j.right) for j in votes):
            rates[who] = [asdict(r) for r in length_controlled_win_rates(votes, baseline, features)]
    return strengths, rates


def review_judging_view(db: Database, review_id: str, snapshot: ReviewSnapshot | None = None) -> ReviewJudgingView:
    """The owner page's judge section of review ``review_id`` (``snapshot``: the review, when already read)."""
    snapshot = snapshot or review_results(db, review_id=review_id)
    outputs, features = pair_texts(db, snapshot.info.comparison_id)
    judging = newest_review_judging(db, review_id)
    judged = judge_judgements(db, judging.id) if judging else []
    variants, people = snapshot.info.variants, snapshot.judgements
    baseline = review_baseline(variants, judging)
    strengths, rates = style_parts(dict(zip(WHO, (people, judged))), variants, features, baseline)
    swap = swap_stats([(r.left_first, r.right_first) for r in iter_results(db, judging.id)]).to_document() if judging else None
    agreement = judge_human_agreement(judged, people).to_document() if judged and people else None
    return ReviewJudgingView(judging, judged, swap, agreement, strengths, rates, baseline, snapshot.prompts, outputs)
