"""Competition tests: each builds its own queue and results repos on the shared emulator,
with a clock the test sets (phases are never tested by sleeping)."""
