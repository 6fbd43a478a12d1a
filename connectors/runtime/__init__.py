"""What every live connector shares: config, brand matching, checkpoints, rate limits,
backoff, dedupe, dead letters and the run loop (`live.py`). Platforms live beside this
package (`connectors/rss.py`, `connectors/mastodon.py`, ...)."""
