"""The store commands of the CLI: saved comparisons and blind reviews (``saved ...``, ``review ...``).

    python -m adapters_ui saved list
    python -m adapters_ui saved show RUN_ID --json
    python -m adapters_ui review create RUN_ID --variants base,pirate --per-pair 3 --title "Pirate tone"
    python -m adapters_ui review list RUN_ID
    python -m adapters_ui review results REVIEW_ID --html review.html

They run on the server, so a review is read by its id (no owner token); links start with
ADAPTERS_UI_PUBLIC_URL.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from adapters_ui.cli.common import add_database_flag, examples, open_database, print_table
from adapters_ui.config import Settings
from adapters_ui.formatting import format_size, plural, shorten

PAIRINGS = {"all": "all", "vs-base": "vs_base"}  # --pairs value -> the store's pairing
PAIRING_WORDS = {"all": "every pair", "vs_base": "each adapter vs base"}


def add_commands(commands) -> None:
    """The `saved` and `review` commands (they read the store; none loads a model)."""
    add_saved(commands)
    add_review(commands)


def add_saved(commands) -> None:
    saved = commands.add_parser("saved", help="saved comparisons (compare --save)", **examples(
        "%(prog)s list", "%(prog)s show RUN_ID --json > run.json")).add_subparsers(dest="saved_command", required=True)
    saved_list = saved.add_parser("list", help="saved comparisons, newest first", **examples(
        "%(prog)s", "%(prog)s --database postgresql+psycopg://user:password@host:5432/adapters_ui"))
    add_database_flag(saved_list)
    saved_list.set_defaults(handler=run_saved_list)
    saved_show = saved.add_parser("show", help="one saved comparison", **examples(
        "%(prog)s RUN_ID  # settings, adapters and every output", "%(prog)s RUN_ID --json > run.json"))
    saved_show.add_argument("id", metavar="RUN_ID", help="the saved comparison's id (the ?run= of its permalink)")
    saved_show.add_argument("--json", action="store_true", help="print the saved document as JSON")
    add_database_flag(saved_show)
    saved_show.set_defaults(handler=run_saved_show)


def add_review(commands) -> None:
    review = commands.add_parser("review", help="blind A/B reviews of a saved comparison", **examples(
        "%(prog)s create RUN_ID --variants base,pirate --per-pair 3", "%(prog)s list RUN_ID",
        "%(prog)s results REVIEW_ID --html review.html")).add_subparsers(dest="review_command", required=True)
    create = review.add_parser("create", help="a new review: prints the reviewer and owner links", **examples(
        '%(prog)s RUN_ID --variants base,pirate --per-pair 3 --title "Pirate tone"',
        "%(prog)s RUN_ID --variants base,pirate,json_answer --pairs vs-base  # each adapter against the base"))
    create.add_argument("id", metavar="RUN_ID", help="the saved comparison to review")
    create.add_argument("--variants", required=True, metavar="A,B,...", help="comma-separated variants, at least 2 (e.g. base,pirate)")
    create.add_argument("--pairs", choices=list(PAIRINGS), default="all", help="every pair (default), or each adapter against the base")
    create.add_argument("--per-pair", type=int, default=1, metavar="N", help="judgements each pair needs (default 1)")
    create.add_argument("--title", default="", help="shown to reviewers (default: 'Blind review of N prompts')")
    add_database_flag(create)
    create.set_defaults(handler=run_review_create)
    listing = review.add_parser("list", help="the reviews of one saved comparison", **examples("%(prog)s RUN_ID"))
    listing.add_argument("id", metavar="RUN_ID", help="the saved comparison")
    add_database_flag(listing)
    listing.set_defaults(handler=run_review_list)
    add_review_results(review)


def add_review_results(review) -> None:
    results = review.add_parser("results", help="win rates, strengths and agreement of one review", **examples(
        "%(prog)s REVIEW_ID", "%(prog)s REVIEW_ID --json > results.json", "%(prog)s REVIEW_ID --csv --html review.html"))
    results.add_argument("id", metavar="REVIEW_ID", help="the review's id (from review create or review list)")
    output = results.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the results as JSON (nothing else on stdout)")
    output.add_argument("--csv", action="store_true", help="print one CSV row per variant")
    output.add_argument("--votes", action="store_true",
                        help="print one CSV row per vote: reviewer, prompt, pair, shown order, choice, comment, time")
    results.add_argument("--html", type=Path, metavar="OUT", help="also write the self-contained HTML report to OUT")
    add_database_flag(results)
    results.set_defaults(handler=run_review_results)


# ---- saved comparisons -------------------------------------------------------------------
def run_saved_list(args, settings: Settings) -> int:
    """The saved comparisons, newest first."""
    from adapters_ui.store.saved import list_comparisons

    with open_database(settings) as db:
        saved = list_comparisons(db)
    if not saved:
        print("No saved comparisons yet: run `python -m adapters_ui compare ... --save`.")
        return 0
    print_table(["id", "created", "base model", "prompts", "variants"],
                [[s.id, s.created, shorten(s.base_model, 40), s.prompts, ", ".join(s.variants)] for s in saved])
    return 0


def run_saved_show(args, settings: Settings) -> int:
    """One saved comparison: a summary, or (--json) the saved document."""
    from adapters_ui.store.links import comparison_link
    from adapters_ui.store.saved import load_comparison
    from adapters_ui.views.document import to_document

    with open_database(settings) as db:
        saved = load_comparison(db, args.id)
    data = saved.data
    if args.json:
        document = {"id": saved.id, "saved": saved.created, **to_document(data), "saved_adapters": saved.adapters}
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return 0
    rows = [
        ("id", saved.id),
        ("saved", saved.created),
        ("permalink", comparison_link(settings.public_url, saved.id)),
        ("base model", data.base_model),
        ("device", f"{data.device} ({data.dtype})"),
        ("variants", ", ".join(data.variants)),
        ("prompts", len(data.results)),
        ("max tokens", data.settings.get("max_new_tokens", "-")),
    ]
    for key, value in rows:
        print(f"{key:<11} {value}")
    if saved.adapters:
        print("\nadapters:")
        print_table(["name", "type", "size", "sha256"],
                    [[a["name"], a["type"], format_size(a["bytes"]), a.get("sha256") or "-"] for a in saved.adapters],
                    indent="  ")
    print("\nprompts:")
    for number, record in enumerate(data.results, 1):
        print(f"  [{number}] {shorten(' '.join(record['prompt'].split()), 100)}")
    return 0


# ---- blind reviews -------------------------------------------------------------------------
def run_review_create(args, settings: Settings) -> int:
    """A new review of a saved comparison; prints its reviewer and owner links (shown once)."""
    from adapters_ui.store.links import owner_link, reviewer_link
    from adapters_ui.store.reviews import create_review

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    with open_database(settings) as db:
        links = create_review(db, args.id, variants, pairing=PAIRINGS[args.pairs], per_pair=args.per_pair,
                              title=args.title)
    print(f"review:        {links.review_id}")
    print(f"pairs:         {links.items} to judge (prompts x pairs), {plural(args.per_pair, 'judgement')} each")
    print(f"reviewer link: {reviewer_link(settings.public_url, links.reviewer_token)}")
    print(f"owner link:    {owner_link(settings.public_url, links.owner_token)}")
    print("Both links are shown once: send the reviewer link to reviewers, keep the owner link private.")
    return 0


def run_review_list(args, settings: Settings) -> int:
    """The reviews of one saved comparison."""
    from adapters_ui.store.reviews import reviews_of
    from adapters_ui.store.saved import load_comparison

    with open_database(settings) as db:
        load_comparison(db, args.id)  # an unknown or malformed id is an error, not an empty list
        reviews = reviews_of(db, args.id)
    if not reviews:
        print(f"No reviews of {args.id} yet: create one with `python -m adapters_ui review create {args.id} --variants A,B`.")
        return 0
    print_table(["id", "title", "variants", "pairing", "per pair", "items", "created", "closed"],
                [[r.id, shorten(r.title, 40), ", ".join(r.variants), PAIRING_WORDS.get(r.pairing, r.pairing),
                  r.per_pair, r.items, r.created, "yes" if r.revoked else "no"] for r in reviews])
    return 0


def run_review_results(args, settings: Settings) -> int:
    """One review's results: a summary, JSON (--json), CSV (--csv) or the raw votes (--votes); --html OUT also
    writes the report."""
    from adapters_ui.analysis.review_stats import to_csv, votes_csv
    from adapters_ui.analysis.review_stats import to_json as results_json
    from adapters_ui.store.reviews import review_results, summarise_review

    with open_database(settings) as db:
        snapshot = review_results(db, review_id=args.id)
    info = snapshot.info
    results = summarise_review(snapshot)
    if args.html:
        from adapters_ui.views.review_report import results_html

        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(results_html(results), encoding="utf-8")
    if args.json:
        sys.stdout.write(results_json(results))
    elif args.csv:
        sys.stdout.write(to_csv(results))
    elif args.votes:
        sys.stdout.write(votes_csv(results))
    else:
        print_results(info, results)
    if args.html:  # stdout stays the document with --json / --csv / --votes
        print(f"wrote {args.html}", file=sys.stderr if args.json or args.csv or args.votes else sys.stdout)
    return 0


def print_results(info, results) -> None:
    """Win rates (Wilson 95%), Bradley–Terry strengths (bootstrap 95%), agreement and comments, as text."""
    from adapters_ui.analysis.review_stats import kappa_words

    state = "closed" if info.revoked else "open"
    print(f"review {info.id}: {info.title}")
    print(f"comparison {info.comparison_id} · {', '.join(info.variants)} · {PAIRING_WORDS.get(info.pairing, info.pairing)}"
          f" · {info.per_pair} per pair · {state}")
    print(f"{plural(results.judgements_count, 'judgement')} by {plural(len(results.reviewers), 'reviewer')} on "
          f"{plural(info.items, 'pair')}")
    if not results.judgements_count:
        print("\nNo judgements yet: the results fill in as reviewers pick.")
        return
    print("\nwin rate (a tie or 'both bad' counts half; Wilson 95% interval)")
    print_table(["variant", "judged", "wins", "losses", "ties", "both bad", "win rate", "95% interval"],
                [[w.variant, w.n, w.wins, w.losses, w.ties, w.both_bad, f"{w.rate:.0%}", f"{w.low:.0%} - {w.high:.0%}"]
                 for w in results.win_rates], indent="  ")
    print(f"\nstrength (Bradley-Terry, mean 1000, +400 = 10:1 odds; 95% interval from {results.bootstrap} bootstrap resamples)")
    print_table(["rank", "variant", "strength", "95% interval"],
                [[rank, s.variant, f"{s.score:.0f}", f"{s.low:.0f} - {s.high:.0f}"]
                 for rank, s in enumerate(results.strengths, 1)], indent="  ")
    a = results.agreement
    if a.percent is None:
        agreement = "not enough overlap (no two reviewers judged the same pair on the same prompt)"
    else:
        kappa = ("Fleiss' kappa not defined (every vote in one category)" if a.fleiss_kappa is None
                 else f"Fleiss' kappa {a.fleiss_kappa:.2f} ({kappa_words(a.fleiss_kappa)})")
        agreement = (f"{a.percent:.0f}% of reviewer pairs agree over {plural(a.items, 'shared item')}, "
                     f"{plural(a.reviewers, 'reviewer')}; {kappa}")
    print(f"\nagreement: {agreement}")
    print(f"comments:  {len(results.comments)} (read them with --html OUT or --json)")
