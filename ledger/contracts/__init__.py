"""Contracts: one customer's subscription to one plan version."""
