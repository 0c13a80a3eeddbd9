"""SLA rules without I/O: business calendars, availability credits and response-time due dates.

Kept free of the database and HTTP so the billing run, the API and the tests all apply exactly
the same arithmetic.
"""
