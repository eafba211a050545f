"""Stores each partition's value in its own file, so single-run backfills can persist outputs.

Dagster's filesystem IO manager refuses an output that covers several partitions (a single-run
backfill). Our partitioned assets return ``{partition_key: value}``; this manager writes one
pickle per partition and hands a downstream step exactly the partitions its run covers.
"""

import pickle
from pathlib import Path
from typing import Any

import dagster as dg

from ml_connector_dagster.config.settings import current_settings


class PartitionFilesIOManager(dg.ConfigurableIOManager):
    base_dir: str = ""

    def _root(self, context: dg.OutputContext | dg.InputContext) -> Path:
        return self._asset_root(context.asset_key)

    def _asset_root(self, asset_key: dg.AssetKey) -> Path:
        # Default: under DAGSTER_HOME, read when the run stores or loads (a resource field
        # would freeze the path into the definitions).
        base = Path(self.base_dir or current_settings().dagster_home / "storage" / "ml_connector")
        return base.joinpath(*asset_key.path)

    def load_previous(self, asset_key: dg.AssetKey) -> Any | None:
        """The last stored value of an unpartitioned asset, or None (an incremental read's base)."""
        path = self._asset_root(asset_key) / "value.pickle"
        return pickle.loads(path.read_bytes()) if path.exists() else None

    @staticmethod
    def _file(root: Path, partition_key: str) -> Path:
        safe = partition_key.replace("/", "_").replace("|", "__")
        return root / f"{safe}.pickle"

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        root = self._root(context)
        root.mkdir(parents=True, exist_ok=True)
        if not context.has_asset_partitions:
            (root / "value.pickle").write_bytes(pickle.dumps(obj))
            return
        for key in context.asset_partition_keys:
            if key not in obj:
                raise KeyError(
                    f"{context.asset_key.to_user_string()}: no value for partition {key}"
                )
            self._file(root, key).write_bytes(pickle.dumps(obj[key]))

    def load_input(self, context: dg.InputContext) -> Any:
        root = self._root(context)
        if not context.has_asset_partitions:
            return pickle.loads((root / "value.pickle").read_bytes())
        result = {}
        for key in context.asset_partition_keys:
            path = self._file(root, key)
            if not path.exists():
                raise FileNotFoundError(
                    f"{context.asset_key.to_user_string()} has not been materialized for {key}"
                )
            result[key] = pickle.loads(path.read_bytes())
        return result
