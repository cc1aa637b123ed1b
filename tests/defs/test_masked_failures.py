"""A step that fails with an identity number in its error shows it masked in the event log."""

from __future__ import annotations

import dagster as dg

from amili_pipelines.defs.resources import WarehouseResource
from tests.hostile.cases import PIN


@dg.asset
def failing_on_a_debtor(warehouse: WarehouseResource) -> None:
    with warehouse.open():
        raise ValueError(f"customer {PIN} has no address")


def test_a_failure_quoting_an_identity_number_is_stored_masked(tmp_path):
    resource = WarehouseResource(path=str(tmp_path / "amili.duckdb"), analytics_path=str(tmp_path / "a.duckdb"))
    with dg.instance_for_test() as instance:
        result = dg.materialize([failing_on_a_debtor], resources={"warehouse": resource}, instance=instance,
                                raise_on_error=False)
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
        cause = failure.step_failure_data.error.cause
        assert cause.cls_name == "MaskedError"
        assert f"ValueError: customer {PIN[:7]}**** has no address" in cause.message
        stored = "\n".join(dg._serdes.serialize_value(e) for e in instance.all_logs(result.run_id))  # type: ignore[attr-defined]
        assert PIN not in stored and PIN.replace("-", "") not in stored
        assert "has no address" in stored
