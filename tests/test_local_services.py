"""deploy/local/services.py: what it hands to Kafka's tools must parse every time."""
from __future__ import annotations

import base64
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _services_module():
    spec = importlib.util.spec_from_file_location("local_services", ROOT / "deploy" / "local" / "services.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def test_cluster_ids_never_look_like_an_option_to_the_storage_tool():
    # 1 in 32 random ids starts with "-": `kafka-storage format -t -abc…` then failed to start the broker
    services = _services_module()
    ids = [services._cluster_id() for _ in range(2000)]
    assert not [i for i in ids if i.startswith("-")]
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)
    assert len(set(ids)) == len(ids)
