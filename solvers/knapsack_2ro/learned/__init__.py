"""The learned ``neur2ro`` solver: a trained second-stage value network inside column-and-constraint generation.

* :mod:`.network` — item features and the numpy forward pass of the value network (no torch).
* :mod:`.embedding` — the network embedded in a HiGHS MILP (the main problem of the loop).
* :mod:`.solver` — :class:`~.solver.Neur2roSolver`, the loop itself, every selection evaluated exactly.
* :mod:`.data` and :mod:`.train` — seeded label generation and training (torch, CPU; training only).
"""
