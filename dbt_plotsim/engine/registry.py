"""Every component, in output order (reference tables before the facts that point at them)."""
from .attributes import AttributesComponent, ReferenceComponent
from .bridges import BridgesComponent
from .children import ChildrenComponent
from .history import HistoryComponent
from .stages import StagesComponent
from .transactions import TransactionsComponent

COMPONENTS = [
    ReferenceComponent(),
    AttributesComponent(),
    BridgesComponent(),
    ChildrenComponent(),
    TransactionsComponent(),
    HistoryComponent(),
    StagesComponent(),
]
