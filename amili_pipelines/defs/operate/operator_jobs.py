"""Operators' actions as Dagster jobs with typed run config, to launch from the UI's launchpad.

``retry_invoices``, ``withdraw_cases``, ``pause_cases``, ``resume_cases`` call the same use cases as
the CLI commands of those names. Who acted is the run's ``dagster/user`` tag (set by Dagster+), or
else the ``operator`` field of the run config: a run that names nobody fails before doing anything.
Each op writes the operational store, so it joins the ``duckdb_writer`` pool. The answer per
invoice is the op's output metadata (masked); the audit table keeps it too.
"""

from typing import Any

import dagster as dg
from pydantic import Field

from amili_pipelines.defs.partitions import WRITER_POOL
from amili_pipelines.defs.resources import AmiliNoResource, AmiliSeResource, CreditorsResource, WarehouseResource
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.masking import mask_identity_numbers
from amili_pipelines.domain.operator import Actor, OperatorAction, OperatorInputError, RetrySelection
from amili_pipelines.reconciliation.case_commands import command_cases
from amili_pipelines.registration.retry import plan_retry, retry_registrations

USER_TAG = "dagster/user"
OPERATOR_HELP = "Who you are (kept in the audit); needed when the run has no dagster/user tag"


class RetryInvoicesConfig(dg.Config):
    """Which rejected or unclear registrations to send again; unclear ones are looked up at Amili first."""

    reason: str = Field(default="", description="Why (required unless dry_run): kept in the audit")
    invoice_keys: list[str] = Field(default=[], description="Invoice keys (creditor/number)")
    creditor: str = Field(default="", description="Only this creditor's invoices")
    message: str = Field(default="", description="Only invoices whose Amili answer contains this text or code")
    answered_from: str = Field(default="", description="Only answers recorded on or after this day (YYYY-MM-DD)")
    answered_until: str = Field(default="", description="Only answers recorded on or before this day (YYYY-MM-DD)")
    all_rejected_or_unclear: bool = Field(default=False, description="Every rejected or unclear invoice")
    dry_run: bool = Field(default=False, description="Only list what would be sent or looked up")
    wait_for_batches_s: float = Field(default=60.0, description="Seconds to wait for Norway's batches to answer")
    operator: str = Field(default="", description=OPERATOR_HELP)


class CaseCommandConfig(dg.Config):
    """Which registered invoices' cases to act on, and why."""

    invoice_keys: list[str] = Field(description="Invoice keys (creditor/number)")
    reason: str = Field(description="Why (required): kept in the audit")
    operator: str = Field(default="", description=OPERATOR_HELP)


def _actor(context: dg.OpExecutionContext, operator: str) -> Actor:
    who = (context.run.tags.get(USER_TAG) or operator or "").strip()
    if not who:
        raise dg.Failure(description="Who is acting? Set 'operator' in the run config (this run has no "
                                     f"{USER_TAG} tag); every operator action is audited by name.")
    return Actor(who, "dagster", context.run.run_id)


def _day(value: str):  # noqa: ANN202 - date | None
    from datetime import date

    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise dg.Failure(description=f"{value!r} is not a day (YYYY-MM-DD)") from None


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> dg.MetadataValue:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows[:100]:
        cells = (mask_identity_numbers(str(c if c is not None else "")).replace("|", "/")[:300] for c in row)
        lines.append("| " + " | ".join(cells) + " |")
    return dg.MetadataValue.md("\n".join(lines) if rows else "Nothing.")


def _clients(amili_se: AmiliSeResource, amili_no: AmiliNoResource) -> dict[Market, Any]:
    return {Market.SE: amili_se.connection().client(), Market.NO: amili_no.connection().client()}


