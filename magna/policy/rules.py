"""Default rules, named as in Magnum 23.0.0 (see shared/spec/magnum-api.md section 6)."""

from __future__ import annotations

from oslo_policy import policy

ADMIN = "role:admin"
PROJECT_MEMBER = "role:member and project_id:%(project_id)s"
PROJECT_READER = "role:reader and project_id:%(project_id)s"
IS_USER = "user_id:%(user_id)s"

BASE = [
    policy.RuleDefault("context_is_admin", ADMIN, "Decides what an administrator is."),
    policy.RuleDefault("admin_or_owner", "is_admin:True or project_id:%(project_id)s",
                       "Deprecated: admin or the owning project."),
    policy.RuleDefault("admin_or_user", "is_admin:True or user_id:%(user_id)s",
                       "Deprecated: admin or the owning user."),
    policy.RuleDefault("is_user", IS_USER, "The user that owns the resource."),
    policy.RuleDefault("project_member", PROJECT_MEMBER, "A member of the owning project."),
    policy.RuleDefault("project_reader", PROJECT_READER, "A reader of the owning project."),
    policy.RuleDefault("admin_or_project_reader", "rule:context_is_admin or rule:project_reader",
                       "Admin or a reader of the owning project."),
    policy.RuleDefault("admin_or_project_member", "rule:context_is_admin or rule:project_member",
                       "Admin or a member of the owning project."),
    policy.RuleDefault("admin_or_project_member_user",
                       "rule:context_is_admin or (rule:project_member and rule:is_user)",
                       "Admin or the member of the owning project that created it."),
    policy.RuleDefault("admin_or_project_member_user_or_cluster_user",
                       "rule:context_is_admin or (rule:project_member and rule:is_user)",
                       "Admin or the member that created the cluster."),
    policy.RuleDefault("project_member_deny_cluster_user", "rule:project_member",
                       "A member of the owning project."),
    policy.RuleDefault("admin_or_project_member_deny_cluster_user",
                       "rule:context_is_admin or rule:project_member",
                       "Admin or a member of the owning project."),
    policy.RuleDefault("project_reader_deny_cluster_user", "rule:project_reader",
                       "A reader of the owning project."),
    policy.RuleDefault("admin_or_project_reader_deny_cluster_user",
                       "rule:context_is_admin or rule:project_reader",
                       "Admin or a reader of the owning project."),
    policy.RuleDefault("admin_or_project_reader_user",
                       "rule:context_is_admin or (rule:project_reader and rule:is_user)",
                       "Admin or the reader of the owning project that created it."),
]


def _rules(prefix: str, names: str, check: str, what: str) -> list[policy.RuleDefault]:
    return [policy.RuleDefault(f"{prefix}:{name}", check, f"{what}: {name}.")
            for name in names.split()]


