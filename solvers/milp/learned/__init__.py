"""The learned ``predict_and_search`` solver of the milp kind: a graph network (numpy at solve time) narrows
the search to a trust region around its prediction, HiGHS solves it, then the full model (issue 12)."""
