"""The ``learned`` solver of ``task_allocation``: a trained two-stage allocation policy (Gong et al., 2024).

* :mod:`.network` — scale-free features and the numpy forward pass of the policy (no torch).
* :mod:`.anneal` — the policy-guided simulated annealing over allocations (compiled by numba).
* :mod:`.search` — stage 1 sampling, stage 2 repair into coalitions, policy-guided neighbourhood steps.
* :mod:`.neighbourhood` — the coalition MILP on the pairs the policy ranks high, solved by HiGHS.
* :mod:`.solver` — :class:`~.solver.LearnedSolver`, annealing then improvement within the time limit.
* :mod:`.data` and :mod:`.train` — seeded instances, exact labels and training (torch; training only).
"""
