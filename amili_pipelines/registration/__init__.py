"""Registration: hand each valid invoice to Amili exactly once (the outbox and its engine)."""
