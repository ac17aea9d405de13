"""Evidence-based advice: rules that fire only on numbers in the logs, with the saving's arithmetic.

Every rule names the node it is about, states its evidence in numbers and, where
it can, estimates what a different habit would have saved, with the formula in
`evidence["formula"]`. Each rule's thresholds live in the config file under
`[advice.<rule>]`; the docstring of its settings class is the explanation the help
screen shows. Rules read metadata only: token counts, costs, times, tool labels.

rules.py is the registry (one registration per rule), settings.py the thresholds, report.py
the results, engine.py the one pass over the sessions; session_rules.py, period_rules.py and
outliers.py the rules.
"""

from tokentree.core.advice.context import Place
from tokentree.core.advice.engine import advise
from tokentree.core.advice.report import Advice, AdviceReport, advice_dicts
from tokentree.core.advice.rules import RULES, Rule, rule_help
from tokentree.core.advice.settings import (
    AdviceSettings,
    CacheMissed,
    CacheRebuilt,
    CompactionShare,
    Concentration,
    ContextCompounding,
    FastMode,
    LowCacheHit,
    ModelChoice,
    OversizedTurns,
    RepeatedReads,
    SubagentShare,
)

__all__ = [
    "RULES",
    "Advice",
    "AdviceReport",
    "AdviceSettings",
    "CacheMissed",
    "CacheRebuilt",
    "CompactionShare",
    "Concentration",
    "ContextCompounding",
    "FastMode",
    "LowCacheHit",
    "ModelChoice",
    "OversizedTurns",
    "Place",
    "RepeatedReads",
    "Rule",
    "SubagentShare",
    "advice_dicts",
    "advise",
    "rule_help",
]
