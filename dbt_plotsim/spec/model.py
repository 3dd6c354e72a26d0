"""The root `synthetic` spec."""
from __future__ import annotations

from pydantic import Field

from .archetypes import BUILTIN_ARCHETYPES, CurvePiece
from .base import Identifier, StrictModel
from .attributes import Attribute, ReferenceTable
from .calibration import CalibrationOptions
from .children import Child
from .defects import Defects
from .experiments import Experiment
from .features import Features, Holdout
from .history import History, Stages
from .lifecycle import Arrivals, Event
from .loads import Loads
from .seasonality import Seasonality
from .transactions import Transaction
from .metrics import Metric
from .noise import Noise
from .relations import Correlation, Lag
from .schema import Tables
from .segments import Segment
from .systems import System
from .window import Window


class Spec(StrictModel):
    about: str = ""
    unit: Identifier
    window: Window
    seed: int = Field(0, ge=0, lt=2**63)
    metrics: tuple[Metric, ...] = Field(min_length=1)
    segments: tuple[Segment, ...] = Field(min_length=1)
    archetypes: dict[Identifier, tuple[CurvePiece, ...]] = Field(default_factory=dict)
    correlations: tuple[Correlation, ...] = ()
    lags: tuple[Lag, ...] = ()
    persistence: float | None = Field(None, ge=0.0, lt=1.0, description=(
        "period-to-period memory of each metric's own variation; unset, it is fitted (0.85 where that holds)"))
    noise: Noise = Noise()
    arrivals: Arrivals = Arrivals()
    events: tuple[Event, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    reference: tuple[ReferenceTable, ...] = ()
    children: tuple[Child, ...] = ()
    transactions: tuple[Transaction, ...] = ()
    history: tuple[History, ...] = ()
    stages: Stages | None = None
    seasonality: Seasonality | None = None
    tables: Tables = Tables()
    loads: Loads = Loads()
    defects: Defects = Defects()
    systems: dict[Identifier, System] = Field(default_factory=dict)
    calibration: CalibrationOptions = CalibrationOptions()
    experiments: tuple[Experiment, ...] = ()
    holdout: Holdout | None = None
    features: Features | None = None

    def noise_of(self, metric: Metric) -> Noise:
        """The noise of one metric: the spec's block with the metric's own keys over it."""
        return metric.noise.over(self.noise) if metric.noise is not None else self.noise

    def metric(self, name: str) -> Metric:
        return next(m for m in self.metrics if m.name == name)

    def archetype(self, name: str) -> tuple[CurvePiece, ...]:
        return self.archetypes.get(name) or BUILTIN_ARCHETYPES[name]

    @property
    def entity_count(self) -> int:
        return sum(s.count for s in self.segments)

    def lag_of(self, metric: str) -> Lag | None:
        return next((lag for lag in self.lags if lag.metric == metric), None)

    def arrivals_of(self, segment) -> Arrivals:
        return segment.arrivals or self.arrivals

    @property
    def terminal_event(self) -> Event | None:
        return next((e for e in self.events if e.terminal), None)
