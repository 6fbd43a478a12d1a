"""The ground floor: what every Luister process shares and nothing else.

Settings (env, TOML file, and their sections), the metrics registry, structured logs,
retry/backoff, HMAC signing, a bounded LRU, Kafka topic administration and the
project's paths. Every other package may import `core`; `core` imports no other
package of this project (tests/test_architecture.py checks it).
"""
from core.version import __version__

__all__ = ["__version__"]