@dg.op(pool=WRITER_POOL, description="Send rejected registrations again; look unclear ones up at Amili first.")
def retry_invoices_op(context: dg.OpExecutionContext, config: RetryInvoicesConfig, warehouse: WarehouseResource,
                      creditors: CreditorsResource, amili_se: AmiliSeResource,
                      amili_no: AmiliNoResource) -> dg.Output:
    selection = RetrySelection(invoice_keys=tuple(config.invoice_keys), creditor=config.creditor or None,
                               message=config.message or None, answered_from=_day(config.answered_from),
                               answered_until=_day(config.answered_until), everything=config.all_rejected_or_unclear)
    actor = _actor(context, config.operator)
    try:
        with warehouse.open(read_only=config.dry_run, log=context.log.warning) as wh:
            if config.dry_run:
                result = plan_retry(wh, selection, creditors=creditors.load())
            else:
                result = retry_registrations(
                    wh, selection=selection, actor=actor, reason=config.reason, creditors=creditors.load(),
                    clients=_clients(amili_se, amili_no), wait_for_batches_s=config.wait_for_batches_s,
                    progress=context.log.info)
    except OperatorInputError as exc:
        raise dg.Failure(description=f"Not done: {exc}") from None
    rows = [(i.invoice_key, i.market, i.state_before, i.plan if result.dry_run else i.state_after,
             i.answer_before if result.dry_run else i.answer_after) for i in result.items]
    if result.open_items and not result.dry_run:
        context.log.warning(f"{len(result.open_items)} invoice(s) not registered yet (rejected again, unclear, or "
                            "waiting for a batch): see the output metadata and `amili-pipelines show`")
    return dg.Output(None, metadata={
        "dry_run": result.dry_run, "selection": result.selection, "invoices": len(result.items),
        "not_registered": len(result.open_items) if not result.dry_run else 0,
        "skipped": dg.MetadataValue.md("\n".join(f"- {k}: {why}" for k, why in result.skipped) or "None."),
        "invoices_table": _table(("invoice", "market", "was", "plan" if result.dry_run else "now", "Amili's answer"),
                                 rows),
    })


def _case_op(command: OperatorAction) -> dg.OpDefinition:
    @dg.op(name=f"{command.value}_cases_op", pool=WRITER_POOL,
           description=f"{command.value.capitalize()} the cases of registered invoices, once, with an audit entry.")
    def op(context: dg.OpExecutionContext, config: CaseCommandConfig, warehouse: WarehouseResource,
           creditors: CreditorsResource, amili_se: AmiliSeResource, amili_no: AmiliNoResource) -> dg.Output:
        actor = _actor(context, config.operator)
        try:
            with warehouse.open(log=context.log.warning) as wh:
                result = command_cases(wh, command=command, invoice_keys=config.invoice_keys, actor=actor,
                                       reason=config.reason, creditors=creditors.load(),
                                       clients=_clients(amili_se, amili_no))
        except OperatorInputError as exc:
            raise dg.Failure(description=f"Not done: {exc}") from None
        if result.open_items:
            context.log.warning(f"{len(result.open_items)} not done at Amili: see the output metadata")
        return dg.Output(None, metadata={
            "invoices": len(result.items), "not_done": len(result.open_items),
            "invoices_table": _table(("invoice", "market", "case", "outcome", "Amili's answer"),
                                     [(i.invoice_key, i.market, i.case_id, i.outcome, i.answer) for i in result.items]),
        })

    return op


_TAGS = {"amili/stage": "operate", "amili/operator_action": "true"}


@dg.job(name="retry_invoices", tags=_TAGS,
        description="Operator: send rejected registrations again (unclear ones are looked up at Amili first; a "
                    "Norwegian one its finished batch left unplaced, named by key, once its batch is checked again). "
                    "Dry run lists what would happen. Audited: who, why, Amili's answer.")
def retry_invoices() -> None:
    retry_invoices_op()


def _case_job(command: OperatorAction, description: str) -> dg.JobDefinition:
    op = _case_op(command)

    @dg.job(name=f"{command.value}_cases", tags=_TAGS, description=description)
    def job() -> None:
        op()

    return job


withdraw_cases = _case_job(OperatorAction.WITHDRAW, "Operator: withdraw registered invoices' cases (Sweden: creditor "
                                                   "cancellation; Norway: WithdrawCase), once each. Audited.")
pause_cases = _case_job(OperatorAction.PAUSE, "Operator: pause Norwegian cases (Sweden has no pause). Audited.")
resume_cases = _case_job(OperatorAction.RESUME, "Operator: resume paused Norwegian cases. Audited.")

OPERATOR_JOBS = [retry_invoices, withdraw_cases, pause_cases, resume_cases]
