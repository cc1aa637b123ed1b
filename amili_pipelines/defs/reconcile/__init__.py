"""Following every case until the money is home: sensors, reconciliation assets, checks, schedules."""
