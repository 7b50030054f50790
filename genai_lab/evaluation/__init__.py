"""Measuring models: scoring predictions against gold (`scoring`) and the statistics behind every score and
interval a report shows (`statistics`)."""

from genai_lab.evaluation.scoring import *
from genai_lab.evaluation.scoring import __all__ as _scoring_all
from genai_lab.evaluation.statistics import *
from genai_lab.evaluation.statistics import __all__ as _statistics_all

__all__ = [*_scoring_all, *_statistics_all]
