"""Developer tools that talk to a running stack (local or deployed) as a client does.

No Lambda function ships this package (deploy/function/Makefile's PACKAGES); it imports nothing
of the product or of local/.
"""
