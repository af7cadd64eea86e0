"""Architecture search over the zoo's families with keras-tuner, resumable and distributable.

    dlzoo.tuning.hypermodels   search spaces that wrap the registry's builders (cnn, rnn, ...)
    dlzoo.tuning.search        search(): random / hyperband / bayesian, resume, stale guard, CSV
    dlzoo.tuning.distributed   local chief + workers on keras-tuner's own distributed mode
"""

from dlzoo.tuning.hypermodels import HYPERMODELS, ZooHyperModel, get_hypermodel

__all__ = ["HYPERMODELS", "ZooHyperModel", "get_hypermodel", "search", "SearchResult",
           "tune_recipe"]


def __getattr__(name):
    # search.py pulls in keras-tuner's tuners and the training code; load it on first use.
    if name in ("search", "SearchResult", "tune_recipe"):
        from dlzoo.tuning import search as _search

        return getattr(_search, name)
    raise AttributeError(name)
