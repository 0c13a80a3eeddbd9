"""Customers: who is billed, where, in which time zone and holiday region, on which terms."""
