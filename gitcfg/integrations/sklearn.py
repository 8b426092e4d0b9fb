"""scikit-learn: record an estimator's parameters as a run's config, in one line.

    from gitcfg.integrations.sklearn import record
    record(make_pipeline(StandardScaler(), SVC(C=10)), project="iris")

``get_params(deep=True)``, nested pipelines flattened by step name (``svc.C``, ``svc.class``);
see ``gitcfg.estimators``. ``gitcfg.init(config=estimator)`` records the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gitcfg.errors import ConfigError
from gitcfg.estimators import estimator_params, is_estimator
from gitcfg.integrations.session import RunSession

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator

    from gitcfg.liverun import Run


def record(estimator: BaseEstimator, **init_kwargs: Any) -> Run:
    """Record ``estimator``'s parameters in the active run (started with ``gitcfg.init``), or in
    a new run started with ``init_kwargs`` (``project``, ``name``, ``group``, ``tags``,
    ``config``, ... as for ``gitcfg.init``). Returns the run; a new run is left open (committed
    at exit or ``gitcfg.finish()``), so results can follow with ``run.log``.
    """
    if not is_estimator(estimator):
        raise ConfigError(
            f"record() takes a scikit-learn estimator (an object with get_params), got a "
            f"{type(estimator).__name__}; for a dict use gitcfg.init(config=...)"
        )
    session = RunSession(init_kwargs, shared=True)
    return session.ensure(estimator_params(estimator))
