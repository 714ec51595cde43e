"""The connector contract: one suite run against every connector in the registry."""
