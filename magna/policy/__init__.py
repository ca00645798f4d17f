"""Authorization: Magnum's policy rule names and defaults, enforced with oslo.policy.

Operators override any rule in a policy file (``[oslo_policy] policy_file``), exactly as they
would for Magnum; ``oslopolicy-sample-generator --namespace magna`` prints the defaults.
"""
