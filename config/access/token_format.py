"""What an API token looks like, importable before Django's apps are loaded
(logging is configured first, and its filters need this)."""

# Every token starts with this marker, so a token pasted into a log, a ticket
# or a repository is recognisable (config.access.log_filters redacts it) without
# guessing at random-looking strings.
TOKEN_MARKER = "rs_"  # noqa: S105
