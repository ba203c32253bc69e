"""The data store: one conformance suite for every filesystem, plus local-only readers."""

from __future__ import annotations

import hashlib
import io
import types
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fsspec.implementations.local import LocalFileSystem

from partita.errors import SchemaError, StorageError
from partita.storage.store import formats, localdisk, versions
from partita.storage.store.datastore import DataStore, MissingFile, WrittenVersion
from partita.storage.store.versions import new_version_id
from partita.storage.store.visibility import RETIRED, STAGED, VISIBLE
from tests.conftest import _require

MakeStore = Callable[[], DataStore]
DAY = "date=2026-04-08"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass(frozen=True, slots=True)
class Backend:
    """Where a test's stores live: a root URL and the fsspec options to open it."""

    root: str
    options: dict[str, Any]


class Files:
    """The files of a store seen from outside it, as another process would see them.

    The filesystem is a separate, uncached instance: nothing it does passes through the
    store's own filesystem object or its listing cache.
    """

    def __init__(self, fs: fsspec.AbstractFileSystem) -> None:
        self.fs = fs

    def under(self, store: DataStore, directory: str) -> list[str]:
        """Every file below a directory, hidden ones included."""
        path = self._path(store, directory)
        if not self.fs.exists(path):
            return []
        return sorted(name.removeprefix(path.rstrip("/") + "/") for name in self.fs.find(path))

    def put(self, store: DataStore, path: str, data: bytes) -> None:
        full = self._path(store, path)
        self.fs.makedirs(self.fs._parent(full), exist_ok=True)
        self.fs.pipe_file(full, data)

    def remove(self, store: DataStore, path: str) -> None:
        self.fs.rm_file(self._path(store, path))

    def read(self, store: DataStore, path: str) -> bytes:
        return self.fs.cat_file(self._path(store, path))

    def _path(self, store: DataStore, path: str) -> str:
        return self.fs._strip_protocol(store.absolute(path))


