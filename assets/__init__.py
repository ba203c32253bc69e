"""Declarations: assets, partitions, mappings and the asset graph (pure, no I/O)."""

from partita.assets.asset import Asset, Dep, RetryPolicy, asset
from partita.assets.context import Context
from partita.assets.graph import AssetGraph, Edge
from partita.assets.keys import UNPARTITIONED, check_asset_key, check_safe_key, display_key
from partita.assets.loader import collect_assets, load_graph, load_module
from partita.assets.mappings import (
    AllPartitions,
    Identity,
    LastPartition,
    PartitionMapping,
    UpstreamPartitions,
    Window,
    default_mapping,
)
from partita.assets.partitions import DailyPartitions, PartitionsDefinition, TimeWindow, parse_day

__all__ = [
    "UNPARTITIONED",
    "AllPartitions",
    "Asset",
    "AssetGraph",
    "Context",
    "DailyPartitions",
    "Dep",
    "Edge",
    "Identity",
    "LastPartition",
    "PartitionMapping",
    "PartitionsDefinition",
    "RetryPolicy",
    "TimeWindow",
    "UpstreamPartitions",
    "Window",
    "asset",
    "check_asset_key",
    "check_safe_key",
    "collect_assets",
    "default_mapping",
    "display_key",
    "load_graph",
    "load_module",
    "parse_day",
]
