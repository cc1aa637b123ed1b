"""Parquet: streamed in record batches, typed values (dates, decimals) pass through as they are."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from amili_pipelines.sources.readers import (
    RecordStream,
    SourceFileError,
    header_index,
    snippet,
)


def read_parquet(path: Path, *, columns: Mapping[str, str], batch_size: int = 50_000) -> RecordStream:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceFileError(f"{path}: not a readable Parquet file ({snippet(exc)})") from None
    names = pf.schema_arrow.names
    found, missing = header_index(names, columns, where=str(path))
    if not found:
        raise SourceFileError(f"{path}: none of the expected columns (found {snippet(', '.join(names[:6]))!r})")
    wanted = sorted({names[i] for _, i in found})
    pairs = [(f, names[i]) for f, i in found]

    def records() -> Iterator[tuple[int, Mapping[str, object]]]:
        row = 0
        for batch in pf.iter_batches(batch_size=batch_size, columns=wanted):
            data = batch.to_pydict()
            cols = [(f, data[name]) for f, name in pairs]
            for j in range(batch.num_rows):
                row += 1
                yield row, {f: vals[j] for f, vals in cols}

    return RecordStream(records=records(), missing_columns=missing)
