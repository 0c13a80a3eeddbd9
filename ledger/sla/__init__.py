"""SLAs: availability credits, first-response times and authorized contacts.

`calendar`, `availability` and `response` are the rules without I/O, kept free of the database
and HTTP so the billing run, the API and the tests all apply exactly the same arithmetic.
`models`, `incidents`, `tickets` and `contacts` record the facts and apply those rules to them.
"""
