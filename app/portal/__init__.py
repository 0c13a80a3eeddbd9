"""The customers' web portal: a static page that uses the customer's own token on the API."""
