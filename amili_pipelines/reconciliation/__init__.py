"""Following every case until the money is home (use cases, no Dagster).

* :mod:`.cases` — ``sync_cases``: every changed case, both markets, into ``cases``
* :mod:`.settlements` — ``store_settlements``: settlement / payout-specification lines and payouts
* :mod:`.batches` — ``record_finished_batches``: Norwegian batch outcomes (registration and actions)
* :mod:`.actions` — ``report_back_to_amili``: paid / credited / cancelled in the books → Amili, exactly once
* :mod:`.reconcile` — ``reconcile``: claimed vs paid out per case, discrepancies
* :mod:`.polling` — what changed at Amili since a sensor cursor (the sensors' API side)
* :mod:`.demo` — ``run_followup_cycle``: the demo's headless follow-up
"""
