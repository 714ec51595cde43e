"""Is an app a marketing tool? Either its catalog category says so, or its users do.

An app counts as marketing when its category is in ``MARKETING_CATEGORIES`` (after the
company's ``[catalog.categories]`` overrides), or when more than ``organisation.marketing_share``
of its users are marketing users: people whose department is one of
``organisation.marketing_departments`` or who are in one of ``organisation.marketing_groups``. The
second rule catches the unknown tool only the marketing team uses. The reason is kept for the
report.
"""

from __future__ import annotations

from scanner.analysis.catalog import Catalog


def classify_marketing(
    category: str | None,
    catalog: Catalog,
    marketing_users: int,
    total_users: int,
    share: float,
) -> tuple[bool, str]:
    """``(is_marketing, reason)``, e.g. ``(True, "7 of 8 users are in Marketing")``."""
    if catalog.is_marketing_category(category):
        return True, f"catalog category {category}"
    counted = f"{marketing_users} of {total_users} users are in Marketing"
    if total_users > 0 and (
        marketing_users / total_users > share or marketing_users == total_users
    ):
        return True, counted
    if category is None and total_users == 0:
        return False, "no catalog category and no users recorded"
    what = f"category {category} is not a marketing category" if category else "not in the catalog"
    if total_users == 0:
        return False, f"{what}; no users recorded"
    return False, f"{what}; only {counted} (needs more than {share:.0%})"
