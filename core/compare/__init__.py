"""virtio-mem next to virtio-balloon and ACPI DIMM hotplug, on the same guest and workload.

Public API: ``compare(scenario)`` / ``compare_actions(config, actions)`` return a ``Comparison``
(plain data: ``rows`` per step, ``summary`` per model, ``to_dict()`` for JSON); ``tables`` turns
it into rows of text cells for any view; ``expect`` grades ``compare = {...}`` expectations.
"""
from .balloon import BalloonVM
from .compare import (MODELS, CompareOptions, CompareRow, Comparison, ModelRow, ModelSummary, compare,
                      compare_actions, compare_session)
from .dimm import ACPI_MAX_RAM_SLOTS, DimmVM, smallest_dimm

__all__ = ["ACPI_MAX_RAM_SLOTS", "MODELS", "BalloonVM", "CompareOptions", "CompareRow", "Comparison", "DimmVM",
           "ModelRow", "ModelSummary", "compare", "compare_actions", "compare_session", "smallest_dimm"]
