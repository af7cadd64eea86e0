"""Architecture search over the zoo's families with keras-tuner, resumable and distributable.

    dlzoo.tuning.hypermodels   search spaces that wrap the registry's builders (cnn, rnn, ...)
    dlzoo.tuning.search        search(): random / hyperband / bayesian, resume, stale guard, CSV
    dlzoo.tuning.runner        tune_recipe(): a recipe's tune: section, the winner retrained
    dlzoo.tuning.phases        a search over a fine-tune recipe: each trial runs its phases
    dlzoo.tuning.distributed   local chief + workers on keras-tuner's own distributed mode

`dlzoo.tuning.search` below is the function; the module is `sys.modules["dlzoo.tuning.search"]`
(`from dlzoo.tuning.search import ...` works as usual).
"""

from dlzoo.tuning.hypermodels import HYPERMODELS, ZooHyperModel, get_hypermodel
from dlzoo.tuning.runner import tune_recipe
from dlzoo.tuning.search import SearchResult, StaleProjectError, search

__all__ = [
           "HYPERMODELS",
           "SearchResult",
           "StaleProjectError",
           "ZooHyperModel",
           "get_hypermodel",
           "search",
           "tune_recipe",
]
