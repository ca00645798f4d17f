"""Which ``sort_key`` values each collection's list takes, for the API document.

The repository refuses any other key with a 400 (``repository.sort_column``); the document
names these as an enum so that what it calls valid is what the lists accept.
"""

from __future__ import annotations

from magna.db import models, repository

_MODELS = {"clusters": models.Cluster, "clustertemplates": models.ClusterTemplate,
           "nodegroups": models.NodeGroup, "containers": models.Container,
           "federations": models.Federation, "quotas": models.Quota}


def sort_keys(collection: str) -> tuple[str, ...]:
    """``collection``'s sortable attributes (bays are clusters, baymodels templates)."""
    return repository.sort_keys(_MODELS[collection])
