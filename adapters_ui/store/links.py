"""The links people share: a saved comparison's permalink and a review's two secret links.

    >>> comparison_link("https://me.hf.space/", "abc")
    'https://me.hf.space/?run=abc'
    >>> reviewer_link("http://127.0.0.1:7860", "tok")
    'http://127.0.0.1:7860/review/?reviewer=tok'
"""

from __future__ import annotations

REVIEW_PATH = "/review"  # the reviewer and results pages: an app of their own, which never holds variant names


def _root(base_url: str) -> str:
    return (base_url or "").rstrip("/")


def comparison_link(base_url: str, comparison_id: str) -> str:
    return f"{_root(base_url)}/?run={comparison_id}"


def reviewer_link(base_url: str, token: str) -> str:
    return f"{_root(base_url)}{REVIEW_PATH}/?reviewer={token}"


def owner_link(base_url: str, token: str) -> str:
    return f"{_root(base_url)}{REVIEW_PATH}/?owner={token}"


def evaluation_link(base_url: str, evaluation_id: str) -> str:
    return f"{_root(base_url)}/?evaluation={evaluation_id}"
