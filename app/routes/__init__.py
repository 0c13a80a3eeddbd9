"""HTTP routes, one module per resource. Routes stay thin: parse, authorise, call a service."""
