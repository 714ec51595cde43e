"""The one HTTP layer: retries, pacing, bounded answers, origin pinning, paging."""
