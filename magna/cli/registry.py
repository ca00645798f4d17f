"""Every ``magna`` client command and the names it answers to.

Modern names follow ``openstack coe`` (``cluster create``); the legacy names of the original
``magnum`` client (``bay-create``, ``baymodel-list``, ``ca-sign``, ``service-list`` …) and the
later ``cluster-template-*``/``cluster-*`` ones map to the same classes, or to ``bay``/``baymodel``
variants that use the legacy endpoints. Containers (``container-create`` … ``container-logs``)
answer to both ``container-VERB`` and ``container VERB``; Kubernetes objects to the original
client's ``pod-VERB``, ``rc-VERB`` and ``coe-service-VERB``.
"""

from __future__ import annotations

from cliff.command import Command

from magna.cli.commands import (
    admin,
    certificates,
    clusters,
    config,
    containers,
    federations,
    keypairs,
    kube_objects,
    nodegroups,
    templates,
)

VERBS = ("create", "list", "show", "update", "delete")
CONTAINER_VERBS = ("start", "stop", "reboot", "pause", "unpause", "exec", "logs")


def _crud(modern: str, legacy: str, module: object) -> dict[str, type[Command]]:
    names: dict[str, type[Command]] = {}
    for verb in VERBS:
        cls = getattr(module, verb.capitalize(), None)
        if cls is None:
            continue
        names[f"{modern} {verb}"] = cls
        names[f"{legacy}-{verb}"] = cls
    return names


COMMANDS: dict[str, type[Command]] = {
    **_crud("cluster template", "cluster-template", templates),
    **_crud("cluster", "cluster", clusters),
    **_crud("nodegroup", "nodegroup", nodegroups),
    **_crud("keypair", "keypair", keypairs),
    **_crud("federation", "federation", federations),
    "cluster resize": clusters.Resize, "cluster-resize": clusters.Resize,
    "cluster upgrade": clusters.Upgrade, "cluster-upgrade": clusters.Upgrade,
    "cluster events": clusters.Events, "cluster-events": clusters.Events,
    "cluster config": config.ClusterConfig, "cluster-config": config.ClusterConfig,
    "baymodel-create": templates.BaymodelCreate, "baymodel-list": templates.BaymodelList,
    "baymodel-show": templates.BaymodelShow, "baymodel-update": templates.BaymodelUpdate,
    "baymodel-delete": templates.BaymodelDelete,
    "bay-create": clusters.BayCreate, "bay-list": clusters.BayList,
    "bay-show": clusters.BayShow, "bay-update": clusters.BayUpdate,
    "bay-delete": clusters.BayDelete,
    "ca show": certificates.Show, "ca-show": certificates.Show,
    "ca sign": certificates.Sign, "ca-sign": certificates.Sign,
    "ca rotate": certificates.Rotate, "ca-rotate": certificates.Rotate,
    "service list": admin.ServiceList, "service-list": admin.ServiceList,
    "quota create": admin.QuotaCreate, "quotas-create": admin.QuotaCreate,
    "quota list": admin.QuotaList, "quotas-list": admin.QuotaList,
    "quota show": admin.QuotaShow, "quotas-show": admin.QuotaShow,
    "quota update": admin.QuotaUpdate, "quotas-update": admin.QuotaUpdate,
    "quota delete": admin.QuotaDelete, "quotas-delete": admin.QuotaDelete,
    "stats show": admin.StatsShow, "stats-list": admin.StatsShow,
    "status": admin.Status,
    **_crud("container", "container", containers),
    **{f"{form}{verb}": getattr(containers, verb.capitalize())
       for verb in CONTAINER_VERBS for form in ("container ", "container-")},
    **kube_objects.commands(),
}
