"""Declarations: assets, partitions, mappings and the asset graph (pure, no I/O)."""

from partita.assets.asset import Asset, Dep, RetryPolicy, asset
from partita.assets.automation import Eager, FileSensor, Schedule
from partita.assets.context import Context
from partita.assets.graph import AssetGraph, Edge
from partita.assets.keys import UNPARTITIONED, check_asset_key, check_safe_key, display_key
from partita.assets.loader import (
    Definitions,
    collect_assets,
    load_definitions,
    load_graph,
    load_module,
)
from partita.assets.mappings import (
    AllPartitions,
    Containment,
    Dimensions,
    Identity,
    LastPartition,
    PartitionMapping,
    Previous,
    UpstreamPartitions,
    Window,
    default_mapping,
)
from partita.assets.partitions.base import DynamicKeys, KeySpace, PartitionsDefinition, TimeWindow
from partita.assets.partitions.keyed import DynamicPartitions, StaticPartitions
from partita.assets.partitions.multi import MultiPartitions
from partita.assets.partitions.timed import (
    CronPartitions,
    DailyPartitions,
    HourlyPartitions,
    MonthlyPartitions,
    TimePartitions,
    WeeklyPartitions,
)
from partita.assets.partitions.timekeys import parse_day

__all__ = [
    "UNPARTITIONED",
    "AllPartitions",
    "Asset",
    "AssetGraph",
    "Containment",
    "Context",
    "CronPartitions",
    "DailyPartitions",
    "Dep",
    "Dimensions",
    "DynamicKeys",
    "Definitions",
    "DynamicPartitions",
    "Eager",
    "Edge",
    "FileSensor",
    "HourlyPartitions",
    "Identity",
    "KeySpace",
    "LastPartition",
    "MonthlyPartitions",
    "MultiPartitions",
    "PartitionMapping",
    "PartitionsDefinition",
    "Previous",
    "RetryPolicy",
    "Schedule",
    "StaticPartitions",
    "TimePartitions",
    "TimeWindow",
    "UpstreamPartitions",
    "WeeklyPartitions",
    "Window",
    "asset",
    "check_asset_key",
    "check_safe_key",
    "collect_assets",
    "default_mapping",
    "display_key",
    "load_definitions",
    "load_graph",
    "load_module",
    "parse_day",
]
