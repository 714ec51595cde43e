"""Finding rules beyond the policy checks of ``scanner.analysis.reconcile``, one module per
family: ``consent`` (consent-phishing heuristics from ``scanner/data/consent_rules.toml``),
``leavers`` (leftover access, orphaned apps), ``coverage`` (apps outside SSO) and
``portfolio`` (spend, renewals, overlap, the approved alternative). ``base`` holds the
severity table, the context and the subject every rule reads."""