RESOURCES = [
    *_rules("certificate", "create", "rule:admin_or_project_member_user",
            "Sign a CSR with a cluster's CA"),
    *_rules("certificate", "get", "rule:admin_or_project_reader_user", "Read a cluster's CA"),
    *_rules("certificate", "rotate_ca", "rule:admin_or_project_member", "Rotate a cluster's CA"),
    *_rules("cluster", "create delete update resize upgrade",
            "rule:admin_or_project_member_deny_cluster_user", "Cluster"),
    *_rules("cluster", "get get_all detail", "rule:admin_or_project_reader_deny_cluster_user",
            "Cluster"),
    *_rules("cluster", "update_health_status",
            "rule:admin_or_project_member_user_or_cluster_user", "Cluster"),
    *_rules("cluster", "delete_all_projects detail_all_projects get_one_all_projects "
            "get_all_all_projects update_all_projects upgrade_all_projects",
            "rule:context_is_admin", "Cluster across projects"),
    *_rules("clustertemplate", "create", "rule:admin_or_project_member_deny_cluster_user",
            "Cluster template"),
    *_rules("clustertemplate", "delete update", "rule:admin_or_project_member",
            "Cluster template"),
    *_rules("clustertemplate", "get get_all detail",
            "rule:admin_or_project_reader_deny_cluster_user", "Cluster template"),
    *_rules("clustertemplate", "detail_all_projects get_one_all_projects get_all_all_projects "
            "update_all_projects delete_all_projects", "rule:context_is_admin",
            "Cluster template across projects"),
    *_rules("clustertemplate", "publish", "rule:context_is_admin",
            "Make a cluster template public or hidden"),
    *_rules("credential", "rotate", "rule:project_member_deny_cluster_user",
            "Rotate a cluster's credential"),
    *_rules("federation", "create delete update",
            "rule:admin_or_project_member_deny_cluster_user", "Federation"),
    *_rules("federation", "get get_all detail", "rule:admin_or_project_reader_deny_cluster_user",
            "Federation"),
    # Magna's addition: administrators reach other projects' federations as they do clusters.
    *_rules("federation", "delete_all_projects detail_all_projects get_one_all_projects "
            "get_all_all_projects update_all_projects", "rule:context_is_admin",
            "Federation across projects"),
    *_rules("magnum-service", "get_all", "rule:context_is_admin", "List conductors"),
    *_rules("quota", "create delete update get_all", "rule:context_is_admin", "Quota"),
    *_rules("quota", "get", "rule:admin_or_project_reader", "Quota"),
    *_rules("stats", "get_all", "rule:admin_or_project_reader", "Statistics"),
    *_rules("nodegroup", "get get_all", "rule:admin_or_project_reader", "Nodegroup"),
    *_rules("nodegroup", "create update delete", "rule:admin_or_project_member", "Nodegroup"),
    *_rules("nodegroup", "get_all_all_projects get_one_all_projects", "rule:context_is_admin",
            "Nodegroup across projects"),
    # Magna's extension: containers on swarm-mode clusters (/v1/containers).
    *_rules("container", "create delete start stop reboot pause unpause execute",
            "rule:admin_or_project_member", "Container"),
    *_rules("container", "get get_all logs", "rule:admin_or_project_reader", "Container"),
    *_rules("container", "get_one_all_projects get_all_all_projects delete_all_projects "
            "action_all_projects", "rule:context_is_admin", "Container across projects"),
    # Magna's extension: Kubernetes objects (/v1/pods, /v1/rcs, /v1/services), as early Magnum.
    *(rule for kind, what in (("pod", "Pod"), ("rc", "Replication controller"),
                              ("service", "COE service"))
      for rule in (*_rules(kind, "create update delete",
                                 "rule:admin_or_project_member_deny_cluster_user", what),
                   *_rules(kind, "get get_all",
                           "rule:admin_or_project_reader_deny_cluster_user", what))),
    # Magna's extension /v1/keypairs (upstream, Nova's os-keypairs).
    *_rules("keypair", "create delete", "rule:admin_or_project_member", "Keypair"),
    *_rules("keypair", "get get_all", "rule:admin_or_project_reader", "Keypair"),
    # Legacy resources served at /v1/bays and /v1/baymodels (Magnum <= 16).
    *_rules("bay", "create delete update", "rule:admin_or_project_member_deny_cluster_user",
            "Bay"),
    *_rules("bay", "get get_all detail", "rule:admin_or_project_reader_deny_cluster_user",
            "Bay"),
    *_rules("baymodel", "create", "rule:admin_or_project_member_deny_cluster_user", "Baymodel"),
    *_rules("baymodel", "delete update", "rule:admin_or_project_member", "Baymodel"),
    *_rules("baymodel", "get get_all detail", "rule:admin_or_project_reader_deny_cluster_user",
            "Baymodel"),
    *_rules("baymodel", "publish", "rule:context_is_admin", "Make a baymodel public"),
]


def list_rules() -> list[policy.RuleDefault]:
    """Entry point for oslo.policy's sample and list tools."""
    return [*BASE, *RESOURCES]
