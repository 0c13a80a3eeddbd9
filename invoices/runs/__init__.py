"""The month-end billing run: a queue of per-contract jobs that any number of workers share."""