@pytest.fixture(params=["local", "memory", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path) -> Iterator[Backend]:
    """Each filesystem in turn: local disk, ``memory://`` and S3 (a moto server)."""
    if request.param == "local":
        yield Backend(str(tmp_path), {})
        return
    if request.param == "memory":
        root, options = f"memory://partita-test-{uuid.uuid4().hex}", {}
    else:
        bucket, options = request.getfixturevalue("s3_bucket")
        root = f"s3://{bucket}/prefix-{uuid.uuid4().hex}"
    yield Backend(root, options)
    if request.param == "memory":  # the bucket, on a server of this session, goes with it
        fs, path = fsspec.core.url_to_fs(root)
        if fs.exists(path):
            fs.rm(path, recursive=True)


@pytest.fixture
def make_store(backend: Backend) -> MakeStore:
    """Make fresh, empty stores on the parametrized filesystem."""
    return lambda: DataStore(f"{backend.root}/{uuid.uuid4().hex}", backend.options)


@pytest.fixture
def files(backend: Backend) -> Files:
    """An outside view of the parametrized filesystem."""
    fs, _ = fsspec.core.url_to_fs(backend.root, skip_instance_cache=True, **backend.options)
    return Files(fs)


def sales(*ids: int) -> pa.Table:
    return pa.table({"id": list(ids), "amount": [i * 1.5 for i in ids]})


def published(store: DataStore, written: WrittenVersion, *older: WrittenVersion) -> WrittenVersion:
    """``written`` given its visible names (as after its commit), superseding ``older``."""
    store.publish(written.files, [path for version in older for path in version.files])
    return written


class TestDataStore:
    """The contract every filesystem must keep."""

    def test_table_round_trip(self, make_store: MakeStore) -> None:
        store = make_store()
        table = pa.table(
            {
                "id": pa.array([1, 2, None], pa.int64()),
                "name": ["a", "b", "c"],
                "day": pa.array([0, 1, 2], pa.int32()).cast(pa.date32()),
            }
        )
        written = store.write("clean_sales", DAY, new_version_id(), table)
        assert (written.kind, written.rows) == ("parquet", 3)
        assert store.read(written.files, written.kind).equals(table)

    def test_dataframe_round_trip(self, make_store: MakeStore) -> None:
        pd = _require("pandas")
        store = make_store()
        frame = pd.DataFrame({"id": [1, 2], "amount": [0.5, 1.5]})
        written = store.write("clean_sales", DAY, new_version_id(), frame)
        value = store.read(written.files, written.kind)
        assert isinstance(value, pa.Table)
        assert (written.kind, written.rows) == ("parquet", 2)
        pd.testing.assert_frame_equal(value.to_pandas(), frame)

    @pytest.mark.parametrize(
        ("value", "ext", "kind", "suffix", "rows"),
        [
            ({"total": 3, "by_day": {"2026-04-08": 3}}, None, "json", "json", None),
            ([{"id": 1}, {"id": 2}], None, "json", "json", 2),
            ("# Sales\n\nTotal: 3 €\n", "md", "text", "md", None),
            ("plain", None, "text", "txt", None),
            (b"\x00\x01binary", None, "bytes", "bin", None),
            (b"<html></html>", "html", "bytes", "html", None),
        ],
    )
    def test_other_values_round_trip(
        self,
        make_store: MakeStore,
        value: object,
        ext: str | None,
        kind: str,
        suffix: str,
        rows: int | None,
    ) -> None:
        store = make_store()
        written = store.write("sales_report", DAY, new_version_id(), value, ext=ext)
        assert (written.kind, written.rows) == (kind, rows)
        assert written.files[0].endswith(f".{suffix}")
        assert store.read(written.files, written.kind) == value

    def test_layout_and_relative_file_names(self, make_store: MakeStore, files: Files) -> None:
        store = make_store()
        version = new_version_id()
        partitioned = published(store, store.write("clean_sales", DAY, version, sales(1)))
        nested = published(store, store.write("sales/raw", DAY, version, sales(1)))
        unpartitioned = published(store, store.write("summary", "", version, {"total": 1}))
        assert partitioned.version_id == version
        assert partitioned.files == (f"clean_sales/{DAY}/part-{version}.parquet",)
        assert nested.files == (f"sales/raw/{DAY}/part-{version}.parquet",)
        assert unpartitioned.files == (f"summary/part-{version}.json",)
        assert store.partition_dir("sales/raw", DAY) == f"sales/raw/{DAY}"
        assert store.partition_dir("summary", "") == "summary"
        for written in (partitioned, nested, unpartitioned):
            assert store.exists(written.files[0])
            assert store.absolute(written.files[0]).endswith("/" + written.files[0])
        assert files.under(store, "clean_sales") == [f"{DAY}/part-{version}.parquet"]
        assert not store.exists(f"clean_sales/{DAY}/part-{new_version_id()}.parquet")

    def test_identical_values_have_identical_data_versions(self, make_store: MakeStore) -> None:
        store = make_store()
        first = store.write("clean_sales", DAY, new_version_id(), sales(1, 2))
        again = store.write("clean_sales", DAY, new_version_id(), sales(1, 2))
        other = store.write("clean_sales", DAY, new_version_id(), sales(1, 3))
        assert first.files != again.files
        assert first.data_version == again.data_version
        assert other.data_version != first.data_version
        texts = [store.write("report", "", new_version_id(), text) for text in ("a", "a", "b")]
        assert texts[0].data_version == texts[1].data_version != texts[2].data_version

    def test_records_bytes_and_content_hash(self, make_store: MakeStore, files: Files) -> None:
        store = make_store()
        for value in (sales(1, 2, 3), [1, 2], {"a": 1}, "text", b"bytes"):
            written = published(store, store.write("asset", DAY, new_version_id(), value))
            data = files.read(store, written.files[0])
            assert written.bytes == len(data) == store.size(written.files[0])
            assert written.data_version == hashlib.blake2b(data, digest_size=16).hexdigest()

    def test_a_written_version_is_out_of_sight_until_published(
        self, make_store: MakeStore, files: Files, backend: Backend
    ) -> None:
        store = make_store()
        old = published(store, store.write("summary", "", new_version_id(), {"v": 1}))
        new = store.write("summary", "", new_version_id(), {"v": 2})
        name = new.files[0].removeprefix("summary/")
        renames = not backend.root.startswith("s3://")  # object stores cannot rename
        shown = [f".{name}.tmp" if renames else name, old.files[0].removeprefix("summary/")]
        assert files.under(store, "summary") == sorted(shown)
        assert store.read(new.files, new.kind) == {"v": 2}  # found under its staged name
        store.publish(new.files, old.files)
        hidden = [f".{old.files[0].removeprefix('summary/')}.old"] if renames else []
        assert files.under(store, "summary") == sorted([name, *hidden])
        assert store.read(old.files, old.kind) == {"v": 1} if renames else True
        store.publish(new.files, old.files)  # published already: nothing changes
        assert files.under(store, "summary") == sorted([name, *hidden])

    def test_folder_lists_each_file_with_its_role(
        self, make_store: MakeStore, files: Files, backend: Backend
    ) -> None:
        store = make_store()
        old = published(store, store.write("summary", "", new_version_id(), {"v": 1}))
        current = published(store, store.write("summary", "", new_version_id(), {"v": 2}), old)
        crashed = new_version_id()
        files.put(store, f"summary/.part-{crashed}.json.tmp", b"half a fil")
        files.put(store, "summary/notes.txt", b"not partita's")
        store.write("summary", DAY, new_version_id(), {"v": 3})  # a subdirectory: never listed
        store.write("summary/nested", "", new_version_id(), {"v": 4})
        listed = {(f.visible, f.version_id, f.role) for f in store.folder("summary", "")}
        expected = {
            (current.files[0], current.version_id, VISIBLE),
            (f"summary/part-{crashed}.json", crashed, STAGED),
        }
        if not backend.root.startswith("s3://"):  # object stores delete what they retire
            expected.add((old.files[0], old.version_id, RETIRED))
        assert listed == expected
        assert store.folder("missing", DAY) == []

    def test_sees_what_others_write_and_remove(self, make_store: MakeStore, files: Files) -> None:
        store = make_store()
        current = published(store, store.write("summary", "", new_version_id(), {"v": 1}))
        other = f"summary/part-{new_version_id()}.json"
        # Listing first: a filesystem that caches listings now remembers the directory.
        assert [f.path for f in store.folder("summary", "")] == list(current.files)
        assert not store.exists(other)
        files.put(store, other, b"{}")
        assert store.exists(other)
        assert store.size(other) == 2
        assert sorted(f.path for f in store.folder("summary", "")) == sorted(
            [*current.files, other]
        )
        files.remove(store, other)
        assert not store.exists(other)
        with pytest.raises(StorageError, match="cannot get the size"):
            store.size(other)
        assert [f.path for f in store.folder("summary", "")] == list(current.files)

    def test_delete_discard_and_retire(self, make_store: MakeStore, files: Files) -> None:
        store = make_store()
        old = published(store, store.write("clean_sales", DAY, new_version_id(), sales(1)))
        current = published(store, store.write("clean_sales", DAY, new_version_id(), sales(2)))
        never = store.write("clean_sales", DAY, new_version_id(), sales(3))
        store.discard(never.files)
        store.discard(never.files)
        assert not store.exists(never.files[0])
        store.delete([*old.files, f"clean_sales/{DAY}/part-gone.parquet"])
        store.delete(old.files)
        assert not store.exists(old.files[0])
        assert [f.path for f in store.folder("clean_sales", DAY)] == list(current.files)
        assert store.read(current.files, current.kind).equals(sales(2))
        store.retire(current.files)
        assert [f.role for f in store.folder("clean_sales", DAY)] in ([RETIRED], [])

    def test_schema_failure_leaves_no_file(self, make_store: MakeStore, files: Files) -> None:
        store = make_store()
        previous = published(store, store.write("clean_sales", DAY, new_version_id(), sales(1)))
        schema = pa.schema([("id", pa.int64()), ("amount", pa.float64())])
        bad = pa.table({"id": [1], "amount": ["1.5"]})
        with pytest.raises(SchemaError, match="asset clean_sales: column 'amount' is string"):
            store.write("clean_sales", DAY, new_version_id(), bad, schema=schema)
        assert files.under(store, "clean_sales") == [previous.files[0].removeprefix("clean_sales/")]

    def test_stream_round_trip_rows_and_hash(self, make_store: MakeStore, files: Files) -> None:
        store = make_store()
        chunks = [sales(*range(i * 100, i * 100 + 100)).to_batches()[0] for i in range(5)]
        reader = pa.RecordBatchReader.from_batches(chunks[0].schema, chunks)
        for value in (reader, (batch for batch in chunks)):
            written = published(store, store.write("clean_sales", DAY, new_version_id(), value))
            assert (written.kind, written.rows) == ("parquet", 500)
            assert store.read(written.files, written.kind).equals(pa.Table.from_batches(chunks))
            data = files.read(store, written.files[0])
            assert written.bytes == len(data) == store.size(written.files[0])
            assert written.data_version == hashlib.blake2b(data, digest_size=16).hexdigest()

    @pytest.mark.parametrize("failure", ["schema", "generator"])
    def test_stream_failing_in_third_batch_leaves_no_file(
        self, make_store: MakeStore, files: Files, failure: str
    ) -> None:
        store = make_store()
        previous = published(store, store.write("clean_sales", DAY, new_version_id(), sales(1)))
        schema = pa.schema([("id", pa.int64()), ("amount", pa.float64())])

        def chunks() -> Iterator[pa.RecordBatch]:
            yield from sales(*range(1000)).to_batches()
            yield from sales(*range(1000)).to_batches()
            if failure == "generator":
                raise RuntimeError("upstream went away")
            yield pa.record_batch({"id": [1], "amount": ["1.5"]})

        expected = SchemaError if failure == "schema" else RuntimeError
        with pytest.raises(expected, match=r"in batch 3 of the stream|upstream went away"):
            store.write("clean_sales", DAY, new_version_id(), chunks(), schema=schema)
        assert files.under(store, "clean_sales") == [previous.files[0].removeprefix("clean_sales/")]

    @pytest.mark.parametrize(
        ("error", "expected"),
        [(OSError("disk full"), StorageError), (RuntimeError("bug"), RuntimeError)],
    )
    def test_write_failing_midway_leaves_no_file(
        self,
        make_store: MakeStore,
        files: Files,
        monkeypatch: pytest.MonkeyPatch,
        error: Exception,
        expected: type[Exception],
    ) -> None:
        def write_half(value: object, fileobj: formats.Writable, **_: object) -> formats.Encoded:
            fileobj.write(b"PAR1 half a table")
            raise error

        store = make_store()
        monkeypatch.setattr(formats, "write_value", write_half)
        with pytest.raises(expected) as caught:
            store.write("clean_sales", DAY, new_version_id(), sales(1))
        if expected is StorageError:
            assert caught.value.__cause__ is error
            assert "clean_sales" in str(caught.value)
        assert files.under(store, "clean_sales") == []

    def test_unsupported_value_is_a_storage_error(
        self, make_store: MakeStore, files: Files
    ) -> None:
        store = make_store()
        with pytest.raises(StorageError, match=r"type set.*pyarrow\.Table"):
            store.write("clean_sales", DAY, new_version_id(), {1, 2})
        assert files.under(store, "clean_sales") == []

    def test_read_errors(self, make_store: MakeStore, files: Files) -> None:
        store = make_store()
        with pytest.raises(MissingFile, match="no such file"):
            store.read([f"clean_sales/{DAY}/part-gone.parquet"], "parquet")
        files.put(store, "clean_sales/part-bad.parquet", b"not parquet")
        with pytest.raises(StorageError, match=r"part-bad\.parquet"):
            store.read(["clean_sales/part-bad.parquet"], "parquet")
        with pytest.raises(StorageError, match="no files"):
            store.read([], "parquet")
        with pytest.raises(StorageError, match=r"no such file|cannot get the size"):
            store.size("clean_sales/part-gone.parquet")

    def test_read_several_files_concatenates_tables(self, make_store: MakeStore) -> None:
        store = make_store()
        days = [
            store.write("clean_sales", f"date=2026-04-0{day}", new_version_id(), sales(day))
            for day in (7, 8)
        ]
        table = store.read([w.files[0] for w in days], "parquet")
        assert table.column("id").to_pylist() == [7, 8]

    @pytest.mark.parametrize(
        ("asset", "segments"), [("../escape", ""), ("a", "date=../.."), ("/abs", ""), ("a\\b", "")]
    )
    def test_unsafe_paths_are_refused(
        self, make_store: MakeStore, asset: str, segments: str
    ) -> None:
        store = make_store()
        with pytest.raises(StorageError, match="unsafe"):
            store.write(asset, segments, new_version_id(), "x")
        with pytest.raises(StorageError, match="unsafe"):
            store.read([f"{asset}/{segments}/x"], "text")

    def test_invalid_version_id_is_refused(self, make_store: MakeStore) -> None:
        with pytest.raises(StorageError, match="version id"):
            make_store().write("a", "", "../x", "value")


def test_local_root_is_made_absolute_and_created(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = DataStore("data/store")
    assert store.url == str(tmp_path / "data" / "store")
    assert (tmp_path / "data" / "store").is_dir()
    assert DataStore(f"file://{tmp_path}/other").url == str(tmp_path / "other")


def test_url_redacts_credentials() -> None:
    store = DataStore("memory://user:s3cret@bucket/data")
    assert store.url == "memory://***@bucket/data"


@pytest.mark.parametrize("scheme", ["s3", "gs", "abfs"])
def test_credentials_in_an_object_store_url_are_refused_unshown(scheme: str) -> None:
    with pytest.raises(StorageError, match="has credentials in it") as caught:
        DataStore(f"{scheme}://AKIAKEY:s3cret@bucket/data")
    assert "s3cret" not in str(caught.value) and "AKIAKEY" not in str(caught.value)


def test_unknown_protocol_is_a_storage_error() -> None:
    with pytest.raises(StorageError, match="nosuchfs://"):
        DataStore("nosuchfs://bucket/data")


def test_hive_layout_reads_with_pyarrow_and_duckdb(tmp_path) -> None:
    duckdb = _require("duckdb")
    import pyarrow.dataset as ds

    store, files = DataStore(str(tmp_path / "data")), Files(LocalFileSystem())
    published(store, store.write("clean_sales", "date=2026-04-07", new_version_id(), sales(1, 2)))
    old = published(
        store, store.write("clean_sales", "date=2026-04-08", new_version_id(), sales(8))
    )
    current = store.write("clean_sales", "date=2026-04-08", new_version_id(), sales(3, 4, 5))
    store.publish(current.files, old.files)
    assert store.read(old.files, "parquet").equals(sales(8))  # retired, still readable
    # A crashed writer's temporary, holding a complete table: readers must not see it.
    crashed = io.BytesIO()
    pq.write_table(sales(99), crashed)
    temporary = f"clean_sales/date=2026-04-08/.part-{new_version_id()}.parquet.tmp"
    files.put(store, temporary, crashed.getvalue())

    dataset = ds.dataset(store.absolute("clean_sales"), format="parquet", partitioning="hive")
    table = dataset.to_table()
    dates = table["date"].cast(pa.string()).to_pylist()
    rows = sorted(zip(table["id"].to_pylist(), dates, strict=True))
    expected = [(1, "2026-04-07"), (2, "2026-04-07")] + [(i, "2026-04-08") for i in (3, 4, 5)]
    assert rows == expected

    pattern = store.absolute("clean_sales") + "/*/*.parquet"
    query = f"select id, date::varchar from read_parquet('{pattern}', hive_partitioning=true)"
    with duckdb.connect() as connection:
        assert sorted(connection.execute(query).fetchall()) == expected


def test_version_ids_are_time_sortable_crockford(monkeypatch: pytest.MonkeyPatch) -> None:
    ids = {new_version_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 26 and set(i) <= set(CROCKFORD) for i in ids)

    clock = iter([1_700_000_000_000_000_000 + step * 1_000_000 for step in range(100)])
    monkeypatch.setattr(versions, "time", types.SimpleNamespace(time_ns=lambda: next(clock)))
    made = [new_version_id() for _ in range(100)]
    assert made == sorted(made)
    millis = 0
    for char in made[0][:10]:  # 10 characters = 50 bits: the 48-bit timestamp
        millis = millis * 32 + CROCKFORD.index(char)
    assert millis == 1_700_000_000_000


def test_failure_syncing_the_folder_removes_the_file(tmp_path, monkeypatch) -> None:
    def fail(folder: str) -> None:
        raise OSError("fsync failed")

    store, files = DataStore(str(tmp_path / "data")), Files(LocalFileSystem())
    monkeypatch.setattr(localdisk, "fsync_directory", fail)
    with pytest.raises(StorageError, match="fsync failed"):
        store.write("clean_sales", DAY, new_version_id(), sales(1))
    assert files.under(store, "clean_sales") == []
