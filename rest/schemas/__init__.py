"""What clients send (…Request) and get back (…Out), one module per resource, beside
``shared`` (the strict base, paging, ids). Nothing is re-exported here: a function loads only its
own resource's models (only the users function loads the email validator). Stored shapes live in
common/models.py."""
