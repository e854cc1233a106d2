"""Scoring against the reference footage (PETS09-S2L1), shared by ``make eval``, ``make bench``
and the model registry: :mod:`.pets` (footage and ground truth), :mod:`.scoring` (counts
against the truth), :mod:`.parallel` (the process pool), :mod:`.progress`, :mod:`.speed`."""
