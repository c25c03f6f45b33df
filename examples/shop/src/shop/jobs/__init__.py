"""The durable job queue (jobs table, claims with leases, retries, dead letter) and its worker."""
