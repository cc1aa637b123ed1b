"""Following every case until the money is home (use cases, no Dagster, no SQL).

* :mod:`.cases` — ``sync_cases``: every changed case, both markets
* :mod:`.settlements` — ``store_settlements``: settlement / payout-specification lines and payouts
* :mod:`.actions` — ``report_back_to_amili``: paid / credited / cancelled in the books → Amili, exactly once;
  ``confirm_action_batches``: Norwegian payment / correction batch outcomes
* :mod:`.reconcile` — ``reconcile``: claimed vs paid out per case, discrepancies
* :mod:`.polling` — what changed at Amili since a sensor cursor (the sensors' API side)
"""
